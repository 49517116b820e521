package vault

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"filippo.io/age/armor"
)

func TestDecryptPublishedVector(t *testing.T) {
	id, err := ReadIdentityFile("testdata/example_keys.txt", nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open("testdata/example.age", id)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "Black lives matter." {
		t.Errorf("plaintext %q, want age's published %q", got, "Black lives matter.")
	}
}

func TestParseRecipient(t *testing.T) {
	pq, err := GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, in, want string // want: error fragment, or "" for success
	}{
		{"x25519", publishedRecipient, ""},
		{"x25519 with spaces", "  " + publishedRecipient + "\n", ""},
		{"hybrid", pq.Recipient().String(), ""},
		{"bad checksum", publishedRecipient[:len(publishedRecipient)-1] + "q", "malformed age recipient"},
		{"bad hybrid", pq.Recipient().String()[:100], "malformed post-quantum"},
		{"plugin", "age1yubikey1qwerty", "plugin recipients are not supported"},
		{"tag", "age1tag1qqqq", "tagged"},
		{"x25519 data starting tag", x25519Starting("tag"), ""},
		{"x25519 data starting pq", x25519Starting("pq"), ""},
		{"secret key", publishedSecret, "this is a secret key"},
		{"ssh", "ssh-ed25519 AAAAC3Nza", "SSH keys are not supported"},
		{"empty", "", "not an age recipient"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRecipient(tt.in)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if r.String() != strings.TrimSpace(tt.in) {
					t.Errorf("String() = %q, want %q", r.String(), strings.TrimSpace(tt.in))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "N9JEPW6DWJ0") {
				t.Errorf("error %q echoes a secret key", err)
			}
		})
	}
	rs, err := ParseRecipients(strings.NewReader("# hospital and auditor\n" + publishedRecipient + "\n\n" + mustIdentity(t).Recipient().String() + "\n"))
	if err != nil || len(rs) != 2 {
		t.Fatalf("recipients file: %d recipients, %v", len(rs), err)
	}
	if _, err := ParseRecipients(strings.NewReader(publishedRecipient + "\nnope\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("bad recipients file: %v, want the line named", err)
	}
}

func TestRecipientMixingRules(t *testing.T) {
	a, b := mustIdentity(t), mustIdentity(t)
	pq1, err := GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	pq2, err := GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	pass, err := NewPassphraseRecipient([]byte("pw"), testWorkFactor)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		rs   []Recipient
		want string // "" = allowed
	}{
		{"several x25519", []Recipient{a.Recipient(), b.Recipient()}, ""},
		{"several hybrid", []Recipient{pq1.Recipient(), pq2.Recipient()}, ""},
		{"passphrase alone", []Recipient{pass}, ""},
		{"none", nil, "no recipients"},
		{"zero value", []Recipient{{}}, "zero Recipient"},
		{"passphrase and x25519", []Recipient{a.Recipient(), pass}, "passphrase recipient must be the only recipient"},
		{"hybrid and x25519", []Recipient{pq1.Recipient(), a.Recipient()}, "cannot be mixed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct, err := EncryptBytes([]byte("secret row"), tt.rs...)
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("error %v, want one containing %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// Every recipient's identity opens the file.
			ids := map[string]*Identity{a.Recipient().String(): a, b.Recipient().String(): b,
				pq1.Recipient().String(): pq1, pq2.Recipient().String(): pq2}
			for _, r := range tt.rs {
				id := ids[r.String()]
				if r.kind == kindPassphrase {
					if id, err = NewPassphraseIdentity([]byte("pw")); err != nil {
						t.Fatal(err)
					}
				}
				if got, err := DecryptBytes(ct, id); err != nil || string(got) != "secret row" {
					t.Errorf("recipient %s: %q, %v", r, got, err)
				}
			}
		})
	}
}

