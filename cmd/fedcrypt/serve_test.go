package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedcrypt/fedcrypt/audit"
	"github.com/fedcrypt/fedcrypt/client"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/internal/pki"
	"github.com/fedcrypt/fedcrypt/internal/provision"
	"github.com/fedcrypt/fedcrypt/internal/sealedmodel"
	"github.com/fedcrypt/fedcrypt/sim"
	"github.com/fedcrypt/fedcrypt/transport/grpcnet"
	"github.com/fedcrypt/fedcrypt/vault"
)

// proc is a fedcrypt process running in the background: its stderr lines
// arrive on lines as they are written, and stay in the log.
type proc struct {
	name   string
	cmd    *exec.Cmd
	stdout bytes.Buffer
	lines  chan string
	mu     sync.Mutex
	log    strings.Builder
	done   chan struct{}
	err    error
}

func startProc(t testing.TB, dir, name string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(binPath(), args...), lines: make(chan string, 1024), done: make(chan struct{})}
	p.cmd.Dir = dir
	p.cmd.Stdout = &p.stdout
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.log.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			select {
			case p.lines <- sc.Text():
			default: // nobody is waiting for lines; the log keeps them
			}
		}
		p.err = p.cmd.Wait()
		close(p.lines)
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// waitLine returns the first stderr line matching re (its submatches).
func (p *proc) waitLine(t testing.TB, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				t.Fatalf("%s exited (%v) before printing a line matching %q:\n%s", p.name, p.err, re, p.stderr())
			}
			if m := re.FindStringSubmatch(line); m != nil {
				return m
			}
		case <-deadline:
			t.Fatalf("%s printed no line matching %q within %v:\n%s", p.name, re, timeout, p.stderr())
		}
	}
}

// wait waits for the process to exit and fails the test unless it succeeded.
func (p *proc) wait(t testing.TB, timeout time.Duration) {
	t.Helper()
	go func() {
		for range p.lines { // keep draining so the scanner never blocks
		}
	}()
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("%s still running after %v:\n%s", p.name, timeout, p.stderr())
	}
	if p.err != nil {
		t.Fatalf("%s: %v\n%s", p.name, p.err, p.stderr())
	}
}

func (p *proc) stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

var listening = regexp.MustCompile(`listening on (\S+)$`)

// newDeployment runs init and data split in dir, as the README's deployment
// section does, for members a, b and c.
func newDeployment(t testing.TB, dir string, rounds int, extra ...string) []string {
	t.Helper()
	members := []string{"a", "b", "c"}
	deploy(t, dir, members, append([]string{"--threshold", "2", "--min-contributors", "2", "--rounds", fmt.Sprint(rounds)}, extra...))
	return members
}

// deploy runs init for members with the init flags given, and data split
// of wdbc among them.
func deploy(t testing.TB, dir string, members []string, flags []string) {
	t.Helper()
	runOK(t, dir, append([]string{"init", "--members", strings.Join(members, ","), "-o", "fed"}, flags...)...)
	split := []string{"data", "split", "--data", "wdbc", "-o", "data"}
	for _, m := range members {
		split = append(split, "-R", filepath.Join("fed", m, "recipient.txt"))
	}
	runOK(t, dir, split...)
}

// runOK runs the binary to completion and fails unless it succeeds.
func runOK(t testing.TB, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command(binPath(), args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("fedcrypt %s: %v\n%s", strings.Join(args[:2], " "), err, out)
	}
}

func joinArgs(m string, i int, addr string) []string {
	return []string{"client", "join", "--config", "fed/federation.json", "--member", m,
		"--identity", filepath.Join("fed", m, "identity.key"), "--data", fmt.Sprintf("data/hospital-%d.csv.age", i+1),
		"--ledger", "ledger-" + m, "--aggregator", addr, "--retry-for", "30s", "--json"}
}

