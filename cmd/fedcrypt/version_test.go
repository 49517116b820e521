package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestVersionSetByLinker builds fedcrypt as a release is built, with the
// version given to the linker, and checks that the version command prints
// it and that a simulated run's audit log records it as its software.
func TestVersionSetByLinker(t *testing.T) {
	const want = "fedcrypt 9.9.9-test"
	dir := t.TempDir()
	bin := filepath.Join(dir, "fedcrypt")
	build := exec.Command("go", "build", "-ldflags", "-X github.com/fedcrypt/fedcrypt/version.Version=9.9.9-test", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatalf("fedcrypt version: %v", err)
	}
	if got := strings.TrimSpace(string(out)); got != want {
		t.Errorf("fedcrypt version printed %q, want %q", got, want)
	}
	run := filepath.Join(dir, "run")
	sim := exec.Command(bin, "sim", "--rounds", "1", "--no-he", "--seed", "1", "--out", run)
	if out, err := sim.CombinedOutput(); err != nil {
		t.Fatalf("fedcrypt sim: %v\n%s", err, out)
	}
	f, err := os.Open(filepath.Join(run, "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	if !sc.Scan() {
		t.Fatalf("empty audit log: %v", sc.Err())
	}
	var first struct {
		Type string `json:"type"`
		Body struct {
			Software string `json:"software"`
		} `json:"body"`
	}
	if err := json.Unmarshal(sc.Bytes(), &first); err != nil {
		t.Fatalf("audit log's first entry: %v", err)
	}
	if first.Type != "setup" || first.Body.Software != want {
		t.Errorf("audit log's first entry: type %q software %q, want setup by %q", first.Type, first.Body.Software, want)
	}
}
