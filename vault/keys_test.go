package vault

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	xhkdf "golang.org/x/crypto/hkdf"
)

// The key pair printed in age-keygen's usage text (filippo.io/age v1.3.2).
const (
	publishedSecret    = "AGE-SECRET-KEY-1N9JEPW6DWJ0ZQUDX63F5A03GX8QUW7PXDE39N8UYF82VZ9PC8UFS3M7XA9"
	publishedRecipient = "age1lvyvwawkr0mcnnnncaghunadrqkmuf9e6507x9y920xxpp866cnql7dp2z"
)

// testWorkFactor keeps scrypt cheap in tests that do not measure it.
const testWorkFactor = 10

func mustIdentity(t testing.TB) *Identity {
	t.Helper()
	id, err := GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestParseIdentityPublishedKey(t *testing.T) {
	id, err := ParseIdentity(strings.NewReader("# a comment\n\n" + publishedSecret + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := id.Recipient().String(); got != publishedRecipient {
		t.Errorf("recipient %s, want %s", got, publishedRecipient)
	}
	// The signing key, recomputed with another HKDF implementation
	// (golang.org/x/crypto/hkdf) from the documented derivation.
	seed := make([]byte, ed25519.SeedSize)
	if _, err := io.ReadFull(xhkdf.New(sha256.New, []byte(publishedSecret), nil, []byte(signingKeyInfo)), seed); err != nil {
		t.Fatal(err)
	}
	want := ed25519.NewKeyFromSeed(seed)
	if !want.Equal(id.SigningKey()) {
		t.Errorf("signing key %s, want %s", FormatSigningKey(id.SigningPublicKey()), FormatSigningKey(want.Public().(ed25519.PublicKey)))
	}
	if signingKeyInfo != "fedcrypt.org/vault/v1/ed25519-signing-key" {
		t.Errorf("signing key label changed to %q: every member's signing key would change", signingKeyInfo)
	}
}

func TestIdentityNeverPrintsSecret(t *testing.T) {
	id, err := ParseIdentity(strings.NewReader(publishedSecret))
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(format, id)
		if strings.Contains(out, "SECRET") || !strings.Contains(out, publishedRecipient) {
			t.Errorf("%s of an Identity = %q, want only its recipient", format, out)
		}
	}
}

func TestIdentityFileSeveralKeys(t *testing.T) {
	a, b := mustIdentity(t), mustIdentity(t)
	pq, err := GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	text := "# three keys\n" + a.secrets[0] + "\n\n" + b.secrets[0] + "\r\n" + pq.secrets[0] + "\n"
	id, err := ParseIdentity(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(id.Recipients()); n != 3 {
		t.Fatalf("%d recipients, want 3", n)
	}
	if !id.SigningKey().Equal(a.SigningKey()) {
		t.Error("signing key is not derived from the first key of the file")
	}
	// A file encrypted to the second or the third key opens with the file.
	for _, r := range []Recipient{b.Recipient(), pq.Recipient()} {
		ct, err := EncryptBytes([]byte("row"), r)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := DecryptBytes(ct, id); err != nil || string(got) != "row" {
			t.Errorf("decrypt file for %s with the three-key identity: %q, %v", abbreviate(r.String()), got, err)
		}
	}
}

func TestParseIdentityErrors(t *testing.T) {
	secret := publishedSecret
	broken := secret[:len(secret)-1] + "Q"
	tests := []struct {
		name, text, want string
	}{
		{"empty", "", "no identities found"},
		{"comments only", "# nothing\n\n", "no identities found"},
		{"recipient", publishedRecipient + "\n", "line 1: a recipient"},
		{"bad checksum", "# c\n" + broken + "\n", "line 2: malformed age secret key"},
		{"ssh", "-----BEGIN OPENSSH PRIVATE KEY-----\n", "SSH keys are not supported"},
		{"plugin", "AGE-PLUGIN-YUBIKEY-1XYZ\n", "plugin identities are not supported"},
		{"garbage", secret + "\nhello world\n", "line 2: not an age secret key"},
		{"invalid utf8", "\xff\xfe\n", "line 1: not valid UTF-8"},
		{"too long", strings.Repeat("#", maxKeyFileSize+10), "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseIdentity(strings.NewReader(tt.text))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "AGE-SECRET-KEY-1N9") || strings.Contains(err.Error(), broken[20:]) {
				t.Errorf("error %q echoes key material", err)
			}
		})
	}
}

func TestIdentityFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	id := mustIdentity(t)

	plain := filepath.Join(dir, "plain.txt")
	if err := WriteIdentityFile(plain, id, nil, 0); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(plain)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("identity file mode %v, want 0600", fi.Mode().Perm())
	}
	got, err := ReadIdentityFile(plain, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Recipient().String() != id.Recipient().String() || !got.SigningKey().Equal(id.SigningKey()) {
		t.Error("plain identity file does not read back as the same identity")
	}
	if err := WriteIdentityFile(plain, id, nil, 0); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("overwriting an identity file: %v, want an 'exists' error", err)
	}

	enc := filepath.Join(dir, "protected.age")
	pass := []byte("correct horse battery staple")
	if err := WriteIdentityFile(enc, id, pass, testWorkFactor); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(raw, []byte("age-encryption.org/v1\n-> scrypt ")) || bytes.Contains(raw, []byte("SECRET")) {
		t.Fatalf("passphrase-protected identity file is not an scrypt age file:\n%.80q", raw)
	}
	got, err = ReadIdentityFile(enc, func() ([]byte, error) { return pass, nil })
	if err != nil {
		t.Fatal(err)
	}
	if got.Recipient().String() != id.Recipient().String() || !got.SigningKey().Equal(id.SigningKey()) {
		t.Error("protected identity file does not read back as the same identity")
	}

	errTests := []struct {
		name string
		pass func() ([]byte, error)
		want error
		frag string
	}{
		{"no passphrase", nil, ErrPassphraseRequired, enc},
		{"wrong passphrase", func() ([]byte, error) { return []byte("wrong"), nil }, ErrWrongPassphrase, enc},
		{"passphrase source fails", func() ([]byte, error) { return nil, errors.New("stdin closed") }, nil, "stdin closed"},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadIdentityFile(enc, tt.pass)
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) || !strings.Contains(err.Error(), tt.frag) {
				t.Fatalf("error %v, want %v mentioning %q", err, tt.want, tt.frag)
			}
		})
	}
	if _, err := ReadIdentityFile(filepath.Join(dir, "missing.txt"), nil); err == nil ||
		!strings.Contains(err.Error(), "missing.txt") || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing identity file: %v", err)
	}
}