// TestDeploymentEndToEnd follows the deployment: init, an aggregator and
// three client join processes over loopback with mutual TLS. One hospital
// is killed mid-run and restarted, then the aggregator is killed and
// restarted from its checkpoint; the run completes every round once and
// its audit log verifies.
func TestDeploymentEndToEnd(t *testing.T) {
	long(t, "real processes through crashes and restarts")
	t.Parallel()
	dir := t.TempDir()
	// Rounds long enough (about half a second each) that the run outlasts
	// killing a process and restarting it, which takes a few seconds to
	// reload its ledger.
	const rounds = 20
	// Two crashes: each may cost a hospital a round of budget (trained in,
	// then lost), so each keeps two spare rounds. The round a hospital dies
	// in waits the whole --timeout for its endorsement before it is
	// abandoned and retried: 10 s, against setup and rounds that each take
	// well under a second here.
	members := newDeployment(t, dir, rounds, "--local-steps", "100", "--sample-rate", "0.5", "--model", "mlp:64,64", "--spare-rounds", "2")
	agg := startProc(t, dir, "aggregator", "aggregator", "serve", "--config", "fed/federation.json",
		"--identity", "fed/aggregator/identity.key", "--listen", "127.0.0.1:0", "-o", "out", "--timeout", "10s", "--json", "--metrics", "127.0.0.1:0")
	addr := agg.waitLine(t, listening, 30*time.Second)[1]
	metricsURL := agg.waitLine(t, regexp.MustCompile(`metrics on (\S+)$`), 30*time.Second)[1]
	clients := map[string]*proc{}
	for i, m := range members {
		clients[m] = startProc(t, dir, m, joinArgs(m, i, addr)...)
	}
	agg.waitLine(t, regexp.MustCompile(`^round 2 attempt 1 completed`), 60*time.Second)
	intruders(t, dir, addr)
	metrics := scrape(t, metricsURL)
	for name, min := range map[string]float64{`fedcrypt_rounds_total{outcome="completed"}`: 2, "fedcrypt_members_online": 3,
		"fedcrypt_connections_total": 3, "fedcrypt_upload_bytes_total": 1, "fedcrypt_round_duration_seconds_count": 2,
		`fedcrypt_refusals_total{reason="unknown-ca"}`: 1, `fedcrypt_refusals_total{reason="expired"}`: 1,
		`fedcrypt_refusals_total{reason="identity-mismatch"}`: 1} {
		if metrics[name] < min {
			t.Errorf("metric %s = %v after round 2, want at least %v", name, metrics[name], min)
		}
	}
	// A crash: SIGKILL, no goodbye.
	clients["c"].cmd.Process.Kill()
	<-clients["c"].done
	restarted := startProc(t, dir, "c (restarted)", joinArgs("c", 2, addr)...)

	// The aggregator crashes too, after a later round, and is restarted on
	// the same address from its sealed checkpoint; the hospitals reconnect.
	agg.waitLine(t, regexp.MustCompile(`^round 12 attempt 1 completed`), 60*time.Second)
	agg.cmd.Process.Kill()
	<-agg.done
	agg = startProc(t, dir, "aggregator (resumed)", "aggregator", "serve", "--config", "fed/federation.json",
		"--identity", "fed/aggregator/identity.key", "--listen", addr, "-o", "out", "--timeout", "10s", "--json", "--resume")
	resumed := agg.waitLine(t, regexp.MustCompile(`resuming after round (\d+)`), 30*time.Second)[1]
	t.Logf("aggregator resumed after round %s", resumed)

	agg.wait(t, 120*time.Second)
	for _, m := range []string{"a", "b"} {
		clients[m].wait(t, 30*time.Second)
	}
	restarted.wait(t, 30*time.Second)

	var summary struct {
		Rounds int    `json:"rounds"`
		Ended  string `json:"ended"`
	}
	if err := json.Unmarshal(agg.stdout.Bytes(), &summary); err != nil {
		t.Fatalf("aggregator --json: %v\n%s", err, agg.stdout.String())
	}
	if summary.Rounds != rounds {
		t.Errorf("aggregator completed %d rounds (%s), want %d\n%s", summary.Rounds, summary.Ended, rounds, agg.stderr())
	}
	fed, err := federation.Load(filepath.Join(dir, "fed", "federation.json"))
	if err != nil {
		t.Fatal(err)
	}
	// Each hospital's witness, kept across its own restart and the
	// aggregator's, is in the log.
	var ws []audit.Witness
	for _, m := range []string{"a", "b", "c"} {
		id, err := vault.ReadIdentityFile(filepath.Join(dir, "fed", m, "identity.key"), nil)
		if err != nil {
			t.Fatal(err)
		}
		w, err := client.LoadWitness(filepath.Join(dir, "ledger-"+m), fed, id)
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, w...)
	}
	run, err := audit.VerifyFile(filepath.Join(dir, "out", "audit.jsonl"), fed, audit.Options{Witnesses: ws})
	if err != nil {
		t.Fatalf("audit log does not verify: %v", err)
	}
	if len(run.Witnesses) != 3 {
		t.Errorf("witnesses of %d hospitals checked, want 3", len(run.Witnesses))
	}
	// Every round completed once; c was missing from some after the kill
	// and uploaded again in a later one.
	done := map[uint64]bool{}
	missing, rejoined := uint64(0), uint64(0)
	for _, r := range run.Rounds {
		if r.Completed {
			if done[r.Round] {
				t.Errorf("round %d completed twice in the audit log", r.Round)
			}
			done[r.Round] = true
		}
		present := slices.Contains(r.Contributors, "c")
		switch {
		case !present && missing == 0:
			missing = r.Round
		case present && missing != 0 && rejoined == 0:
			rejoined = r.Round
		}
	}
	if len(done) != rounds {
		t.Errorf("audit log records %d completed rounds, want %d", len(done), rounds)
	}
	t.Logf("hospital c missing from round %d, back in round %d", missing, rejoined)
	if missing == 0 || rejoined == 0 {
		t.Errorf("hospital c: first missing in round %d, back in round %d; want both\n%s", missing, rejoined, agg.stderr())
	}
	// a and b trained in every completed round. A round abandoned after
	// they trained stays charged, and so does the round under way when the
	// aggregator was killed, if they had trained in it (a ledger never
	// under-counts): up to that many extra rounds' steps are allowed.
	local := fed.Training.LocalSteps
	extra := 1
	for _, r := range run.Rounds {
		if !r.Completed {
			extra++
		}
	}
	for _, m := range []string{"a", "b"} {
		var res struct {
			Epsilon float64 `json:"epsilon"`
			Steps   int     `json:"steps"`
		}
		if err := json.Unmarshal(clients[m].stdout.Bytes(), &res); err != nil {
			t.Fatalf("client %s --json: %v", m, err)
		}
		if !(res.Epsilon > 0 && res.Epsilon <= fed.DP.Epsilon*(1+1e-9)) ||
			res.Steps%local != 0 || res.Steps < rounds*local || res.Steps > (rounds+extra)*local {
			t.Errorf("client %s: ε %v over %d steps; want 0 < ε ≤ %v over %d to %d", m, res.Epsilon, res.Steps, fed.DP.Epsilon, rounds*local, (rounds+extra)*local)
		}
	}
}

