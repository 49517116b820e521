package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// binPath is the fedcrypt binary built once for the tests that run the CLI as
// a user does.
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fedcrypt-cli-")
	if err != nil {
		panic(err)
	}
	binPath = filepath.Join(dir, "fedcrypt")
	build := exec.Command("go", "build", "-o", binPath, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		os.RemoveAll(dir)
		panic("build fedcrypt: " + err.Error())
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is what one run of the binary produced.
type result struct {
	stdout, stderr string
	code           int
}

// runCLI runs the built binary with args in dir (the test's temp dir when
// empty) and returns its output and exit status.
func runCLI(t *testing.T, dir string, args ...string) result {
	t.Helper()
	return runCLIInput(t, dir, nil, args...)
}

func runCLIInput(t *testing.T, dir string, stdin []byte, args ...string) result {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	cmd := exec.Command(binPath, args...)
	cmd.Dir = dir
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run fedcrypt %v: %v", args, err)
	}
	return result{out.String(), errOut.String(), code}
}

// wantOneLineError checks that a failed run printed exactly one line,
// "fedcrypt: ...", containing every fragment.
func wantOneLineError(t *testing.T, r result, fragments ...string) {
	t.Helper()
	if r.code == 0 {
		t.Fatalf("exit status 0, want failure; stdout %q", r.stdout)
	}
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "fedcrypt: ") {
		t.Fatalf("stderr does not end with a 'fedcrypt: ...' line:\n%s", r.stderr)
	}
	for _, f := range fragments {
		if !strings.Contains(last, f) {
			t.Errorf("error %q does not mention %q", last, f)
		}
	}
	if strings.Contains(r.stderr, "panic:") || strings.Contains(r.stderr, "goroutine ") {
		t.Errorf("stderr holds a panic:\n%s", r.stderr)
	}
}

func TestHelpListsOnlyOwnFlags(t *testing.T) {
	r := runCLI(t, "", "--help")
	if r.code != 0 {
		t.Fatalf("--help exit %d", r.code)
	}
	for name := range commands {
		if !strings.Contains(r.stderr, name) {
			t.Errorf("--help does not list command %q", name)
		}
		h := runCLI(t, "", name, "--help")
		if h.code != 0 {
			t.Errorf("%s --help: exit %d, stderr %q", name, h.code, h.stderr)
		}
		seen := map[string]bool{}
		for _, line := range strings.Split(h.stderr, "\n") {
			if strings.HasPrefix(line, "  -") {
				if seen[line] {
					t.Errorf("%s --help lists %q twice", name, line)
				}
				seen[line] = true
			}
		}
		// glog (pulled in by Google's DP library) registers these on the
		// global flag set; none may reach fedcrypt's own flag sets.
		for _, leaked := range []string{"log_dir", "logtostderr", "vmodule", "stderrthreshold"} {
			if strings.Contains(h.stderr, leaked) {
				t.Errorf("%s --help shows dependency flag %q", name, leaked)
			}
		}
	}
}

func TestUnknownCommandAndFlag(t *testing.T) {
	r := runCLI(t, "", "no-such-command")
	wantOneLineError(t, r, "unknown command", "no-such-command")
	if r.code != 2 {
		t.Errorf("exit %d, want 2", r.code)
	}
	for name := range commands {
		r := runCLI(t, "", name, "--no-such-flag")
		wantOneLineError(t, r, "no-such-flag")
	}
}
