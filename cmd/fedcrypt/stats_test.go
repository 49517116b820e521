package main

import (
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedcrypt/fedcrypt/audit"
	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/stats"
)

// TestStatsCommand runs the statistics phase alone: its estimates are
// within their stated errors of wdbc's exact figures, the hospitals are
// charged the release and nothing else, and the audit log records it and
// verifies.
func TestStatsCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// A release of ε = 2: errors small enough to check the estimates by, and
	// a quick PLD calibration (its cost grows with ε).
	r := runIn(t, t.Context(), "stats", "--seed", "3", "--epsilon", "4", "--stats-share", "0.5", "--json", "-o", filepath.Join(dir, "run"))
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var out struct {
		Epsilon        float64         `json:"epsilon"`
		ReleaseEpsilon float64         `json:"release_epsilon"`
		Summary        stats.Summary   `json:"summary"`
		Contributors   []string        `json:"contributors"`
		Transform      json.RawMessage `json:"transform"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatal(err)
	}
	if out.ReleaseEpsilon != 2 || !(out.Epsilon >= 2 && out.Epsilon < 4) || len(out.Contributors) != 3 || len(out.Transform) == 0 {
		t.Fatalf("release ε %v, ledger ε %v, contributors %v", out.ReleaseEpsilon, out.Epsilon, out.Contributors)
	}
	// The exact figures of the training rows the three hospitals hold:
	// wdbc less its test rows.
	ds, _, err := data.LoadEmbedded("wdbc", data.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rows := float64(ds.Rows()) * 0.8
	if e := out.Summary.Rows; math.Abs(e.Value-rows) > 4*e.SE+1 {
		t.Errorf("rows %v ± %v, about %v held", e.Value, e.SE, rows)
	}
	bounds, _ := data.EmbeddedBounds("wdbc")
	for j, f := range out.Summary.Features[:3] {
		var sum float64
		for i := range ds.Rows() {
			b := bounds[f.Name]
			sum += min(max(ds.X.At(i, j), b[0]), b[1])
		}
		m := f.All.Mean
		// The exact mean of all rows stands in for the training rows'
		// (a fifth held out): a margin of a tenth of the range.
		b := bounds[f.Name]
		if m == nil || math.Abs(m.Value-sum/float64(ds.Rows())) > 4*m.SE+(b[1]-b[0])/10 {
			t.Errorf("%s: DP mean %+v, exact about %v", f.Name, m, sum/float64(ds.Rows()))
		}
	}
	fed, err := federation.Load(filepath.Join(dir, "run", "federation.json"))
	if err != nil {
		t.Fatal(err)
	}
	run, err := audit.VerifyFile(filepath.Join(dir, "run", "audit.jsonl"), fed, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if run.Statistics == nil || len(run.Rounds) != 0 || run.Ended != "statistics only" {
		t.Fatalf("log: statistics %v, %d rounds, ended %q", run.Statistics != nil, len(run.Rounds), run.Ended)
	}
	for _, h := range run.Hospitals {
		if len(h.Spends) != 1 || h.Spends[0].Release != audit.TypeStatistics {
			t.Errorf("%s: spends %+v, want the release alone", h.ID, h.Spends)
		}
	}

	text := runIn(t, t.Context(), "stats", "--seed", "3")
	for _, want := range []string{"(ε = 0.1, δ = 1e-05)-DP on its own", "rdp accountant", "radius_mean", "fill", "fell back"} {
		if !strings.Contains(text.stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, text.stdout)
		}
	}
}