func TestStreamRoundTripAndDamage(t *testing.T) {
	id, other := mustIdentity(t), mustIdentity(t)
	// Three and a half 64 KiB chunks, so damage can hit a middle chunk; the
	// full suite streams 64 MiB.
	size := 3*64<<10 + 1234
	if !testing.Short() {
		size = 64<<20 + 1234
	}
	plain := make([]byte, size)
	rand.Read(plain)
	var buf bytes.Buffer
	w, err := Encrypt(&buf, id.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	for chunk := range slices.Chunk(plain, 10_000) {
		if _, err := w.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	ct := buf.Bytes()
	r, err := Decrypt(bytes.NewReader(ct), id)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("round trip: %d bytes, equal %v, err %v", len(got), bytes.Equal(got, plain), err)
	}

	headerEnd := bytes.Index(ct, []byte("\n--- ")) + 1
	flip := func(i int) []byte {
		c := bytes.Clone(ct)
		c[i] ^= 0x01
		return c
	}
	var armored bytes.Buffer
	aw := armor.NewWriter(&armored)
	aw.Write(ct)
	aw.Close()
	tests := []struct {
		name string
		ct   []byte
		id   *Identity
		want error
		frag string
	}{
		{"wrong identity", ct, other, ErrNoIdentityMatch, "X25519"},
		{"truncated at a chunk", ct[:len(ct)-1234-16], id, ErrCorrupt, "truncated"},
		{"truncated mid-chunk", ct[:len(ct)-100], id, ErrCorrupt, "modified"},
		{"payload byte flipped", flip(len(ct) - 70_000), id, ErrCorrupt, "modified"},
		{"header MAC flipped", flip(headerEnd + 6), id, ErrCorrupt, "header"},
		{"not age", []byte("P-0042,61,malignant\n1,2,3\n"), id, ErrCorrupt, "bad header"},
		{"trailing data", append(bytes.Clone(ct), 'x'), id, ErrCorrupt, ""},
		{"armored with trailing garbage", append(bytes.Clone(armored.Bytes()), "garbage\n"...), id, ErrCorrupt, "trailing data after armored file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecryptBytes(tt.ct, tt.id)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.frag) {
				t.Fatalf("error %v, want %v mentioning %q", err, tt.want, tt.frag)
			}
			if strings.Contains(err.Error(), "P-0042") {
				t.Errorf("error %q quotes the input", err)
			}
		})
	}
	if got, err := DecryptBytes(armored.Bytes(), id); err != nil || !bytes.Equal(got, plain) {
		t.Errorf("armored file: equal %v, err %v", bytes.Equal(got, plain), err)
	}
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	id := mustIdentity(t)
	csv := "x,y,label\n1,2,a\n3,4,b\n"
	plainPath := filepath.Join(dir, "rows.csv")
	if err := os.WriteFile(plainPath, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	encPath := filepath.Join(dir, "rows.csv.age")
	f, err := Create(encPath, id.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(f, csv)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	fakeAge := filepath.Join(dir, "fake.csv.age")
	if err := os.WriteFile(fakeAge, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		id         *Identity
		want       error
		frag       string
	}{
		{"plain csv", plainPath, nil, nil, ""},
		{"plain csv with identity", plainPath, id, nil, ""},
		{"age file", encPath, id, nil, ""},
		{"age file without identity", encPath, nil, ErrIdentityRequired, encPath},
		{"age file with wrong identity", encPath, mustIdentity(t), ErrNoIdentityMatch, encPath},
		{".age that is not age", fakeAge, id, ErrCorrupt, fakeAge},
		{"missing", filepath.Join(dir, "missing.csv"), id, nil, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Open(tc.path, tc.id)
			if tc.want != nil || tc.frag != "" {
				if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.frag) {
					t.Fatalf("error %v, want %v mentioning %q", err, tc.want, tc.frag)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			got, err := io.ReadAll(r)
			if err != nil || string(got) != csv {
				t.Errorf("read %q, %v; want the CSV", got, err)
			}
		})
	}
	if enc, err := IsEncrypted(encPath); err != nil || !enc {
		t.Errorf("IsEncrypted(age file) = %v, %v", enc, err)
	}
	if enc, err := IsEncrypted(plainPath); err != nil || enc {
		t.Errorf("IsEncrypted(csv) = %v, %v", enc, err)
	}
}

func TestCreateAbortLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	id := mustIdentity(t)
	path := filepath.Join(dir, "out.age")
	f, err := Create(path, id.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(f, "half a data set")
	f.Abort()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("Abort left %v in the directory", entries)
	}
	if _, err := Create(filepath.Join(dir, "no-such-dir", "x.age"), id.Recipient()); err == nil || !strings.Contains(err.Error(), "no-such-dir") {
		t.Errorf("Create in a missing directory: %v", err)
	}
	if _, err := Create(dir, id.Recipient()); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("Create over a directory: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(dir)); len(entries) != 1 {
		t.Errorf("Create over a directory left %d entries beside it", len(entries)-1)
	}
}

// x25519Starting returns a well-formed X25519 recipient ("age1" and 52
// Bech32 characters encoding 32 bytes) whose data starts with prefix.
func x25519Starting(prefix string) string {
	const charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
	data := make([]byte, 52) // 5-bit groups: 256 bits and 4 bits of padding
	for i := range data {
		data[i] = byte(i*7+3) % 32
	}
	for i, c := range []byte(prefix) {
		data[i] = byte(strings.IndexByte(charset, c))
	}
	data[51] &= 0x10 // the padding bits are zero
	return "age1" + bech32Tail("age", data, charset)
}

// bech32Tail encodes 5-bit data with its Bech32 checksum for hrp (BIP 173).
func bech32Tail(hrp string, data []byte, charset string) string {
	polymod := func(values []byte) uint32 {
		gen := [5]uint32{0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3}
		chk := uint32(1)
		for _, v := range values {
			b := chk >> 25
			chk = (chk&0x1ffffff)<<5 ^ uint32(v)
			for i := range 5 {
				if (b>>i)&1 == 1 {
					chk ^= gen[i]
				}
			}
		}
		return chk
	}
	var values []byte
	for _, c := range []byte(hrp) {
		values = append(values, c>>5)
	}
	values = append(values, 0)
	for _, c := range []byte(hrp) {
		values = append(values, c&31)
	}
	values = append(values, data...)
	mod := polymod(append(values, 0, 0, 0, 0, 0, 0)) ^ 1
	var out []byte
	for _, d := range data {
		out = append(out, charset[d])
	}
	for i := range 6 {
		out = append(out, charset[(mod>>(5*(5-i)))&31])
	}
	return string(out)
}
