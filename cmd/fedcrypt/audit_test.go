package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAuditVerifyAcceptsASimRun(t *testing.T) {
	t.Parallel()
	run := simRun(t)
	ctx := t.Context()
	r := runIn(t, ctx, "audit", "verify", run)
	// Neither anchored nor witnessed: not VERIFIED outright.
	if r.code != 0 || !strings.HasPrefix(r.stdout, "CHAIN AND SIGNATURES VERIFIED: ") || strings.Count(r.stdout, "\n") != 1 {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "NOT anchored") || !strings.Contains(r.stderr, "--identity") {
		t.Errorf("an unanchored verification does not say so: %q %q", r.stdout, r.stderr)
	}
	// --strict wants the anchor and the hospitals' witnesses.
	key := filepath.Join(run, "researcher.key")
	wantOneLineError(t, runIn(t, ctx, "audit", "verify", run, "--strict", "--identity", key), "--strict", "not witnessed")
	r = runIn(t, ctx, "audit", "verify", run, "--strict", "--identity", key, "--witness", filepath.Join(run, "hospitals"))
	if r.code != 0 || !strings.HasPrefix(r.stdout, "VERIFIED: ") {
		t.Fatalf("anchored and witnessed, --strict: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = runIn(t, ctx, "audit", "verify", filepath.Join(run, "audit.jsonl"), "--identity", filepath.Join(run, "researcher.key"))
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
	decodeJSON(t, runIn(t, ctx, "audit", "verify", run, "-i", filepath.Join(run, "researcher.key"), "--json"), &out)
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
	// Entries: 1 setup, 2 statistics, 3 round 1, 4 round 2, 5 end.
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
			run := simRunCopy(t)
			path := filepath.Join(run, "audit.jsonl")
			raw, _ := os.ReadFile(path)
			l := strings.SplitAfter(strings.TrimSuffix(string(raw), "\n"), "\n")
			os.WriteFile(path, []byte(strings.Join(c.tamper(l), "")+"\n"), 0o600)
			for _, args := range [][]string{{}, {"--json"}, {"-i", filepath.Join(run, "researcher.key")}} {
				r := runIn(t, t.Context(), append([]string{"audit", "verify", run}, args...)...)
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
