package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// simOut runs `fedcrypt sim --out` with extra flags and returns the run
// directory.
func simOut(t *testing.T, args ...string) string {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "run")
	r := runCLI(t, dir, append([]string{"sim", "--rounds", "2", "--seed", "3", "--out", out}, args...)...)
	if r.code != 0 {
		t.Fatalf("sim: exit %d: %s", r.code, r.stderr)
	}
	return out
}

func TestAuditVerifyAcceptsASimRun(t *testing.T) {
	t.Parallel()
	run := simOut(t)
	r := runCLI(t, "", "audit", "verify", run)
	// Neither anchored nor witnessed: not VERIFIED outright.
	if r.code != 0 || !strings.HasPrefix(r.stdout, "CHAIN AND SIGNATURES VERIFIED: ") || strings.Count(r.stdout, "\n") != 1 {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "NOT anchored") || !strings.Contains(r.stderr, "--identity") {
		t.Errorf("an unanchored verification does not say so: %q %q", r.stdout, r.stderr)
	}
	// --strict wants the anchor and the hospitals' witnesses.
	key := filepath.Join(run, "researcher.key")
	wantOneLineError(t, runCLI(t, "", "audit", "verify", run, "--strict", "--identity", key), "--strict", "not witnessed")
	r = runCLI(t, "", "audit", "verify", run, "--strict", "--identity", key, "--witness", filepath.Join(run, "hospitals"))
	if r.code != 0 || !strings.HasPrefix(r.stdout, "VERIFIED: ") {
		t.Fatalf("anchored and witnessed, --strict: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, "", "audit", "verify", filepath.Join(run, "audit.jsonl"), "--identity", filepath.Join(run, "researcher.key"))
	if r.code != 0 || !strings.Contains(r.stdout, "anchored at entry 4") {
		t.Fatalf("anchored: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	var out struct {
		Verified  bool `json:"verified"`
		Anchored  bool `json:"anchored"`
		Entries   int  `json:"entries"`
		Hospitals []struct {
			ID         string  `json:"id"`
			Claimed    float64 `json:"claimed_epsilon"`
			Recomputed float64 `json:"recomputed_epsilon"`
			Cap        float64 `json:"cap"`
		} `json:"hospitals"`
	}
	decodeJSON(t, runCLI(t, "", "audit", "verify", run, "-i", filepath.Join(run, "researcher.key"), "--json"), &out)
	if !out.Verified || !out.Anchored || out.Entries != 5 || len(out.Hospitals) != 3 {
		t.Fatalf("--json: %+v", out)
	}
	for _, h := range out.Hospitals {
		if h.Claimed <= 0 || h.Claimed > h.Cap || h.Recomputed > h.Claimed*(1+1e-9) {
			t.Errorf("%s: claimed %v, recomputed %v, cap %v", h.ID, h.Claimed, h.Recomputed, h.Cap)
		}
	}
}

func TestAuditVerifyDetectsTampering(t *testing.T) {
	t.Parallel()
	base := simOut(t)
	// Entries: 1 setup, 2 round 1, 3 round 2, 4 end.
	cases := []struct {
		name   string
		tamper func(lines []string) []string
		entry  string
	}{
		{"byte changed", func(l []string) []string {
			l[1] = strings.Replace(l[1], `"attempt":1`, `"attempt":2`, 1)
			return l
		}, "entry 2:"},
		{"entry deleted", func(l []string) []string { return append(l[:1:1], l[2:]...) }, "entry 2:"},
		{"entries reordered", func(l []string) []string { l[1], l[2] = l[2], l[1]; return l }, "entry 2:"},
		{"tail cut off", func(l []string) []string { return l[:3] }, "entry 4:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			run := filepath.Join(t.TempDir(), "run")
			if err := os.CopyFS(run, os.DirFS(base)); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(run, "audit.jsonl")
			raw, _ := os.ReadFile(path)
			l := strings.SplitAfter(strings.TrimSuffix(string(raw), "\n"), "\n")
			os.WriteFile(path, []byte(strings.Join(c.tamper(l), "")+"\n"), 0o600)
			for _, args := range [][]string{{}, {"--json"}, {"-i", filepath.Join(run, "researcher.key")}} {
				r := runCLI(t, "", append([]string{"audit", "verify", run}, args...)...)
				if len(args) > 0 && args[0] == "--json" {
					if r.code != 1 || r.stderr != "" {
						t.Errorf("--json: exit %d, stderr %q; want 1 and the verdict in the JSON only", r.code, r.stderr)
					}
				} else {
					wantVerdictFailure(t, r, c.entry)
				}
				if len(args) > 0 && args[0] == "--json" {
					var out map[string]any
					decodeJSON(t, result{stdout: r.stdout}, &out)
					if out["verified"] != false || out["entry"] == nil || out["reason"] == "" {
						t.Errorf("--json on failure: %v", out)
					}
				}
			}
		})
	}
}

func TestAuditVerifyUnprotectedRuns(t *testing.T) {
	t.Parallel()
	run := simOut(t, "--no-dp", "--no-he")
	wantVerdictFailure(t, runCLI(t, "", "audit", "verify", run), "entry 1:", "--no-dp", "--no-he", "--allow-unprotected")
	r := runCLI(t, "", "audit", "verify", run, "--allow-unprotected")
	if r.code != 0 || !strings.Contains(r.stdout, "UNPROTECTED RUN") {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestAuditVerifyBadInvocations(t *testing.T) {
	t.Parallel()
	run := simOut(t)
	dir := t.TempDir()
	lone := filepath.Join(dir, "audit.jsonl")
	raw, _ := os.ReadFile(filepath.Join(run, "audit.jsonl"))
	os.WriteFile(lone, raw, 0o600)
	other := simOut(t, "--hospitals", "4")
	stranger := filepath.Join(dir, "stranger.key")
	if r := runCLI(t, dir, "keygen", "--out", filepath.Join(dir, "k")); r.code != 0 {
		t.Fatalf("keygen: %s", r.stderr)
	}
	os.Rename(filepath.Join(dir, "k", "identity.txt"), stranger)
	cases := []struct {
		name      string
		args      []string
		fragments []string
	}{
		{"no argument", []string{"audit", "verify"}, []string{"one LOG or DIR"}},
		{"no subcommand", []string{"audit"}, []string{"missing subcommand"}},
		{"unknown subcommand", []string{"audit", "check"}, []string{`"check"`}},
		{"missing log", []string{"audit", "verify", filepath.Join(dir, "nope")}, []string{"nope"}},
		{"no config beside the log", []string{"audit", "verify", lone}, []string{"--config"}},
		{"checkpoint without identity", []string{"audit", "verify", run, "--checkpoint", filepath.Join(run, "checkpoint.age")}, []string{"--identity"}},
		{"identity that cannot open the checkpoint", []string{"audit", "verify", run, "-i", stranger}, []string{"checkpoint"}},
		{"another run's checkpoint", []string{"audit", "verify", run, "-i", filepath.Join(other, "researcher.key"),
			"--checkpoint", filepath.Join(other, "checkpoint.age")}, []string{"checkpoint"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantOneLineError(t, runCLI(t, dir, c.args...), c.fragments...)
		})
	}
	// Another federation's config is a verdict: the log fails against it.
	wantVerdictFailure(t, runCLI(t, dir, "audit", "verify", run, "--config", filepath.Join(other, "federation.json")),
		"entry 1:", "does not start from this federation config")
}

// wantVerdictFailure checks that a failed verification said so once: exit
// status 1 and one verdict line on stdout, "FAILED: ...", holding every
// fragment, and nothing on stderr.
func wantVerdictFailure(t *testing.T, r result, fragments ...string) {
	t.Helper()
	if r.code != 1 || !strings.HasPrefix(r.stdout, "FAILED: ") || strings.Count(r.stdout, "\n") != 1 || r.stderr != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q; want 1, one FAILED verdict and nothing else", r.code, r.stdout, r.stderr)
	}
	for _, f := range fragments {
		if !strings.Contains(r.stdout, f) {
			t.Errorf("verdict %q does not mention %q", r.stdout, f)
		}
	}
}
