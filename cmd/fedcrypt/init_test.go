package main

import (
	"crypto/tls"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/internal/provision"
	"github.com/fedcrypt/fedcrypt/transport/grpcnet"
	"github.com/fedcrypt/fedcrypt/vault"
)

func TestInitWritesAFederation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := runCLI(t, dir, "init", "--members", "a,b,c", "--threshold", "2", "-o", "fed", "--json")
	if r.code != 0 {
		t.Fatalf("init: exit %d\n%s", r.code, r.stderr)
	}
	var out struct {
		ConfigHash      string `json:"config_hash"`
		MinContributors int    `json:"min_contributors"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("--json: %v\n%s", err, r.stdout)
	}
	fedDir := filepath.Join(dir, "fed")
	fed, err := federation.Load(filepath.Join(fedDir, provision.FileFederation))
	if err != nil {
		t.Fatal(err)
	}
	if fed.Hash().String() != out.ConfigHash || fed.Threshold != 2 || out.MinContributors != 3 || len(fed.Members) != 3 {
		t.Fatalf("config: hash %s (printed %s), T %d, min-contributors %d, %d members",
			fed.Hash(), out.ConfigHash, fed.Threshold, out.MinContributors, len(fed.Members))
	}
	caPEM, err := os.ReadFile(filepath.Join(fedDir, provision.FileCACert))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range append([]federation.Party{fed.Aggregator}, fed.Members[0].Party, fed.Members[1].Party, fed.Members[2].Party) {
		pdir := filepath.Join(fedDir, p.ID)
		id, err := vault.ReadIdentityFile(filepath.Join(pdir, provision.FileIdentity), nil)
		if err != nil {
			t.Fatal(err)
		}
		if id.Recipient().String() != p.Recipient || vault.FormatSigningKey(id.SigningPublicKey()) != p.SigningKey {
			t.Errorf("%s: identity file does not hold the keys the config lists", p.ID)
		}
		creds, err := provision.LoadCredentials(filepath.Join(fedDir, provision.FileCACert), filepath.Join(pdir, provision.FileTLSCert), filepath.Join(pdir, provision.FileTLSKey), id)
		if err != nil {
			t.Fatalf("%s: %v", p.ID, err)
		}
		if _, err := tls.X509KeyPair(creds.Cert, creds.Key); err != nil {
			t.Errorf("%s: TLS key does not match its certificate: %v", p.ID, err)
		}
		cert, err := grpcnet.ParseCertificate(creds.Cert)
		if err != nil {
			t.Fatal(err)
		}
		ca, _ := grpcnet.ParseCertificate(caPEM)
		if err := cert.CheckSignatureFrom(ca); err != nil {
			t.Errorf("%s: certificate not signed by the federation CA: %v", p.ID, err)
		}
		member, err := grpcnet.MemberID(cert)
		switch {
		case p.ID == fed.Aggregator.ID && err == nil:
			t.Errorf("the aggregator's certificate names member %q", member)
		case p.ID != fed.Aggregator.ID && member != p.ID:
			t.Errorf("%s: certificate names member %q (%v)", p.ID, member, err)
		}
	}
	// No private key is on disk in the clear, and identity files are
	// readable by their owner only.
	err = filepath.WalkDir(fedDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), "PRIVATE KEY") {
			t.Errorf("%s holds a private key in the clear", path)
		}
		info, _ := d.Info()
		if d.Name() == provision.FileIdentity && info.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", path, info.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestInitCommittee: --committee names the key holders, the first members.
func TestInitCommittee(t *testing.T) {
	t.Parallel()
	fed := filepath.Join(t.TempDir(), "fed")
	if r := runIn(t, t.Context(), "init", "--members", "a,b,c,d", "--committee", "3", "--threshold", "2", "-o", fed); r.code != 0 {
		t.Fatalf("init: exit %d: %s", r.code, r.stderr)
	}
	if got := keyHolders(t, filepath.Join(fed, provision.FileFederation)); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("key holders %v, want a, b and c", got)
	}
}

// TestInsecurePresetRefusedInProduction hands the aggregator and a member a
// config that names a test preset (ring degree 2^10), as a coordinator
// could write it, and asks init for one: the binary is not a test binary,
// so all refuse.
func TestInsecurePresetRefusedInProduction(t *testing.T) {
	long(t, "builds fedcrypt")
	t.Parallel()
	dir := t.TempDir()
	if r := runCLI(t, dir, "init", "--members", "a,b,c", "-o", "fed"); r.code != 0 {
		t.Fatalf("init: %s", r.stderr)
	}
	path := filepath.Join(dir, "fed", provision.FileFederation)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["he"].(map[string]any)["preset"] = "insecure-test-compact"
	raw, _ = json.Marshal(cfg)
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	bin := releaseBinary(t)
	r := runBinary(t, bin, t.TempDir(), nil, "init", "--members", "a,b,c", "--preset", "insecure-test-compact", "-o", "fed")
	wantOneLineError(t, r, "insecure-test-compact", "for tests only")
	for _, args := range [][]string{
		{"aggregator", "serve", "--config", path, "--identity", filepath.Join(dir, "fed", "aggregator", provision.FileIdentity), "--listen", "127.0.0.1:0", "-o", "agg"},
		{"client", "join", "--config", path, "--member", "a", "--identity", filepath.Join(dir, "fed", "a", provision.FileIdentity),
			"--data", "none.age", "--ledger", "ledger", "--aggregator", "127.0.0.1:1"},
	} {
		wantOneLineError(t, runBinary(t, bin, dir, nil, args...), "insecure-test-compact", "for tests only")
	}
}
