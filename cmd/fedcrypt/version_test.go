package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/fedcrypt/fedcrypt/version"
)

// releaseVersion is the version releaseBinary is built with.
const releaseVersion = "9.9.9-test"

var release struct {
	once sync.Once
	path string
	err  error
}

// releaseBinary returns fedcrypt built as a release is, with its version
// given to the linker, once for the tests that need the binary a user runs
// rather than this test binary (which allows insecure test presets).
func releaseBinary(t *testing.T) string {
	t.Helper()
	release.once.Do(func() {
		dir, err := os.MkdirTemp("", "fedcrypt-release-")
		if err != nil {
			release.err = err
			return
		}
		release.path = filepath.Join(dir, "fedcrypt")
		build := exec.Command("go", "build", "-ldflags", "-X github.com/fedcrypt/fedcrypt/version.Version="+releaseVersion, "-o", release.path, ".")
		if out, err := build.CombinedOutput(); err != nil {
			release.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if release.err != nil {
		t.Fatal(release.err)
	}
	return release.path
}

// TestVersionSetByLinker builds fedcrypt as a release is built, with the
// version given to the linker, and checks that the version command prints
// it and that a simulated run's audit log records it as its software.
func TestVersionSetByLinker(t *testing.T) {
	long(t, "builds fedcrypt")
	t.Parallel()
	const want = "fedcrypt " + releaseVersion
	dir := t.TempDir()
	bin := releaseBinary(t)
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
	if got := loggedSoftware(t, run); got != want {
		t.Errorf("the audit log's setup entry names the software %q, want %q", got, want)
	}
}

// TestVersionNamesTheSoftware: version prints the software's name and
// version, and a run's audit log records the same as the software that
// wrote it. (TestVersionSetByLinker checks a release build.)
func TestVersionNamesTheSoftware(t *testing.T) {
	t.Parallel()
	want := version.Software()
	if r := runIn(t, t.Context(), "version"); r.code != 0 || r.stdout != want+"\n" {
		t.Errorf("version: exit %d, stdout %q; want %q", r.code, r.stdout, want+"\n")
	}
	if got := loggedSoftware(t, simRun(t)); got != want {
		t.Errorf("the audit log's setup entry names the software %q, want %q", got, want)
	}
}

// loggedSoftware returns the software the first entry, setup, of the audit
// log in run names.
func loggedSoftware(t *testing.T, run string) string {
	t.Helper()
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
	if first.Type != "setup" {
		t.Fatalf("audit log's first entry: type %q, want setup", first.Type)
	}
	return first.Body.Software
}
