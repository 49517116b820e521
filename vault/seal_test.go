package vault

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSealRoundTrip(t *testing.T) {
	dir := t.TempDir()
	writer, auditor := mustIdentity(t), mustIdentity(t)
	path := filepath.Join(dir, "checkpoint.age")
	payload := []byte(`{"round":3,"weights":[0.25,-1.5]}`)
	if err := Seal(path, "checkpoint", payload, writer.SigningKey(), writer.Recipient(), auditor.Recipient()); err != nil {
		t.Fatal(err)
	}
	for _, reader := range []*Identity{writer, auditor} {
		got, err := Unseal(path, "checkpoint", writer.SigningPublicKey(), reader)
		if err != nil || !bytes.Equal(got, payload) {
			t.Fatalf("unseal as %s: %q, %v", reader, got, err)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("sealed file mode %v, want 0600", fi.Mode().Perm())
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("weights")) {
		t.Error("sealed file holds its payload in the clear")
	}

	// Overwrite: the second version replaces the first and nothing is left
	// beside it.
	if err := Seal(path, "checkpoint", []byte("v2"), writer.SigningKey(), writer.Recipient()); err != nil {
		t.Fatal(err)
	}
	if got, err := Unseal(path, "checkpoint", writer.SigningPublicKey(), writer); err != nil || string(got) != "v2" {
		t.Fatalf("second version: %q, %v", got, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after two seals, want 1", len(entries))
	}
}

func TestUnsealRejects(t *testing.T) {
	writer, other := mustIdentity(t), mustIdentity(t)
	payload := []byte("share for member 2")
	good, err := SealBytes("share", payload, writer.SigningKey(), other.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	plain, err := frameSealed("share", payload, writer.SigningKey())
	if err != nil {
		t.Fatal(err)
	}
	// reseal re-encrypts a modified frame: age's integrity holds, only the
	// signature can catch the change.
	reseal := func(mod func([]byte) []byte) []byte {
		ct, err := EncryptBytes(mod(bytes.Clone(plain)), other.Recipient())
		if err != nil {
			t.Fatal(err)
		}
		return ct
	}
	payloadAt := len(sealMagic) + 1 + len("share") + ed25519.PublicKeySize + 8
	forged, err := frameSealed("share", payload, other.SigningKey())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		sealed []byte
		kind   string
		writer ed25519.PublicKey
		id     *Identity
		want   error
		frag   string
	}{
		{"wrong reader", good, "share", writer.SigningPublicKey(), writer, ErrNoIdentityMatch, ""},
		{"wrong expected writer", good, "share", other.SigningPublicKey(), other, ErrBadSignature, "written by"},
		{"wrong kind", good, "ledger", writer.SigningPublicKey(), other, ErrBadSignature, `holds a "share"`},
		{"payload byte flipped", reseal(func(b []byte) []byte { b[payloadAt] ^= 1; return b }), "share", writer.SigningPublicKey(), other, ErrBadSignature, "signature"},
		{"signature byte flipped", reseal(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), "share", writer.SigningPublicKey(), other, ErrBadSignature, "signature"},
		{"signed by another key claiming the writer", reseal(func(b []byte) []byte {
			copy(forged[len(sealMagic)+1+len("share"):], writer.SigningPublicKey())
			return forged
		}), "share", writer.SigningPublicKey(), other, ErrBadSignature, "signature"},
		{"frame truncated", reseal(func(b []byte) []byte { return b[:len(b)-10] }), "share", writer.SigningPublicKey(), other, ErrCorrupt, "length"},
		{"length overflow", reseal(func(b []byte) []byte {
			binary.BigEndian.PutUint64(b[payloadAt-8:], 1<<63)
			return b
		}), "share", writer.SigningPublicKey(), other, ErrCorrupt, "length"},
		{"not a sealed frame", reseal(func([]byte) []byte { return []byte("x,y\n1,2\n") }), "share", writer.SigningPublicKey(), other, ErrCorrupt, "not a fedcrypt sealed file"},
		{"age damaged", good[:len(good)-5], "share", writer.SigningPublicKey(), other, ErrCorrupt, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := UnsealBytes(tt.sealed, tt.kind, tt.writer, tt.id)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.frag) {
				t.Fatalf("payload %q, error %v; want %v mentioning %q", got, err, tt.want, tt.frag)
			}
			if tt.kind != "share" && strings.Contains(err.Error(), "signature") {
				t.Errorf("a file of another kind is reported as a bad signature: %v", err)
			}
		})
	}
	if got, err := UnsealBytes(good, "share", writer.SigningPublicKey(), other); err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("the good sealed share: %q, %v", got, err)
	}
}

