package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fedcrypt/fedcrypt/client"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/internal/pki"
	"github.com/fedcrypt/fedcrypt/internal/provision"
	"github.com/fedcrypt/fedcrypt/vault"
)

// runVersion runs one version of an onboarded federation to its end: the
// aggregator serves config (with metrics) writing to out, before runs once
// it listens, then every member joins with its own files (args). It
// returns each member's ε as client join reported it.
func runVersion(t *testing.T, dir string, o onboarding, config, out string, members []string, args func(m string) []string,
	before func(addr, metricsURL string)) map[string]float64 {
	t.Helper()
	agg := startProc(t, dir, "aggregator "+out, "aggregator", "serve", "--config", config,
		"--identity", o.coord("aggregator", identityFileName), "--ca", o.coord("ca", provision.FileCACert),
		"--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0", "-o", out, "--timeout", "60s", "--json")
	addr := agg.waitLine(t, listening, 30*time.Second)[1]
	metricsURL := agg.waitLine(t, regexp.MustCompile(`metrics on (\S+)$`), 30*time.Second)[1]
	if before != nil {
		before(addr, metricsURL)
	}
	clients := map[string]*proc{}
	for _, m := range members {
		clients[m] = startProc(t, dir, m, append([]string{"client", "join", "--aggregator", addr, "--retry-for", "30s", "--json"}, args(m)...)...)
	}
	agg.wait(t, 3*time.Minute)
	eps := map[string]float64{}
	for _, m := range members {
		clients[m].wait(t, time.Minute)
		var res struct {
			Epsilon float64 `json:"epsilon"`
		}
		if err := json.Unmarshal(clients[m].stdout.Bytes(), &res); err != nil {
			t.Fatalf("client join %s: %v\n%s", m, err, clients[m].stdout.String())
		}
		eps[m] = res.Epsilon
	}
	return eps
}