// scrape reads a Prometheus text page into series → value.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

// BenchmarkLoopbackFederation runs whole deployments on loopback: an
// aggregator and one client join process per hospital, each with its own
// TLS connection. It reports the mean round time after the first (which
// includes the key ceremony's tail), the time from start to the end of the
// first round, and the aggregator's peak resident memory.
//
//	go test ./cmd/fedcrypt -run '^$' -bench LoopbackFederation -benchtime 1x
func BenchmarkLoopbackFederation(b *testing.B) {
	for _, n := range []int{10, 50} {
		b.Run(fmt.Sprintf("hospitals=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			const rounds = 5
			var members []string
			for i := range n {
				members = append(members, fmt.Sprintf("h%d", i+1))
			}
			var roundSeconds, firstSeconds, rss float64
			for b.Loop() {
				b.StopTimer()
				dir := b.TempDir()
				deploy(b, dir, members, []string{"--threshold", "3", "--rounds", fmt.Sprint(rounds)})
				b.StartTimer()
				start := time.Now()
				agg := startProc(b, dir, "aggregator", "aggregator", "serve", "--config", "fed/federation.json",
					"--identity", "fed/aggregator/identity.key", "--listen", "127.0.0.1:0", "-o", "out", "--json")
				addr := agg.waitLine(b, listening, 30*time.Second)[1]
				var clients []*proc
				for i, m := range members {
					clients = append(clients, startProc(b, dir, m, joinArgs(m, i, addr)...))
				}
				re := regexp.MustCompile(`^round (\d+) attempt 1 completed: .*, ([0-9.]+)s$`)
				var sum float64
				for r := 1; r <= rounds; r++ {
					m := agg.waitLine(b, re, 5*time.Minute)
					sec, _ := strconv.ParseFloat(m[2], 64)
					if r == 1 {
						firstSeconds += time.Since(start).Seconds()
					} else {
						sum += sec
					}
				}
				roundSeconds += sum / (rounds - 1)
				agg.wait(b, time.Minute)
				for _, c := range clients {
					c.wait(b, time.Minute)
				}
				var res struct {
					Rounds int   `json:"rounds"`
					MaxRSS int64 `json:"max_rss_bytes"`
				}
				if err := json.Unmarshal(agg.stdout.Bytes(), &res); err != nil || res.Rounds != rounds {
					b.Fatalf("aggregator: %d rounds (%v)\n%s", res.Rounds, err, agg.stderr())
				}
				rss += float64(res.MaxRSS)
			}
			b.ReportMetric(roundSeconds/float64(b.N), "s/round")
			b.ReportMetric(firstSeconds/float64(b.N), "s-to-round-1")
			b.ReportMetric(rss/float64(b.N)/(1<<20), "aggregator-peak-MiB")
		})
	}
}

