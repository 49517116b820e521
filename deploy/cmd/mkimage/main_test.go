package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRunWritesBothFormatsReproducibly(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "fedcrypt")
	if err := os.WriteFile(bin, []byte("stand-in for the binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	var results []map[string]string
	for _, sub := range []string{"a", "b"} {
		var stdout, stderr bytes.Buffer
		args := []string{"-binary", bin, "-version", "1.2.3", "-revision", "abc", "-epoch", "1767225600",
			"-tarball", filepath.Join(dir, sub+".tar"), "-oci", filepath.Join(dir, sub+"-oci"), "-json"}
		if err := run(context.Background(), args, &stdout, &stderr); err != nil {
			t.Fatalf("mkimage %s: %v", strings.Join(args, " "), err)
		}
		var res map[string]string
		if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
			t.Fatalf("stdout is not one JSON object: %v: %q", err, stdout.String())
		}
		results = append(results, res)
		for _, p := range []string{sub + ".tar", sub + "-oci/index.json", sub + "-oci/oci-layout"} {
			if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
				t.Errorf("missing output: %v", err)
			}
		}
	}
	if results[0]["digest"] != results[1]["digest"] || !strings.HasPrefix(results[0]["digest"], "sha256:") {
		t.Errorf("digests %q and %q, want the same sha256", results[0]["digest"], results[1]["digest"])
	}
	if results[0]["tag"] != "fedcrypt:1.2.3" || results[0]["created"] != "2026-01-01T00:00:00Z" {
		t.Errorf("tag %q created %q, want fedcrypt:1.2.3 at 2026-01-01T00:00:00Z", results[0]["tag"], results[0]["created"])
	}
}

func TestRunRefuses(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "fedcrypt")
	if err := os.WriteFile(bin, []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	existing := filepath.Join(dir, "old.tar")
	if err := os.WriteFile(existing, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := []string{"-binary", bin, "-version", "1", "-epoch", "0"}
	for _, tc := range []struct {
		name, want string
		args       []string
	}{
		{"no output", "give -tarball", base},
		{"existing tarball", "refusing to overwrite", append(base, "-tarball", existing)},
		{"non-empty layout directory", "not empty", append(base, "-oci", dir)},
		{"bad architecture", "architecture", append(base, "-arch", "mips", "-tarball", filepath.Join(dir, "new.tar"))},
		{"bad tag", "tag", append(base, "-tag", "Not A Tag", "-tarball", filepath.Join(dir, "new.tar"))},
		{"stray argument", "unexpected argument", append(base, "extra")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tc.args, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if b, _ := os.ReadFile(existing); string(b) != "keep" {
		t.Errorf("an existing tarball was changed: %q", b)
	}
}

func TestCreationTime(t *testing.T) {
	ctx := context.Background()
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	if got, err := creationTime(ctx, 5, "."); err != nil || !got.Equal(time.Unix(5, 0)) {
		t.Errorf("-epoch 5: %v, %v; the flag wins", got, err)
	}
	if got, err := creationTime(ctx, -1, "."); err != nil || !got.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("SOURCE_DATE_EPOCH: %v, %v", got, err)
	}
	t.Setenv("SOURCE_DATE_EPOCH", "yesterday")
	if _, err := creationTime(ctx, -1, "."); err == nil {
		t.Error("a malformed SOURCE_DATE_EPOCH was accepted")
	}
	t.Setenv("SOURCE_DATE_EPOCH", "")
	if got, err := creationTime(ctx, -1, t.TempDir()); err != nil || !got.Equal(time.Unix(0, 0)) {
		t.Errorf("outside a git repository: %v, %v; want the Unix epoch", got, err)
	}
}
