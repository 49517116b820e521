package main

import (
	"fmt"
	"io"
	"slices"

	"github.com/fedcrypt/fedcrypt/audit"
	"github.com/fedcrypt/fedcrypt/stats"
)

// privateEvaluation is what a run's private evaluation released: the
// federation's noisy totals and, when an auditor's identity opened them,
// each hospital's own release.
type privateEvaluation struct {
	totals       stats.ScoreMetrics
	contributors int
	epsilon      float64 // each release's own
	noise        float64 // σ of each total
	sealed       int     // hospitals' releases sealed to the auditors
	sites        []audit.SiteScores
	mean         *audit.SiteMean
}

// printPrivateEvaluation prints the federation's scores, then each site's
// and their mean, or says that the sites' releases are sealed.
func printPrivateEvaluation(w io.Writer, ev privateEvaluation) {
	score := func(m stats.ScoreMetrics, name string, v float64) string {
		if slices.Contains(m.Undefined, name) {
			return "n/a"
		}
		return fmt.Sprintf("%.4f", v)
	}
	line := func(m stats.ScoreMetrics) string {
		return fmt.Sprintf("accuracy %s   F1 %s   AUC %s", score(m, "accuracy", m.Accuracy), score(m, "f1", m.F1), score(m, "auc", m.AUC))
	}
	fmt.Fprintf(w, "Private evaluation on the hospitals' own held-out rows (noisy counts; each release ε = %g, within the budget):\n", ev.epsilon)
	fmt.Fprintf(w, "  federation, %d hospitals, ≈%.0f rows (noise σ %.3g per total): %s\n", ev.contributors, ev.totals.Rows, ev.noise, line(ev.totals))
	for _, s := range ev.sites {
		fmt.Fprintf(w, "  site %-10s ≈%.0f rows (noise σ %.3g per count): %s\n", s.ID, s.Rows, s.NoiseStdDev, line(s.ScoreMetrics))
	}
	switch m := ev.mean; {
	case m != nil:
		auc := "n/a"
		if m.AUCSites > 0 {
			auc = fmt.Sprintf("%.4f", m.AUC)
		}
		fmt.Fprintf(w, "  mean over the %d sites: accuracy %.4f   F1 %.4f   AUC %s\n", m.Sites, m.Accuracy, m.F1, auc)
	case ev.sealed > 0:
		fmt.Fprintf(w, "  each hospital's own release (%d) is sealed to the auditors: an auditor's identity opens them (fedcrypt audit verify --identity)\n", ev.sealed)
	}
}
