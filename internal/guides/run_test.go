//go:build unix

package guides

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// blockTimeout bounds one block, so that a block waiting for a server that
// never started fails: the longest in the guides takes under a minute on
// two shared cores.
const blockTimeout = 5 * time.Minute

var (
	goRun   = regexp.MustCompile(`\bgo run \./cmd/fedcrypt\b`)
	goBuild = regexp.MustCompile(`\bgo build -o (\S+) \./cmd/fedcrypt\b`)
)

// TestGuidesRun runs every guide's shell blocks, in order, in a scratch
// copy of the repository per guide, and checks their checked outputs.
// A block that fails stops its guide: the blocks after it build on it.
func TestGuidesRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every command of the user guides (about a minute): scripts/test-guides.sh")
	}
	dir := root(t)
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "fedcrypt"), "./cmd/fedcrypt")
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/fedcrypt: %v\n%s", err, out)
	}
	files := tracked(t, dir)
	for _, g := range guides(t, dir) {
		blocks := readGuide(t, dir, g)
		if len(blocks) == 0 {
			continue
		}
		t.Run(g, func(t *testing.T) {
			scratch := t.TempDir()
			copyFiles(t, dir, scratch, files)
			logs := t.TempDir()
			start := time.Now()
			for i, b := range blocks {
				if !b.runs() {
					t.Logf("%s: not run in CI: %s", b.at, b.skip)
					continue
				}
				script := rewrite(b.script(), filepath.Join(bin, "fedcrypt"))
				began := time.Now()
				out, err := runBlock(t, scratch, bin, filepath.Join(logs, fmt.Sprintf("block-%d.log", i)), script)
				how := "ran"
				if b.skip != "" {
					how = "ran its replacement (" + b.skip + ")"
				}
				t.Logf("%s: %s in %.1f s", b.at, how, time.Since(began).Seconds())
				if err != nil {
					t.Fatalf("%s: %v\n--- script\n%s--- output\n%s", b.at, err, script, out)
				}
				if b.output != nil {
					if err := match(*b.output, out); err != nil {
						t.Errorf("%s: the output differs from the guide's: %v\n--- output\n%s", b.at, err, out)
					}
				}
			}
			t.Logf("%s: %.1f s", g, time.Since(start).Seconds())
		})
	}
}

// rewrite makes script run the fedcrypt binary at bin where it builds or
// runs ./cmd/fedcrypt: "go run ./cmd/fedcrypt" runs it from PATH, and
// "go build -o FILE ./cmd/fedcrypt" copies it to FILE.
func rewrite(script, bin string) string {
	script = goRun.ReplaceAllString(script, "fedcrypt")
	return goBuild.ReplaceAllString(script, `cp "`+bin+`" $1`)
}

// runBlock runs script with bash -euo pipefail in dir, with bin first in
// PATH, its stdout and stderr together in the file log, and returns that
// output. It fails when the script fails or leaves processes running; the
// script and everything it started are killed at the end and on timeout.
func runBlock(t *testing.T, dir, bin, log, script string) (string, error) {
	t.Helper()
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), blockTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	runErr := cmd.Run()
	if ctx.Err() != nil {
		runErr = fmt.Errorf("still running after %v", blockTimeout)
	}
	if cmd.Process != nil && syscall.Kill(-cmd.Process.Pid, 0) == nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		runErr = errors.Join(runErr, errors.New("the block left processes running (wait for them)"))
	}
	out, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	return string(out), runErr
}

// tracked lists the files of the repository at root that git tracks or
// would track (not ignored), as a checkout has them.
func tracked(t *testing.T, root string) []string {
	t.Helper()
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	return strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
}

// copyFiles copies files, relative to from, into to with their modes; a
// file deleted from the working tree is left out.
func copyFiles(t *testing.T, from, to string, files []string) {
	t.Helper()
	for _, rel := range files {
		src := filepath.Join(from, rel)
		info, err := os.Lstat(src)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(to, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if info.Mode()&os.ModeSymlink != 0 {
			target, err := os.Readlink(src)
			if err == nil {
				err = os.Symlink(target, dst)
			}
			if err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := copyFile(src, dst, info.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
}

func copyFile(src, dst string, perm os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func TestRunBlock(t *testing.T) {
	for _, tc := range []struct {
		name, script, out, err string
	}{
		{name: "stdout and stderr in order", script: "echo one; echo two >&2; echo three\n", out: "one\ntwo\nthree\n"},
		{name: "a failing command fails the block", script: "false\necho not reached\n", err: "exit status 1"},
		{name: "a failing command in a pipe", script: "false | cat\n", err: "exit status 1"},
		{name: "an unset variable", script: "echo $UNSET_IN_GUIDES\n", err: "exit status 1"},
		{name: "waited for", script: "sleep 0.1 &\nwait\necho done\n", out: "done\n"},
		{name: "left running", script: "sleep 60 &\necho started\n", out: "started\n", err: "left processes running"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			out, err := runBlock(t, dir, dir, filepath.Join(dir, "log"), tc.script)
			wantErr(t, "runBlock", err, tc.err)
			if tc.out != "" && out != tc.out {
				t.Errorf("output %q, want %q", out, tc.out)
			}
		})
	}
}

func TestRewrite(t *testing.T) {
	for in, want := range map[string]string{
		"go run ./cmd/fedcrypt sim --seed 1\n":                 "fedcrypt sim --seed 1\n",
		"x=$(go run ./cmd/fedcrypt keygen -o k)":               "x=$(fedcrypt keygen -o k)",
		"go build -o fedcrypt ./cmd/fedcrypt\n./fedcrypt init": `cp "/b/fedcrypt" fedcrypt` + "\n./fedcrypt init",
		"(cd deploy && go run ./cmd/mkimage -oci ../oci)":      "(cd deploy && go run ./cmd/mkimage -oci ../oci)",
		"go test ./cmd/fedcrypt":                               "go test ./cmd/fedcrypt",
	} {
		if got := rewrite(in, "/b/fedcrypt"); got != want {
			t.Errorf("rewrite(%q) = %q, want %q", in, got, want)
		}
	}
}
