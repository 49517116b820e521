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

// seeded holds the simulated runs that the tests of the commands reading a
// run (audit verify, report, predict, model export) share: each is made
// once per test binary, on first use, and removed when the tests end.
var seeded struct {
	mu   sync.Mutex
	dir  string
	runs map[string]*seededRun
}

type seededRun struct {
	once sync.Once
	dir  string
	err  error
}

// seedFlags are the flags of every seeded run: two rounds of sim's defaults
// (wdbc, 3 hospitals, T = 2, ε = 1, CKKS), reproducible.
var seedFlags = []string{"sim", "--rounds", "2", "--seed", "3"}

// simRun returns the --out directory of `fedcrypt sim --rounds 2 --seed 3`
// with the extra flags, made once per test binary. Callers must leave it as
// it is; simRunCopy gives a test a copy of its own to change.
func simRun(t testing.TB, extra ...string) string {
	t.Helper()
	dir, err := seededDir(extra)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// simRunCopy returns a copy of simRun's directory in the test's temp dir,
// named run.
func simRunCopy(t testing.TB, extra ...string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "run")
	if err := os.CopyFS(dst, os.DirFS(simRun(t, extra...))); err != nil {
		t.Fatal(err)
	}
	return dst
}

func seededDir(extra []string) (string, error) {
	key := strings.Join(extra, " ")
	seeded.mu.Lock()
	if seeded.runs == nil {
		seeded.runs = map[string]*seededRun{}
	}
	s := seeded.runs[key]
	if seeded.dir == "" {
		var err error
		if seeded.dir, err = os.MkdirTemp("", "fedcrypt-seeded-"); err != nil {
			seeded.mu.Unlock()
			return "", err
		}
	}
	if s == nil {
		s = &seededRun{dir: filepath.Join(seeded.dir, fmt.Sprintf("run-%d", len(seeded.runs)))}
		seeded.runs[key] = s
	}
	seeded.mu.Unlock()
	s.once.Do(func() {
		args := append(append(append([]string{}, seedFlags...), "--out", s.dir), extra...)
		var stderr bytes.Buffer
		e := &env{stdout: &bytes.Buffer{}, stderr: &stderr, stdin: strings.NewReader("")}
		if code := run(context.Background(), e, args); code != 0 {
			s.err = fmt.Errorf("fedcrypt %s: exit %d\n%s", strings.Join(args, " "), code, stderr.String())
		}
	})
	return s.dir, s.err
}

// removeSeeded removes the seeded runs once the tests have ended.
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
	src, err := seededDir(args[1:])
	ts.Check(err)
	ts.Check(os.CopyFS(ts.MkAbs(args[0]), os.DirFS(src)))
}
