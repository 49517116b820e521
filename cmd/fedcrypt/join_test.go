package main

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestJoinExplainsAnUnreachableAggregator joins an aggregator that never
// answers: a port that accepts connections but never speaks TLS, and a port
// where nothing listens.
func TestJoinExplainsAnUnreachableAggregator(t *testing.T) {
	t.Parallel()
	dir := deployment(t)
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
		r := runCLI(t, dir, append(joinArgs("a", 0, silent.Addr().String()), "--retry-for", "0", "--connect-timeout", "300ms")...)
		wantOneLineError(t, r, silent.Addr().String(), "no answer within 300ms")
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
	dir := deployment(t)
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
	r := runCLI(t, dir, args...)
	wantOneLineError(t, r, "the aggregator runs federation config", "same federation.json")
	if strings.Contains(r.stderr, "retrying") {
		t.Errorf("the member retried instead of stopping at the mismatch:\n%s", r.stderr)
	}
	agg.waitLine(t, regexp.MustCompile(`refused.*config hash \S+ is not this federation's \S+`), 10*time.Second)
}