func TestSealBadArguments(t *testing.T) {
	dir := t.TempDir()
	id := mustIdentity(t)
	pid, err := NewPassphraseIdentity([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, kind string
		signer           ed25519.PrivateKey
		rs               []Recipient
		frag             string
	}{
		{"empty kind", filepath.Join(dir, "a.age"), "", id.SigningKey(), []Recipient{id.Recipient()}, "length must be in [1, 255]"},
		{"long kind", filepath.Join(dir, "a.age"), strings.Repeat("k", 256), id.SigningKey(), []Recipient{id.Recipient()}, "length must be in [1, 255]"},
		{"passphrase identity signs", filepath.Join(dir, "a.age"), "ledger", pid.SigningKey(), []Recipient{id.Recipient()}, "no signing key"},
		{"no recipients", filepath.Join(dir, "a.age"), "ledger", id.SigningKey(), nil, "no recipients"},
		{"missing directory", filepath.Join(dir, "nope", "a.age"), "ledger", id.SigningKey(), []Recipient{id.Recipient()}, "nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Seal(tc.path, tc.kind, []byte("p"), tc.signer, tc.rs...)
			if err == nil || !strings.Contains(err.Error(), tc.frag) {
				t.Fatalf("error %v, want one containing %q", err, tc.frag)
			}
		})
	}
	if _, err := Unseal(filepath.Join(dir, "missing.age"), "ledger", id.SigningPublicKey(), id); err == nil ||
		!strings.Contains(err.Error(), "missing.age") || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("unseal a missing file: %v", err)
	}
}

func TestSignVerify(t *testing.T) {
	a, b := mustIdentity(t), mustIdentity(t)
	msg := []byte("config hash, round 4, nonce")
	sig := Sign(a.SigningKey(), "fedcrypt/upload", msg)
	if err := Verify(a.SigningPublicKey(), "fedcrypt/upload", msg, sig); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		pub     ed25519.PublicKey
		context string
		msg     []byte
	}{
		{"other key", b.SigningPublicKey(), "fedcrypt/upload", msg},
		{"other context", a.SigningPublicKey(), "fedcrypt/decryption-set", msg},
		{"other message", a.SigningPublicKey(), "fedcrypt/upload", []byte("config hash, round 5, nonce")},
		{"short key", a.SigningPublicKey()[:5], "fedcrypt/upload", msg},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Verify(tc.pub, tc.context, tc.msg, sig); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("Verify = %v, want ErrBadSignature", err)
			}
		})
	}
	// A sealed-file signature is not a valid Sign signature (and back).
	if err := Verify(a.SigningPublicKey(), "fedcrypt/upload", msg, Sign(a.SigningKey(), sealContext, msg)); err == nil {
		t.Error("a signature under the sealed-file context verifies under another context")
	}
}

func TestSigningKeyText(t *testing.T) {
	id := mustIdentity(t)
	s := FormatSigningKey(id.SigningPublicKey())
	got, err := ParseSigningKey(s)
	if err != nil || !got.Equal(id.SigningPublicKey()) {
		t.Fatalf("ParseSigningKey(%q) = %v, %v", s, got, err)
	}
	for _, bad := range []string{"", "ed25519:", "ed25519:AAAA", s[len("ed25519:"):], s + "A", "ed25519:" + strings.Repeat("!", 44)} {
		if _, err := ParseSigningKey(bad); err == nil {
			t.Errorf("ParseSigningKey(%q) succeeded", bad)
		}
	}
}

func TestSealOverDirectoryFails(t *testing.T) {
	dir := t.TempDir()
	id := mustIdentity(t)
	// The destination is a non-empty directory: the rename fails, the error
	// names it, and no temporary file is left behind.
	dst := filepath.Join(dir, "ledger.age")
	if err := os.MkdirAll(filepath.Join(dst, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	err := Seal(dst, "ledger", []byte("v1"), id.SigningKey(), id.Recipient())
	if err == nil || !strings.Contains(err.Error(), dst) {
		t.Fatalf("seal over a directory: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %v after a failed seal, want only the directory", entries)
	}
}