// intruders tries to join the running federation in dir with a
// certificate from another CA, an expired certificate from the federation's
// own CA, and member a's valid certificate claiming to be b; each must be
// refused.
func intruders(t *testing.T, dir, addr string) {
	t.Helper()
	fedDir := filepath.Join(dir, "fed")
	aggID, err := vault.ReadIdentityFile(filepath.Join(fedDir, "aggregator", provision.FileIdentity), nil)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := os.ReadFile(filepath.Join(fedDir, provision.FileCACert))
	caKey, err := pki.ReadKey(filepath.Join(fedDir, provision.FileCAKey), aggID)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := grpcnet.LoadCA(caCert, caKey)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	expiredCert, expiredKey, err := ca.Issue(grpcnet.Leaf{Member: "a", NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	other, err := grpcnet.NewCA("another federation", now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	foreignCert, foreignKey, err := other.Issue(grpcnet.Leaf{Member: "a", NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	aID, _ := vault.ReadIdentityFile(filepath.Join(fedDir, "a", provision.FileIdentity), nil)
	aCreds, err := provision.LoadCredentials(filepath.Join(fedDir, provision.FileCACert), filepath.Join(fedDir, "a", provision.FileTLSCert), filepath.Join(fedDir, "a", provision.FileTLSKey), aID)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		member string
		creds  grpcnet.Credentials
	}{
		{"certificate from another CA", "a", grpcnet.Credentials{CA: caCert, Cert: foreignCert, Key: foreignKey}},
		{"expired certificate", "a", grpcnet.Credentials{CA: caCert, Cert: expiredCert, Key: expiredKey}},
		{"a's certificate claiming b", "b", aCreds},
	}
	for _, tc := range cases {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := grpcnet.Dial(ctx, grpcnet.DialConfig{Addr: addr, Member: tc.member, Credentials: tc.creds})
		cancel()
		if err == nil {
			c.Close()
			t.Errorf("%s: connection accepted", tc.name)
		}
	}
}

// TestDeploymentWritesTheModel follows a deployment to its end: init with
// its defaults and a private evaluation for an auditor, data split,
// aggregator serve and three client join processes over mutual TLS.
// aggregator serve -o writes model.age, sealed to the members; each
// member's predict scores its own rows with it, through the federation's
// transform, the one the audit log's statistics entry records. With
// --linger the metrics outlive the run; the finished run is then neither
// resumed nor started over in its directory.
func TestDeploymentWritesTheModel(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// init's defaults, as a consortium would start, with a private
	// evaluation whose per-site releases are sealed to an auditor.
	auditor := keygenFor(t, dir, "auditor")
	rounds := sim.Defaults().Rounds
	members := newDeployment(t, dir, rounds, "--private-eval", "0.3", "--auditor", auditor.Recipient)
	serve := []string{"aggregator", "serve", "--config", "fed/federation.json", "--identity", "fed/aggregator/identity.key",
		"--listen", "127.0.0.1:0", "-o", "out", "--timeout", "30s"}
	agg := startProc(t, dir, "aggregator", append(slices.Clone(serve), "--json", "--metrics", "127.0.0.1:0", "--linger", "1m")...)
	addr := agg.waitLine(t, listening, 30*time.Second)[1]
	metricsURL := agg.waitLine(t, regexp.MustCompile(`metrics on (\S+)$`), 30*time.Second)[1]
	var clients []*proc
	for i, m := range members {
		clients = append(clients, startProc(t, dir, m, joinArgs(m, i, addr)...))
	}
	agg.waitLine(t, regexp.MustCompile(`run ended; metrics stay up`), 90*time.Second)

	// The metrics outlive the run, and say which software ran, the last
	// round and each hospital's ε.
	metrics := scrape(t, metricsURL)
	if got := metrics["fedcrypt_round"]; got != float64(rounds) {
		t.Errorf("fedcrypt_round = %v after the run, want %d", got, rounds)
	}
	for _, m := range members {
		if got := metrics[fmt.Sprintf(`fedcrypt_epsilon_spent{hospital=%q}`, m)]; !(got > 0 && got <= 1) {
			t.Errorf("ε of %s = %v, want in (0, 1]", m, got)
		}
	}
	built := false
	for name, v := range metrics {
		built = built || (strings.HasPrefix(name, "fedcrypt_build_info{") && strings.Contains(name, `version="fedcrypt `) && v == 1)
	}
	if !built {
		t.Error("no fedcrypt_build_info naming the version")
	}
	resp, err := http.Get(strings.TrimSuffix(metricsURL, "/metrics") + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz after the run: %d, want 503", resp.StatusCode)
	}
	// An interrupt ends the lingering.
	if err := agg.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	agg.wait(t, 30*time.Second)
	for _, c := range clients {
		c.wait(t, 30*time.Second)
	}

	// The aggregator reports the federation's noisy totals; each hospital
	// its own release, as the auditor will read it.
	var served struct {
		Eval *struct {
			Rows         float64  `json:"rows"`
			AUC          float64  `json:"auc"`
			Contributors []string `json:"contributors"`
		} `json:"private_evaluation"`
	}
	if err := json.Unmarshal(agg.stdout.Bytes(), &served); err != nil || served.Eval == nil || len(served.Eval.Contributors) != 3 || served.Eval.Rows <= 0 {
		t.Fatalf("serve --json: %v: %s", err, agg.stdout.String())
	}
	own := map[string]float64{}
	for i, c := range clients {
		var joined struct {
			Eval *struct {
				Rows float64 `json:"rows"`
			} `json:"evaluation"`
		}
		if err := json.Unmarshal(c.stdout.Bytes(), &joined); err != nil || joined.Eval == nil {
			t.Fatalf("%s: join --json: %v: %s", members[i], err, c.stdout.String())
		}
		own[members[i]] = joined.Eval.Rows
	}
	// The auditor opens the three releases from the signed log; each is
	// the one its hospital reported.
	r := runCLI(t, dir, "audit", "verify", "out", "--config", "fed/federation.json", "--identity", auditor.Identity, "--json")
	var verified struct {
		Eval *struct {
			Sites []struct {
				ID   string  `json:"id"`
				Rows float64 `json:"rows"`
			} `json:"sites"`
			Mean *struct {
				Sites int `json:"sites"`
			} `json:"site_mean"`
		} `json:"evaluation"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &verified); r.code != 0 || err != nil || verified.Eval == nil || verified.Eval.Mean == nil || verified.Eval.Mean.Sites != 3 {
		t.Fatalf("audit verify --identity auditor: exit %d, %v: %s%s", r.code, err, r.stdout, r.stderr)
	}
	for _, s := range verified.Eval.Sites {
		if want, ok := own[s.ID]; !ok || s.Rows != want {
			t.Errorf("site %s: %v rows in the log, %v (%v) reported by the hospital", s.ID, s.Rows, want, ok)
		}
	}
	fed, err := federation.Load(filepath.Join(dir, "fed", "federation.json"))
	if err != nil {
		t.Fatal(err)
	}
	run, err := audit.VerifyFile(filepath.Join(dir, "out", "audit.jsonl"), fed, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if run.Statistics == nil {
		t.Fatal("no statistics entry")
	}
	writer, err := fed.Aggregator.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	acc := regexp.MustCompile(`on (\d+) labelled rows: accuracy ([0-9.]+)`)
	for i, m := range members {
		key, err := vault.ReadIdentityFile(filepath.Join(dir, "fed", m, "identity.key"), nil)
		if err != nil {
			t.Fatal(err)
		}
		_, payload, err := sealedmodel.Unseal(filepath.Join(dir, "out", "model.age"), writer, key)
		if err != nil {
			t.Fatalf("%s opens model.age: %v", m, err)
		}
		if payload.Transform == nil || payload.Transform.Digest() != run.Statistics.Transform.Digest() {
			t.Fatalf("%s: the model's transform is not the statistics entry's", m)
		}
		r := runCLI(t, dir, "predict", "--checkpoint", "out/model.age", "-i", filepath.Join("fed", m, "identity.key"),
			"--signer", "fed/federation.json", "--data", fmt.Sprintf("data/hospital-%d.csv.age", i+1))
		g := acc.FindStringSubmatch(r.stdout + r.stderr)
		if r.code != 0 || g == nil {
			t.Fatalf("%s: predict exit %d: %s", m, r.code, r.stderr)
		}
		// A usable model, well above the majority class (0.63 on wdbc):
		// the run draws its DP noise from the system, and one draw in
		// many lands a model near 0.83 on a hospital's rows, where most
		// reach 0.9 to 0.96.
		a, _ := strconv.ParseFloat(g[2], 64)
		if !(a > 0.75) {
			t.Errorf("%s: accuracy %v on its %s rows", m, a, g[1])
		}
		t.Logf("%s: accuracy %v on its %s rows", m, a, g[1])
	}

	// The finished run is neither resumed nor started over in the same
	// directory: both are refused before the aggregator listens, and its
	// audit log is left as it was.
	log := filepath.Join(dir, "out", "audit.jsonl")
	before, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		frag []string
	}{
		{"resumed", append(slices.Clone(serve), "--resume"), []string{fmt.Sprintf("already completed all %d rounds", rounds)}},
		{"started over", serve, []string{"-o out", "another run's audit log", "--resume"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, dir, tc.args...)
			wantOneLineError(t, r, tc.frag...)
			if strings.Contains(r.stderr, "listening") {
				t.Errorf("the aggregator listened before refusing:\n%s", r.stderr)
			}
			if after, _ := os.ReadFile(log); !bytes.Equal(before, after) {
				t.Error("the audit log changed")
			}
		})
	}
}
