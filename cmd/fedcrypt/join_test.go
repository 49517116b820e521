package main

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

func TestServeAndJoinRefuseBadInvocations(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if r := runCLI(t, dir, "init", "--members", "a,b", "-o", "fed"); r.code != 0 {
		t.Fatalf("init: %s", r.stderr)
	}
	join := []string{"client", "join", "--config", "fed/federation.json", "--identity", "fed/a/identity.key",
		"--data", "x.csv.age", "--ledger", "l", "--aggregator", "127.0.0.1:1"}
	serve := []string{"aggregator", "serve", "--config", "fed/federation.json", "--identity", "fed/aggregator/identity.key", "-o", "out"}
	cases := []struct {
		name      string
		args      []string
		code      int
		fragments []string
	}{
		{"join with a seed", append(join, "--member", "a", "--seed", "1"), 2, []string{"--seed"}},
		{"join without member", join, 2, []string{"--member"}},
		{"join as a non-member", append(join, "--member", "z"), 2, []string{`"z"`, "not a member"}},
		{"join with missing data", append(join, "--member", "a"), 1, []string{"--data", "x.csv.age"}},
		{"join with another party's key", append(join[:6:6], "--identity", "fed/b/identity.key", "--data", "x", "--ledger", "l",
			"--aggregator", "127.0.0.1:1", "--member", "a", "--tls-key", "fed/a/tls.key.age"), 1, []string{"--tls-key"}},
		{"join with an unknown log level", append(join, "--member", "a", "--log-level", "loud"), 2, []string{"--log-level", "loud"}},
		{"serve with an unknown log format", append(serve, "--log-format", "xml"), 2, []string{"--log-format", "xml"}},
		{"serve lingering without metrics", append(serve, "--linger", "1m"), 2, []string{"--linger", "--metrics"}},
		{"serve without output", serve[:6], 2, []string{"-o DIR"}},
		{"serve with the wrong identity", append(serve[:4:4], "--identity", "fed/a/identity.key", "-o", "out", "--listen", "127.0.0.1:0"), 1, []string{"--identity", "not the aggregator"}},
		{"serve on a bad address", append(serve, "--listen", "256.0.0.1:99999"), 1, []string{"--listen"}},
		{"aggregator without subcommand", []string{"aggregator"}, 2, []string{"serve"}},
		{"client with an unknown subcommand", []string{"client", "leave"}, 2, []string{"leave"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, dir, tc.args...)
			wantOneLineError(t, r, tc.fragments...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d", r.code, tc.code)
			}
		})
	}
}

// TestJoinExplainsAnUnreachableAggregator joins an aggregator that never
// answers: a port that accepts connections but never speaks TLS, and a port
// where nothing listens.
func TestJoinExplainsAnUnreachableAggregator(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	newDeployment(t, dir, 1)
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close() // accepted by the kernel, never read
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nobody := closed.Addr().String()
	closed.Close()

	t.Run("silent, no retries", func(t *testing.T) {
		start := time.Now()
		r := runCLI(t, dir, append(joinArgs("a", 0, silent.Addr().String()), "--retry-for", "0")...)
		wantOneLineError(t, r, silent.Addr().String(), "no answer within")
		if d := time.Since(start); d > 15*time.Second {
			t.Errorf("gave up after %v, want at most 15 s", d.Round(time.Second))
		}
	})
	t.Run("nothing listening, retries announced", func(t *testing.T) {
		p := startProc(t, dir, "a", append(joinArgs("a", 0, nobody), "--retry-for", "1m")...)
		p.waitLine(t, regexp.MustCompile(`aggregator unreachable, retrying.*attempt=2`), 30*time.Second)
	})
}

// TestConfigMismatchNamedOnBothSides: a member whose federation.json
// differs from the aggregator's (here, in the number of rounds) is told so
// at once, and both sides name both hashes.
func TestConfigMismatchNamedOnBothSides(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	newDeployment(t, dir, 1)
	b, err := os.ReadFile(filepath.Join(dir, "fed", "federation.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["training"].(map[string]any)["rounds"] = 2.0
	other, _ := json.MarshalIndent(cfg, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "fed", "other.json"), other, 0o644); err != nil {
		t.Fatal(err)
	}
	agg := startProc(t, dir, "aggregator", "aggregator", "serve", "--config", "fed/federation.json",
		"--identity", "fed/aggregator/identity.key", "--listen", "127.0.0.1:0", "-o", "out", "--timeout", "30s")
	addr := agg.waitLine(t, listening, 30*time.Second)[1]
	args := joinArgs("a", 0, addr)
	args[3] = "fed/other.json"
	start := time.Now()
	r := runCLI(t, dir, args...)
	wantOneLineError(t, r, "the aggregator runs federation config", "same federation.json")
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("the member learnt of the mismatch after %v", d.Round(time.Second))
	}
	agg.waitLine(t, regexp.MustCompile(`refused.*config hash \S+ is not this federation's \S+`), 10*time.Second)
}