func TestAbsurdWorkFactorRefusedBeforeWork(t *testing.T) {
	dir := t.TempDir()
	id := mustIdentity(t)
	enc := filepath.Join(dir, "key.age")
	pass := []byte("pw")
	if err := WriteIdentityFile(enc, id, pass, testWorkFactor); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(enc)
	if err != nil {
		t.Fatal(err)
	}
	// "-> scrypt SALT 10" becomes "-> scrypt SALT 40": 2^40 scrypt would
	// take days and terabytes; it must be refused at once.
	lines := bytes.SplitN(raw, []byte("\n"), 3)
	lines[1] = bytes.Replace(lines[1], []byte(" 10"), []byte(" 40"), 1)
	if err := os.WriteFile(enc, bytes.Join(lines, []byte("\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = ReadIdentityFile(enc, func() ([]byte, error) { return pass, nil })
	if err == nil || !strings.Contains(err.Error(), "work factor 2^40 exceeds the limit 2^22") || !strings.Contains(err.Error(), enc) {
		t.Fatalf("error %v, want the work factor named", err)
	}
}

// TestDefaultWorkFactorFile writes and reads a protected identity file at
// age's default scrypt cost, as keygen does without --work-factor.
func TestDefaultWorkFactorFile(t *testing.T) {
	if testing.Short() {
		t.Skip("scrypt at 2^18 takes about a second per operation")
	}
	path := filepath.Join(t.TempDir(), "key.age")
	id := mustIdentity(t)
	if err := WriteIdentityFile(path, id, []byte("pw"), 0); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte(" 18\n")) {
		t.Fatalf("header does not carry work factor 18:\n%.120q", raw)
	}
	got, err := ReadIdentityFile(path, func() ([]byte, error) { return []byte("pw"), nil })
	if err != nil || got.Recipient().String() != id.Recipient().String() {
		t.Fatalf("read back: %v", err)
	}
}

func TestPassphraseArguments(t *testing.T) {
	for _, tc := range []struct {
		name string
		pass string
		logN int
		want string
	}{
		{"empty", "", 10, "passphrase is empty"},
		{"work factor too large", "pw", 23, "scrypt work factor 23: must be in [1, 22]"},
		{"work factor negative", "pw", -1, "scrypt work factor -1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewPassphraseRecipient([]byte(tc.pass), tc.logN); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := NewPassphraseIdentity(nil); err == nil {
		t.Error("an empty passphrase identity was accepted")
	}
	pid, err := NewPassphraseIdentity([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	if pid.SigningKey() != nil || pid.SigningPublicKey() != nil || pid.Recipient().String() != "" || pid.String() != "vault.Identity(passphrase)" {
		t.Errorf("passphrase identity has public parts: %v", pid)
	}
}

func TestIdentityFileTextParsesBack(t *testing.T) {
	id, err := GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	text := IdentityFileText(id)
	back, err := ParseIdentity(bytes.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if back.Recipient().String() != id.Recipient().String() || !back.SigningPublicKey().Equal(id.SigningPublicKey()) {
		t.Fatal("identity changed through its file text")
	}
}

func TestJoinIdentities(t *testing.T) {
	a, b := mustIdentity(t), mustIdentity(t)
	pass, err := NewPassphraseIdentity([]byte("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	j := JoinIdentities(a, b, pass)
	if !j.SigningKey().Equal(a.SigningKey()) || j.Recipient().String() != a.Recipient().String() {
		t.Error("the joined identity's signing key or recipient is not the first identity's")
	}
	for _, r := range []Recipient{a.Recipient(), b.Recipient()} {
		ct, err := EncryptBytes([]byte("head"), r)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := DecryptBytes(ct, j); err != nil || string(got) != "head" {
			t.Errorf("file for %s: %q, %v", abbreviate(r.String()), got, err)
		}
		if _, err := DecryptBytes(ct, JoinIdentities(pass)); err == nil {
			t.Error("a file opened with an identity it is not sealed to")
		}
	}
}
