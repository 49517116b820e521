package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedcrypt/fedcrypt/internal/pki"
	"github.com/fedcrypt/fedcrypt/internal/provision"
	"github.com/fedcrypt/fedcrypt/vault"
)

func TestKeygenCSR(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := runCLI(t, dir, "keygen", "--csr", "--member", "st-mary", "--host", "fl.st-mary.example", "-o", "m")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, "AGE-SECRET-KEY") || strings.Contains(r.stdout+r.stderr, "PRIVATE KEY") {
		t.Error("keygen --csr printed key material")
	}
	raw, err := os.ReadFile(filepath.Join(dir, "m", provision.FileTLSKey))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(raw), "age-encryption.org/v1") {
		t.Fatal("the TLS key is not age-encrypted at rest")
	}
	id, err := vault.ReadIdentityFile(filepath.Join(dir, "m", identityFileName), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pki.ReadKey(filepath.Join(dir, "m", provision.FileTLSKey), id); err != nil {
		t.Fatalf("the member's identity does not open its TLS key: %v", err)
	}
	csr, err := os.ReadFile(filepath.Join(dir, "m", csrFileName))
	if err != nil {
		t.Fatal(err)
	}
	req, err := pki.ParseRequest(csr)
	if err != nil {
		t.Fatal(err)
	}
	if req.Subject.Member != "st-mary" || strings.Join(req.Subject.Hosts, ",") != "fl.st-mary.example" {
		t.Errorf("request names %+v", req.Subject)
	}
	again := runCLI(t, dir, "keygen", "--csr", "--member", "st-mary", "-o", "m")
	wantOneLineError(t, again, "refusing to overwrite")
	for _, args := range [][]string{
		{"keygen", "--member", "a", "-o", "x"},
		{"keygen", "--csr", "-o", "x"},
		{"keygen", "--csr", "--member", "a", "--aggregator", "--host", "h", "-o", "x"},
		{"keygen", "--csr", "--aggregator", "-o", "x"},
	} {
		r := runCLI(t, dir, args...)
		wantOneLineError(t, r, "--")
		if r.code != 2 {
			t.Errorf("%v: exit %d, want 2", args, r.code)
		}
	}
}

func TestInitProjectAndCARefuse(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	o := onboard(t, dir, 1)
	r := runCLI(t, dir, "init", "--project", o.coord("fed.yaml"), "--threshold", "3", "-o", "other")
	wantOneLineError(t, r, "--threshold belongs in the project file")
	r = runCLI(t, dir, "init", "--project", o.coord("fed.yaml"), "-o", o.coord("fed"))
	wantOneLineError(t, r, "exists", "never overwrites")

	// A malformed signing key names the file, the line, the member and the
	// field.
	text, err := os.ReadFile(filepath.Join(dir, o.coord("fed.yaml")))
	if err != nil {
		t.Fatal(err)
	}
	key := readTrim(t, filepath.Join(dir, "b", signingKeyFileName))
	bad := strings.Replace(string(text), key, "ed25519:AAAA", 1)
	if err := os.WriteFile(filepath.Join(dir, o.coord("bad.yaml")), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	line := 0
	for i, l := range strings.Split(bad, "\n") {
		if strings.Contains(l, "ed25519:AAAA") {
			line = i + 1
		}
	}
	r = runCLI(t, dir, "init", "--project", o.coord("bad.yaml"), "-o", "other")
	wantOneLineError(t, r, fmt.Sprintf("bad.yaml:%d:", line), `member "b": signing_key:`)

	aggID := o.coord("aggregator", identityFileName)
	sign := func(csr, out string) result {
		return runCLI(t, dir, "ca", "sign", "--project", o.coord("fed.yaml"), "--ca", o.coord("ca"), "-i", aggID, "--csr", csr, "-o", out)
	}
	runOK(t, dir, "keygen", "--csr", "--member", "z", "-o", "z")
	wantOneLineError(t, sign(filepath.Join("z", csrFileName), "z.crt"), `member "z" is not in project`)
	runOK(t, dir, "keygen", "--csr", "--member", "a", "--host", "a.example.org", "-o", "a2")
	wantOneLineError(t, sign(filepath.Join("a2", csrFileName), "a2.crt"), `host "a.example.org"`)
	runOK(t, dir, "keygen", "--csr", "--aggregator", "--host", "evil.example.org", "-o", "evil")
	wantOneLineError(t, sign(filepath.Join("evil", csrFileName), "evil.crt"), "aggregator", `host "evil.example.org"`)
	wantOneLineError(t, sign(filepath.Join("a", csrFileName), o.coord("issued", "a.crt")), "exists")
	stranger := filepath.Join("z", identityFileName)
	r = runCLI(t, dir, "ca", "sign", "--project", o.coord("fed.yaml"), "--ca", o.coord("ca"), "-i", stranger, "--csr", filepath.Join("a", csrFileName), "-o", "x.crt")
	wantOneLineError(t, r, "--ca", "ca.key.age")
	r = runCLI(t, dir, "ca", "init", "-i", aggID, "-o", o.coord("ca"))
	wantOneLineError(t, r, "refusing to replace a CA")
	for _, p := range []string{"z.crt", "a2.crt", "evil.crt", "x.crt"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
			t.Errorf("%s was written by a refused ca sign", p)
		}
	}
}
