package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedcrypt/fedcrypt/vault"
)

// keygenFor runs fedcrypt keygen into dir/name and returns the result.
func keygenFor(t *testing.T, dir, name string, extra ...string) keygenResult {
	t.Helper()
	r := runCLI(t, dir, append([]string{"keygen", "-o", name, "--json"}, extra...)...)
	if r.code != 0 {
		t.Fatalf("keygen: exit %d: %s", r.code, r.stderr)
	}
	var res keygenResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("keygen --json: %v\n%s", err, r.stdout)
	}
	res.Identity = filepath.Join(dir, res.Identity)
	return res
}

func TestKeygen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := runCLI(t, dir, "keygen", "-o", "alice")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	idPath := filepath.Join(dir, "alice", identityFileName)
	id, err := vault.ReadIdentityFile(idPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(idPath)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("identity file mode: %v, %v", fi, err)
	}
	recip, _ := os.ReadFile(filepath.Join(dir, "alice", recipientFileName))
	sign, _ := os.ReadFile(filepath.Join(dir, "alice", signingKeyFileName))
	if strings.TrimSpace(string(recip)) != id.Recipient().String() {
		t.Errorf("recipient.txt %q, identity's recipient %s", recip, id.Recipient())
	}
	if strings.TrimSpace(string(sign)) != vault.FormatSigningKey(id.SigningPublicKey()) {
		t.Errorf("signing-key.pub %q does not match the key derived from the identity", sign)
	}
	for _, want := range []string{id.Recipient().String(), vault.FormatSigningKey(id.SigningPublicKey())} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output does not print %s:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout+r.stderr, "AGE-SECRET-KEY") {
		t.Error("keygen printed the secret key")
	}
	// The identity file is nothing but a standard age identity file.
	raw, _ := os.ReadFile(idPath)
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		if !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, "AGE-SECRET-KEY-1") {
			t.Errorf("identity file holds a non-age line %.20q…", line)
		}
	}

	again := runCLI(t, dir, "keygen", "-o", "alice")
	wantOneLineError(t, again, "exists", "refusing to overwrite")
	if after, _ := os.ReadFile(idPath); string(after) != string(raw) {
		t.Error("a second keygen changed the identity file")
	}

	pq := keygenFor(t, dir, "pq", "--pq")
	if !strings.HasPrefix(pq.Recipient, "age1pq1") || !pq.PostQuantum {
		t.Errorf("--pq recipient %.12s…, post_quantum %v", pq.Recipient, pq.PostQuantum)
	}
}

func TestKeygenPassphrase(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pass.txt"), []byte("s3cret words\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	res := keygenFor(t, dir, "bob", "--passphrase-file", "pass.txt", "--work-factor", "10")
	if !res.Protected || filepath.Base(res.Identity) != protectedIdentityFileName {
		t.Fatalf("protected keygen result %+v", res)
	}
	raw, err := os.ReadFile(res.Identity)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(raw), "age-encryption.org/v1\n-> scrypt ") {
		t.Fatalf("protected identity is not a passphrase age file: %.40q", raw)
	}
	id, err := vault.ReadIdentityFile(res.Identity, func() ([]byte, error) { return []byte("s3cret words"), nil })
	if err != nil {
		t.Fatal(err)
	}
	if id.Recipient().String() != res.Recipient || vault.FormatSigningKey(id.SigningPublicKey()) != res.SigningKey {
		t.Error("protected identity does not match the printed public parts")
	}
	// The passphrase from stdin works the same way.
	r := runCLIInput(t, dir, []byte("from stdin\n"), "keygen", "-o", "carol", "--passphrase-file", "-", "--work-factor", "10")
	if r.code != 0 {
		t.Fatalf("passphrase on stdin: %s", r.stderr)
	}
	if _, err := vault.ReadIdentityFile(filepath.Join(dir, "carol", protectedIdentityFileName),
		func() ([]byte, error) { return []byte("from stdin"), nil }); err != nil {
		t.Fatal(err)
	}
}
