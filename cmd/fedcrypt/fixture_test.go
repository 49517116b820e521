package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// seeded holds what many tests start from: simulated runs (for the commands
// that read a run: audit verify, report, predict, model export) and a
// deployment's files. Each is made once per test binary, on first use, and
// removed when the tests end.
var seeded struct {
	mu   sync.Mutex
	dir  string
	made map[string]*seededDir
}

type seededDir struct {
	once sync.Once
	dir  string
	err  error
}

// seed returns the directory that fill fills, once for key.
func seed(key string, fill func(dir string) error) (string, error) {
	seeded.mu.Lock()
	if seeded.made == nil {
		seeded.made = map[string]*seededDir{}
	}
	if seeded.dir == "" {
		var err error
		if seeded.dir, err = os.MkdirTemp("", "fedcrypt-seeded-"); err != nil {
			seeded.mu.Unlock()
			return "", err
		}
	}
	s := seeded.made[key]
	if s == nil {
		s = &seededDir{dir: filepath.Join(seeded.dir, fmt.Sprint(len(seeded.made)))}
		seeded.made[key] = s
	}
	seeded.mu.Unlock()
	s.once.Do(func() { s.err = fill(s.dir) })
	return s.dir, s.err
}

// copyOf returns a copy of src in the test's temp dir, named name.
func copyOf(t testing.TB, src, name string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), name)
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

// runSeed runs fedcrypt in this process for a seeded directory.
func runSeed(args ...string) error {
	var stderr bytes.Buffer
	e := &env{stdout: &bytes.Buffer{}, stderr: &stderr, stdin: strings.NewReader("")}
	if code := run(context.Background(), e, args); code != 0 {
		return fmt.Errorf("fedcrypt %s: exit %d\n%s", strings.Join(args, " "), code, stderr.String())
	}
	return nil
}

// simRun returns the --out directory of `fedcrypt sim --rounds 2 --seed 3`
// with the extra flags: two rounds of sim's defaults (wdbc, 3 hospitals,
// T = 2, ε = 1, CKKS), reproducible. Callers must leave it as it is;
// simRunCopy gives a test a copy of its own to change.
func simRun(t testing.TB, extra ...string) string {
	t.Helper()
	dir, err := simRunDir(extra)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func simRunDir(extra []string) (string, error) {
	return seed("sim "+strings.Join(extra, " "), func(dir string) error {
		return runSeed(append([]string{"sim", "--rounds", "2", "--seed", "3", "--out", dir}, extra...)...)
	})
}

// simRunCopy returns a copy of simRun's directory in the test's temp dir,
// named run.
func simRunCopy(t testing.TB, extra ...string) string {
	t.Helper()
	return copyOf(t, simRun(t, extra...), "run")
}

// deployment returns a directory of the test's own as newDeployment leaves
// it for one round: init's federation of members a, b and c (T = 2, two
// contributors at least) in fed and wdbc split among them in data.
func deployment(t testing.TB) string {
	t.Helper()
	src, err := seed("deployment", func(dir string) error {
		fed := filepath.Join(dir, "fed")
		if err := runSeed("init", "--members", "a,b,c", "-o", fed, "--threshold", "2", "--min-contributors", "2", "--rounds", "1"); err != nil {
			return err
		}
		split := []string{"data", "split", "--data", "wdbc", "-o", filepath.Join(dir, "data")}
		for _, m := range []string{"a", "b", "c"} {
			split = append(split, "-R", filepath.Join(fed, m, "recipient.txt"))
		}
		return runSeed(split...)
	})
	if err != nil {
		t.Fatal(err)
	}
	return copyOf(t, src, "deployment")
}

// removeSeeded removes the seeded directories once the tests have ended.
func removeSeeded() {
	seeded.mu.Lock()
	defer seeded.mu.Unlock()
	if seeded.dir != "" {
		os.RemoveAll(seeded.dir)
	}
}

// cmdSimRun is the scripts' "simrun DIR [flags]": DIR becomes a copy of the
// run of `fedcrypt sim --rounds 2 --seed 3 --out DIR` with the flags (see
// simRun).
func cmdSimRun(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 {
		ts.Fatalf("usage: simrun DIR [sim flags]")
	}
	src, err := simRunDir(args[1:])
	ts.Check(err)
	ts.Check(os.CopyFS(ts.MkAbs(args[0]), os.DirFS(src)))
}
