package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fedcrypt/fedcrypt/audit"
	"github.com/fedcrypt/fedcrypt/client"
	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/internal/pki"
	"github.com/fedcrypt/fedcrypt/internal/provision"
	"github.com/fedcrypt/fedcrypt/vault"
)

// onboarding is a consortium set up as the README's onboarding section
// says: each member in its own directory (DIR/<id>) with the keys it made
// itself, and the coordinator's directory (DIR/coord) holding the project
// file, the federation, the CA and the aggregator's own keys.
type onboarding struct {
	dir     string
	members []string
}

func (o onboarding) coord(p ...string) string {
	return filepath.Join(append([]string{"coord"}, p...)...)
}

// wdbcSchema returns the embedded wdbc set's features, label and classes,
// as a coordinator would list them in the project file.
func wdbcSchema(t testing.TB) *data.Dataset {
	t.Helper()
	ds, _, err := data.LoadEmbedded("wdbc", data.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func yamlList(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func readTrim(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// onboard runs the onboarding: keygen --csr at every member, the project
// file, init --project, ca init, ca sign for every request, data split,
// and hands each member the federation, the CA certificate and its own
// certificate. Only public files move between directories.
func onboard(t testing.TB, dir string, rounds int) onboarding {
	t.Helper()
	o := onboarding{dir: dir, members: []string{"a", "b", "c"}}
	for _, m := range o.members {
		runOK(t, dir, "keygen", "--csr", "--member", m, "-o", m)
		for _, f := range []string{recipientFileName, signingKeyFileName, csrFileName} {
			copyFile(t, filepath.Join(dir, m, f), filepath.Join(dir, o.coord("incoming", m, f)))
		}
	}
	runOK(t, dir, "keygen", "--csr", "--aggregator", "--host", "localhost", "--host", "127.0.0.1", "-o", o.coord("aggregator"))

	ds := wdbcSchema(t)
	var b strings.Builder
	fmt.Fprintf(&b, "version: 1\nname: onboarding-test\naggregator:\n  recipient: %s\n  signing_key: %s\n  hosts: [localhost, 127.0.0.1]\n  csr: aggregator/tls.csr\nmembers:\n",
		readTrim(t, filepath.Join(dir, o.coord("aggregator", recipientFileName))), readTrim(t, filepath.Join(dir, o.coord("aggregator", signingKeyFileName))))
	for _, m := range o.members {
		in := filepath.Join(dir, o.coord("incoming", m))
		fmt.Fprintf(&b, "  - id: %s\n    roles: [contributor, key_holder]\n    recipient: %s\n    signing_key: %s\n    csr: incoming/%s/tls.csr\n",
			m, readTrim(t, filepath.Join(in, recipientFileName)), readTrim(t, filepath.Join(in, signingKeyFileName)), m)
	}
	fmt.Fprintf(&b, `threshold: 2
min_contributors: 2
model: logreg
dp: {epsilon: 1, delta: 1e-5, clip_norm: 1, sample_rate: 0.2}
training: {rounds: %d, local_steps: 10, lr: 0.1}
data:
  label: %s
  classes: %s
  features: %s
  bounds:
`, rounds, ds.Label, yamlList(ds.Classes), yamlList(ds.Features))
	// The features' published ranges, as a consortium declares clinical
	// ranges: the transform clamps to them and falls back to them.
	bounds, _ := data.EmbeddedBounds("wdbc")
	for _, f := range ds.Features {
		fmt.Fprintf(&b, "    %s: [%v, %v]\n", f, bounds[f][0], bounds[f][1])
	}
	if err := os.WriteFile(filepath.Join(dir, o.coord("fed.yaml")), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	runOK(t, dir, "init", "--project", o.coord("fed.yaml"), "-o", o.coord("fed"))
	aggID := o.coord("aggregator", identityFileName)
	runOK(t, dir, "ca", "init", "-i", aggID, "-o", o.coord("ca"))
	sign := func(csr, out string) {
		runOK(t, dir, "ca", "sign", "--project", o.coord("fed.yaml"), "--ca", o.coord("ca"), "-i", aggID, "--csr", csr, "-o", out)
	}
	sign(o.coord("aggregator", csrFileName), o.coord("aggregator", provision.FileTLSCert))
	for _, m := range o.members {
		sign(o.coord("incoming", m, csrFileName), o.coord("issued", m+".crt"))
	}

	// The hospitals' data, each encrypted to its own recipient; split
	// outside every party's directory, as if each hospital had its own.
	split := []string{"data", "split", "--data", "wdbc", "-o", "hospitals"}
	for _, m := range o.members {
		split = append(split, "-R", filepath.Join(m, recipientFileName))
	}
	runOK(t, dir, split...)
	for i, m := range o.members {
		if err := os.Rename(filepath.Join(dir, "hospitals", fmt.Sprintf("hospital-%d.csv.age", i+1)), filepath.Join(dir, m, "data.csv.age")); err != nil {
			t.Fatal(err)
		}
		copyFile(t, filepath.Join(dir, o.coord("fed", provision.FileFederation)), filepath.Join(dir, m, provision.FileFederation))
		copyFile(t, filepath.Join(dir, o.coord("ca", provision.FileCACert)), filepath.Join(dir, m, provision.FileCACert))
		copyFile(t, filepath.Join(dir, o.coord("issued", m+".crt")), filepath.Join(dir, m, provision.FileTLSCert))
	}
	return o
}

// memberArgs are the flags naming member m's own files, for client join
// and preflight.
func (o onboarding) memberArgs(m string) []string {
	return []string{"--config", filepath.Join(m, provision.FileFederation), "--member", m, "--identity", filepath.Join(m, identityFileName),
		"--data", filepath.Join(m, "data.csv.age"), "--ledger", filepath.Join(m, "ledger")}
}

// secrets returns byte strings that only the holder of the party's keys in
// dir has: its age identity, its signing key's seed, and its TLS private
// key, each in the encodings a careless copy would leave.
func secrets(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	id, err := vault.ReadIdentityFile(filepath.Join(dir, identityFileName), nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, line := range strings.Split(readTrim(t, filepath.Join(dir, identityFileName)), "\n") {
		if strings.HasPrefix(line, "AGE-SECRET-KEY-") {
			out["identity"] = []byte(line)
			out["identity (lower case)"] = []byte(strings.ToLower(line))
		}
	}
	if out["identity"] == nil {
		t.Fatalf("%s holds no AGE-SECRET-KEY line", filepath.Join(dir, identityFileName))
	}
	seed := id.SigningKey().Seed()
	out["signing seed"] = seed
	out["signing seed (hex)"] = []byte(hex.EncodeToString(seed))
	out["signing seed (base64)"] = []byte(base64.StdEncoding.EncodeToString(seed))
	keyPEM, err := pki.ReadKey(filepath.Join(dir, provision.FileTLSKey), id)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(keyPEM)
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	d := k.(*ecdsa.PrivateKey).D.FillBytes(make([]byte, 32))
	out["TLS key (DER)"] = block.Bytes
	out["TLS key (PEM body)"] = []byte(base64.StdEncoding.EncodeToString(block.Bytes)[:64])
	out["TLS key scalar"] = d
	out["TLS key scalar (hex)"] = []byte(hex.EncodeToString(d))
	return out
}

// holding returns the files under root that contain any of the secrets.
func holding(t testing.TB, root string, secret map[string][]byte) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for what, s := range secret {
			if bytes.Contains(b, s) {
				found = append(found, fmt.Sprintf("%s (%s)", path, what))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// TestOnboardingEndToEnd follows the onboarding walkthrough: three members
// make their own keys and requests, the coordinator builds the federation
// from a project file and signs the requests, each member's preflight
// passes against the running aggregator, and aggregator serve and three
// client join processes complete a run over mutual TLS with these keys;
// its audit log verifies with every member's witness. No member's secret
// is ever in the coordinator's directory.
func TestOnboardingEndToEnd(t *testing.T) {
	long(t, "a federation of real processes; TestDeploymentWritesTheModel runs one with -short")
	t.Parallel()
	dir := t.TempDir()
	const rounds = 10 // sim's default: the model predict scores is a trained one
	o := onboard(t, dir, rounds)
	agg := startProc(t, dir, "aggregator", "aggregator", "serve", "--config", o.coord("fed", provision.FileFederation),
		"--identity", o.coord("aggregator", identityFileName), "--ca", o.coord("ca", provision.FileCACert),
		"--listen", "127.0.0.1:0", "-o", o.coord("run"), "--timeout", "60s", "--json")
	addr := agg.waitLine(t, listening, 30*time.Second)[1]

	for _, m := range o.members {
		r := runCLI(t, dir, append([]string{"preflight", "--aggregator", addr, "--json"}, o.memberArgs(m)...)...)
		var res struct {
			OK     bool `json:"ok"`
			Checks []struct{ Name, Status, Detail string }
		}
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || r.code != 0 || !res.OK {
			t.Fatalf("preflight %s: exit %d, %v\n%s%s", m, r.code, err, r.stdout, r.stderr)
		}
		var passed []string
		for _, c := range res.Checks {
			if c.Status == "ok" {
				passed = append(passed, c.Name)
			}
		}
		if want := "config keys certificate data ledger aggregator TLS handshake health"; strings.Join(passed, " ") != want {
			t.Errorf("preflight %s passed %q, want %q", m, passed, want)
		}
	}

	clients := map[string]*proc{}
	for _, m := range o.members {
		clients[m] = startProc(t, dir, m, append([]string{"client", "join", "--aggregator", addr, "--retry-for", "30s", "--json"}, o.memberArgs(m)...)...)
	}
	agg.wait(t, 3*time.Minute)
	for _, m := range o.members {
		clients[m].wait(t, time.Minute)
	}
	var summary struct {
		Rounds int `json:"rounds"`
	}
	if err := json.Unmarshal(agg.stdout.Bytes(), &summary); err != nil || summary.Rounds != rounds {
		t.Fatalf("aggregator completed %d rounds (%v), want %d\n%s", summary.Rounds, err, rounds, agg.stderr())
	}
	fed, err := federation.Load(filepath.Join(dir, o.coord("fed", provision.FileFederation)))
	if err != nil {
		t.Fatal(err)
	}
	var ws []audit.Witness
	for _, m := range o.members {
		id, err := vault.ReadIdentityFile(filepath.Join(dir, m, identityFileName), nil)
		if err != nil {
			t.Fatal(err)
		}
		w, err := client.LoadWitness(filepath.Join(dir, m, "ledger"), fed, id)
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, w...)
	}
	run, err := audit.VerifyFile(filepath.Join(dir, o.coord("run", "audit.jsonl")), fed, audit.Options{Witnesses: ws})
	if err != nil {
		t.Fatalf("audit log does not verify: %v", err)
	}
	if len(run.Witnesses) != len(o.members) {
		t.Errorf("witnesses of %d members checked, want %d", len(run.Witnesses), len(o.members))
	}

	// The aggregator sealed the model to the members: each scores its own
	// rows with it, with its own key, checking the aggregator's signature
	// against its own copy of the config.
	scored := regexp.MustCompile(`on (\d+) labelled rows: accuracy ([0-9.]+).*auc ([0-9.]+)`)
	for _, m := range o.members {
		r := runCLI(t, dir, "predict", "--checkpoint", o.coord("run", "model.age"), "-i", filepath.Join(m, identityFileName),
			"--signer", filepath.Join(m, provision.FileFederation), "--data", filepath.Join(m, "data.csv.age"))
		g := scored.FindStringSubmatch(r.stderr + r.stdout)
		if r.code != 0 || g == nil {
			t.Fatalf("predict at %s: exit %d: %s", m, r.code, r.stderr)
		}
		if auc, _ := strconv.ParseFloat(g[3], 64); !(auc > 0.8) {
			t.Errorf("predict at %s: AUC %v on its %s rows", m, auc, g[1])
		}
	}

	// The coordinator's directory holds no member's secret; the scan does
	// find the aggregator's own, which are there.
	coord := filepath.Join(dir, "coord")
	for _, m := range o.members {
		if found := holding(t, coord, secrets(t, filepath.Join(dir, m))); len(found) > 0 {
			t.Errorf("member %s's secrets are in the coordinator's directory: %v", m, found)
		}
		if found := holding(t, filepath.Join(dir, m), secrets(t, filepath.Join(dir, m))); len(found) == 0 {
			t.Errorf("the scan finds none of member %s's secrets in its own directory", m)
		}
	}
	own := secrets(t, filepath.Join(coord, "aggregator"))
	if found := holding(t, coord, map[string][]byte{"identity": own["identity"]}); len(found) != 1 {
		t.Errorf("the aggregator's identity found in %v, want exactly its identity file", found)
	}
	for _, m := range o.members {
		if found := holding(t, filepath.Join(dir, m), own); len(found) > 0 {
			t.Errorf("the aggregator's secrets are in member %s's directory: %v", m, found)
		}
	}
}