// ledgerOf opens member m's sealed ledger with its own identity.
func ledgerOf(t *testing.T, dir, m string) (epsilon float64, runs []string, epsAt []float64) {
	t.Helper()
	id, err := vault.ReadIdentityFile(filepath.Join(dir, m, identityFileName), nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := client.ReadLedger(filepath.Join(dir, m, "ledger"), m, id)
	if err != nil {
		t.Fatalf("ledger of %s: %v", m, err)
	}
	for _, e := range l.Entries() {
		runs, epsAt = append(runs, e.Run), append(epsAt, e.Epsilon)
	}
	return l.Epsilon(), runs, epsAt
}

// unpinned gives member b a certificate for a new TLS key, signed by the
// consortium CA outside the project's checks (as a CA key used carelessly
// would), and checks that ca sign refuses the request, that preflight
// names the pin, and that the aggregator refuses the certificate and
// counts it as unpinned-key.
func unpinned(t *testing.T, dir string, o onboarding, addr, metricsURL string, args []string) {
	t.Helper()
	csr, key, err := pki.NewRequest(pki.Subject{Member: "b"})
	if err != nil {
		t.Fatal(err)
	}
	renewed := filepath.Join(dir, "b", "renewed")
	if err := os.MkdirAll(renewed, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(renewed, csrFileName), csr, 0o644); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, dir, "ca", "sign", "--project", o.coord("fed.yaml"), "--ca", o.coord("ca"), "-i", o.coord("aggregator", identityFileName),
		"--csr", filepath.Join("b", "renewed", csrFileName), "-o", filepath.Join("b", "renewed", "refused.crt"))
	if r.code == 0 {
		t.Errorf("ca sign issued b a certificate for a key the project does not pin")
	}
	aggID, err := vault.ReadIdentityFile(filepath.Join(dir, o.coord("aggregator", identityFileName)), nil)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.LoadCA(filepath.Join(dir, o.coord("ca")), aggID)
	if err != nil {
		t.Fatal(err)
	}
	req, err := pki.ParseRequest(csr)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pki.Sign(ca, req, time.Now().Add(-time.Minute), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	bID, err := vault.ReadIdentityFile(filepath.Join(dir, "b", identityFileName), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pki.WriteKey(filepath.Join(renewed, provision.FileTLSKey), key, bID.Recipient()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(renewed, provision.FileTLSCert), cert, 0o644); err != nil {
		t.Fatal(err)
	}
	tls := []string{"--cert", filepath.Join("b", "renewed", provision.FileTLSCert), "--tls-key", filepath.Join("b", "renewed", provision.FileTLSKey)}
	r = runCLI(t, dir, append(append([]string{"preflight", "--aggregator", addr}, args...), tls...)...)
	if r.code == 0 || !strings.Contains(r.stdout, "✗ certificate") || !strings.Contains(r.stdout, "pins") {
		t.Errorf("preflight with an unpinned certificate: exit %d\n%s", r.code, r.stdout)
	}
	r = runCLI(t, dir, append(append([]string{"client", "join", "--aggregator", addr, "--retry-for", "0"}, args...), tls...)...)
	if r.code == 0 {
		t.Errorf("b joined with an unpinned certificate\n%s", r.stderr)
	}
	if got := scrape(t, metricsURL)[`fedcrypt_refusals_total{reason="unpinned-key"}`]; got < 1 {
		t.Errorf("refusals of the unpinned certificate counted %v, want at least 1", got)
	}
}

// TestMemberAddedAndRemoved follows the README's section on changing the
// members: a federation of a, b and c runs; the coordinator removes a and
// adds d (who made its own keys), builds the next version with init
// --previous and signs d's request; b, c and d accept it; a's certificate,
// issued by the same CA and still valid, is refused (logged and counted as
// removed-member), and b, c and d run the new version over mutual TLS. b's
// and c's ledgers carry their earlier spend into it, d's starts at zero,
// the new run's key epochs follow the old run's, and audit verify
// --previous checks the two runs as one lineage. A certificate for b with
// a key the config does not pin is refused too.
func TestMemberAddedAndRemoved(t *testing.T) {
	long(t, "real processes through a new federation version")
	t.Parallel()
	dir := t.TempDir()
	const rounds = 2
	o := onboard(t, dir, rounds)
	v1 := o.coord("fed", provision.FileFederation)
	eps1 := runVersion(t, dir, o, v1, o.coord("run1"), o.members, o.memberArgs, nil)

	// The change, at the coordinator: a leaves, d joins with its own keys.
	runOK(t, dir, "keygen", "--csr", "--member", "d", "-o", "d")
	for _, f := range []string{recipientFileName, signingKeyFileName, csrFileName} {
		copyFile(t, filepath.Join(dir, "d", f), filepath.Join(dir, o.coord("incoming", "d", f)))
	}
	yaml := readTrim(t, filepath.Join(dir, o.coord("fed.yaml"))) + "\n"
	yaml = regexp.MustCompile(`(?m)^  - id: a\n(    .*\n)+`).ReplaceAllString(yaml, "")
	in := filepath.Join(dir, o.coord("incoming", "d"))
	yaml = strings.Replace(yaml, "threshold:", fmt.Sprintf("  - id: d\n    roles: [contributor, key_holder]\n    recipient: %s\n    signing_key: %s\n    csr: incoming/d/tls.csr\nthreshold:",
		readTrim(t, filepath.Join(in, recipientFileName)), readTrim(t, filepath.Join(in, signingKeyFileName))), 1)
	if err := os.WriteFile(filepath.Join(dir, o.coord("fed.yaml")), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	runOK(t, dir, "init", "--project", o.coord("fed.yaml"), "--previous", v1, "-o", o.coord("fed2"))
	v2 := o.coord("fed2", provision.FileFederation)
	runOK(t, dir, "ca", "sign", "--project", o.coord("fed.yaml"), "--ca", o.coord("ca"), "-i", o.coord("aggregator", identityFileName),
		"--csr", o.coord("incoming", "d", csrFileName), "-o", o.coord("issued", "d.crt"))
	runOK(t, dir, "data", "split", "--data", "wdbc", "-o", "hd", "-R", filepath.Join("d", recipientFileName), "-R", filepath.Join("d", recipientFileName))
	if err := os.Rename(filepath.Join(dir, "hd", "hospital-1.csv.age"), filepath.Join(dir, "d", "data.csv.age")); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(dir, o.coord("ca", provision.FileCACert)), filepath.Join(dir, "d", provision.FileCACert))
	copyFile(t, filepath.Join(dir, o.coord("issued", "d.crt")), filepath.Join(dir, "d", provision.FileTLSCert))
	next := []string{"b", "c", "d"}
	for _, m := range next {
		copyFile(t, filepath.Join(dir, v2), filepath.Join(dir, m, "federation-2.json"))
	}
	args2 := func(m string) []string {
		return []string{"--config", filepath.Join(m, "federation-2.json"), "--member", m, "--identity", filepath.Join(m, identityFileName),
			"--data", filepath.Join(m, "data.csv.age"), "--ledger", filepath.Join(m, "ledger")}
	}

	// Nobody runs a version it has not accepted.
	r := runCLI(t, dir, append([]string{"client", "join", "--aggregator", "127.0.0.1:1", "--retry-for", "0"}, args2("c")...)...)
	wantOneLineError(t, r, "revision 2", "member accept")
	for _, m := range next {
		acc := []string{"member", "accept", "--config", filepath.Join(m, "federation-2.json"), "--member", m,
			"--identity", filepath.Join(m, identityFileName), "--ledger", filepath.Join(m, "ledger"), "--json"}
		if m != "d" {
			acc = append(acc, "--previous", filepath.Join(m, provision.FileFederation))
		}
		r := runCLI(t, dir, acc...)
		var res struct {
			Changes []string `json:"changes"`
			Spent   float64  `json:"epsilon_spent"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || r.code != 0 {
			t.Fatalf("member accept %s: exit %d, %v\n%s%s", m, r.code, err, r.stdout, r.stderr)
		}
		if math.Abs(res.Spent-eps1[m]) > 1e-12 {
			t.Errorf("member accept %s: ledger spent ε %v, its run of revision 1 ended at ε %v", m, res.Spent, eps1[m])
		}
		if all := strings.Join(res.Changes, "; "); m != "d" && (!strings.Contains(all, `adds ["d"]`) || !strings.Contains(all, `removes "a"`)) {
			t.Errorf("member accept %s names the changes %q, want d added and a removed", m, res.Changes)
		}
	}
	// a is not a member of the new version: accepting it is refused.
	r = runCLI(t, dir, "member", "accept", "--config", v2, "--previous", v1, "--member", "a",
		"--identity", filepath.Join("a", identityFileName), "--ledger", filepath.Join("a", "ledger"))
	wantOneLineError(t, r, `"a" is not a member`)

	eps2 := runVersion(t, dir, o, v2, o.coord("run2"), next, args2, func(addr, metricsURL string) {
		// The removed member, with its certificate from the same CA and
		// the config it ran under, is refused at the handshake. (Its
		// error is the server's TLS alert, or a broken pipe when its
		// write races the alert; the aggregator's count below is what
		// tells.)
		r := runCLI(t, dir, append([]string{"client", "join", "--aggregator", addr, "--retry-for", "0"}, o.memberArgs("a")...)...)
		if r.code == 0 {
			t.Errorf("removed member a joined revision 2: exit %d\n%s", r.code, r.stderr)
		}
		r = runCLI(t, dir, append([]string{"preflight", "--aggregator", addr}, o.memberArgs("a")...)...)
		if r.code == 0 || !strings.Contains(r.stdout, "✗ TLS handshake") {
			t.Errorf("preflight of removed member a passes against revision 2: exit %d\n%s", r.code, r.stdout)
		}
		got := scrape(t, metricsURL)[`fedcrypt_refusals_total{reason="removed-member"}`]
		if got < 2 {
			t.Errorf("refusals of the removed member counted %v, want at least 2 (join and preflight)", got)
		}
		r = runCLI(t, dir, append([]string{"preflight", "--aggregator", addr}, args2("b")...)...)
		if r.code != 0 || !strings.Contains(r.stdout, "✓ version") {
			t.Errorf("preflight of b for revision 2: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		unpinned(t, dir, o, addr, metricsURL, args2("b"))
	})

	// b and c carried their ledgers: revision 2's spend starts from what
	// revision 1 spent. d's ledger starts empty.
	prefix := func(cfg string) string {
		fed, err := federation.Load(filepath.Join(dir, cfg))
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("federation-%.16s/", fed.Hash().String())
	}
	p1, p2 := prefix(v1), prefix(v2)
	// Each revision's run charges its statistics release, then a round
	// each.
	entries := rounds + 1
	for _, m := range next {
		eps, runs, epsAt := ledgerOf(t, dir, m)
		var in1, in2 int
		first2 := -1.0
		for i, run := range runs {
			switch {
			case strings.HasPrefix(run, p1):
				in1++
			case strings.HasPrefix(run, p2):
				in2++
				if first2 < 0 {
					first2 = epsAt[i]
				}
			}
		}
		t.Logf("%s: ε after revision 1 %.4f, after revision 2's first release %.4f, after revision 2 %.4f (ledger: %d entries of revision 1, %d of revision 2)",
			m, eps1[m], first2, eps2[m], in1, in2)
		switch {
		case math.Abs(eps-eps2[m]) > 1e-12:
			t.Errorf("%s: ledger on disk at ε %v, client join reported %v", m, eps, eps2[m])
		case in2 != entries:
			t.Errorf("%s: %d ledger entries of revision 2, want %d", m, in2, entries)
		case m == "d" && (in1 != 0 || eps1[m] != 0):
			t.Errorf("new member d: %d entries of revision 1", in1)
		case m != "d" && (in1 != entries || !(first2 > eps1[m]) || !(eps2[m] > eps1[m])):
			t.Errorf("%s did not carry its ledger: %d entries of revision 1, ε %v then %v (revision 2's first release at %v)", m, in1, eps1[m], eps2[m], first2)
		case eps2[m] > 1+1e-9:
			t.Errorf("%s: ε %v above the cap 1", m, eps2[m])
		}
	}

	// The auditor checks the two runs as one lineage.
	r = runCLI(t, dir, "audit", "verify", o.coord("run2"), "--config", v2, "--previous", o.coord("run1"), "--previous-config", v1,
		"--identity", o.coord("aggregator", identityFileName), "--json")
	var verdict struct {
		Verified bool   `json:"verified"`
		Follows  string `json:"follows"`
		Verdict  string `json:"verdict"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &verdict); err != nil || r.code != 0 || !verdict.Verified || verdict.Follows == "" {
		t.Fatalf("audit verify --previous: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	t.Log(verdict.Verdict)
	r = runCLI(t, dir, "audit", "verify", o.coord("run1"), "--config", v1, "--previous", o.coord("run2"), "--previous-config", v2)
	if r.code == 0 || !strings.Contains(r.stdout, "does not follow") {
		t.Errorf("audit verify accepts revision 1 as following revision 2: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
