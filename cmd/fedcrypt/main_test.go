package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(cleanup{m}, map[string]func(){
		"fedcrypt": func() { os.Exit(runProcess()) },
	})
}

// cleanup runs the tests, then removes the seeded runs and the release
// binary if they were made.
type cleanup struct{ m *testing.M }

func (c cleanup) Run() int {
	// A gRPC simulation run by the tests starts its parties as this
	// binary's fedcrypt.
	fedcryptBinary = func() (string, error) { return exec.LookPath("fedcrypt") }
	code := c.m.Run()
	removeSeeded()
	if release.path != "" {
		os.RemoveAll(filepath.Dir(release.path))
	}
	return code
}

// binPath returns the fedcrypt command the tests that need a separate
// process run: a copy of this test binary that testscript.Main put in
// $PATH, which runs fedcrypt when started under that name.
func binPath() string {
	p, err := exec.LookPath("fedcrypt")
	if err != nil {
		panic("fedcrypt is not in $PATH: " + err.Error())
	}
	return p
}

// long skips, with -short, a test too costly for it (real processes,
// builds, measurements), saying why: CI runs these without -short, on their
// own (scripts/test-processes.sh).
func long(t *testing.T, why string) {
	t.Helper()
	if testing.Short() {
		t.Skip(why + ": scripts/test-processes.sh runs it")
	}
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
	return runBinary(t, binPath(), dir, stdin, args...)
}

// runBinary runs the fedcrypt binary bin with args in dir.
func runBinary(t *testing.T, bin, dir string, stdin []byte, args ...string) result {
	t.Helper()
	return runEnv(t, bin, dir, stdin, nil, args...)
}

// runEnv runs the fedcrypt binary bin with args in dir, with the variables
// of env (KEY=value) added to its environment.
func runEnv(t *testing.T, bin, dir string, stdin []byte, env []string, args ...string) result {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
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

// decodeJSON decodes a successful run's stdout, one JSON object, into v.
func decodeJSON(t *testing.T, r result, v any) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, r.stdout)
	}
}

// TestEveryCommandsHelp: every command of the table answers --help with its
// usage, its examples and its own flags, each once.
func TestEveryCommandsHelp(t *testing.T) {
	t.Parallel()
	r := runIn(t, t.Context(), "--help")
	if r.code != 0 {
		t.Fatalf("--help exit %d", r.code)
	}
	for _, c := range commandTable() {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(r.stderr, "  "+c.name+" ") {
				t.Errorf("--help does not list %q", c.name)
			}
			if len(c.examples) == 0 {
				t.Errorf("%s has no example", c.name)
			}
			h := runIn(t, t.Context(), append(strings.Fields(c.name), "--help")...)
			if h.code != 0 {
				t.Fatalf("%s --help: exit %d, stderr %q", c.name, h.code, h.stderr)
			}
			if !strings.HasPrefix(h.stderr, "usage: "+c.usage+"\n") {
				t.Errorf("%s --help does not start with its usage line:\n%s", c.name, h.stderr)
			}
			for _, ex := range c.examples {
				if !strings.HasPrefix(ex, "fedcrypt "+c.name) && !strings.HasPrefix(ex, "source <(fedcrypt "+c.name) {
					t.Errorf("%s example %q runs another command", c.name, ex)
				}
				if !strings.Contains(h.stderr, "\n  "+ex+"\n") {
					t.Errorf("%s --help does not show example %q", c.name, ex)
				}
			}
			seen := map[string]bool{}
			for _, line := range strings.Split(h.stderr, "\n") {
				if strings.HasPrefix(line, "  -") {
					if seen[line] {
						t.Errorf("%s --help lists %q twice", c.name, line)
					}
					seen[line] = true
				}
			}
			// glog (pulled in by Google's DP library) registers these on the
			// global flag set; none may reach fedcrypt's own flag sets.
			for _, leaked := range []string{"log_dir", "logtostderr", "vmodule", "stderrthreshold"} {
				if strings.Contains(h.stderr, leaked) {
					t.Errorf("%s --help shows dependency flag %q", c.name, leaked)
				}
			}
		})
	}
}

// TestUnknownFlagIsOneLine: a mistyped flag is one line naming it and the
// way to the help, with exit status 2, for every command.
func TestUnknownFlagIsOneLine(t *testing.T) {
	t.Parallel()
	for _, c := range commandTable() {
		r := runIn(t, t.Context(), append(strings.Fields(c.name), "--no-such-flag")...)
		want := "fedcrypt: " + c.name + ": flag provided but not defined: -no-such-flag (see 'fedcrypt " + c.name + " --help')\n"
		if r.code != 2 || r.stderr != want || r.stdout != "" {
			t.Errorf("%s --no-such-flag: exit %d, stdout %q, stderr %q; want exit 2 and stderr %q", c.name, r.code, r.stdout, r.stderr, want)
		}
	}
}

// TestFlagGroupsAgree: wherever a command takes a shared flag, it takes
// the whole group, spelled alike: -o is --out, -i is --identity (with
// --passphrase-file), -r is --recipient (with -R), and --json is a switch.
// Two commands name recipients for another purpose: sim's --recipient
// (also seal the run's outputs to it) and data split's -r/-R (one per
// hospital).
func TestFlagGroupsAgree(t *testing.T) {
	t.Parallel()
	ownRecipients := map[string]bool{"sim": true, "data split": true}
	for _, c := range commandTable() {
		fs := c.flags()
		for _, pair := range [][2]string{{"out", "o"}, {"identity", "i"}, {"recipient", "r"}} {
			if pair[0] == "recipient" && ownRecipients[c.name] {
				continue
			}
			long, short := fs.Lookup(pair[0]), fs.Lookup(pair[1])
			if (long == nil) != (short == nil) {
				t.Errorf("%s: --%s and -%s come apart", c.name, pair[0], pair[1])
				continue
			}
			if long == nil {
				continue
			}
			if err := fs.Set(pair[1], "x.age"); err != nil {
				t.Fatalf("%s -%s: %v", c.name, pair[1], err)
			}
			if !strings.Contains(long.Value.String(), "x.age") {
				t.Errorf("%s: -%s x.age left --%s %q", c.name, pair[1], pair[0], long.Value.String())
			}
		}
		if fs.Lookup("identity") != nil && fs.Lookup("passphrase-file") == nil {
			t.Errorf("%s takes --identity without --passphrase-file", c.name)
		}
		if fs.Lookup("r") != nil && fs.Lookup("R") == nil {
			t.Errorf("%s takes -r without -R", c.name)
		}
		if j := fs.Lookup("json"); j != nil && j.DefValue != "false" {
			t.Errorf("%s: --json is not a switch", c.name)
		}
	}
}
