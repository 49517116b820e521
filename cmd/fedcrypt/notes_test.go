package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedcrypt/fedcrypt/aggregator"
	"github.com/fedcrypt/fedcrypt/sim"
	"github.com/fedcrypt/fedcrypt/stats"
)

func TestSimNotes(t *testing.T) {
	t.Parallel()
	withDropout := sim.Defaults()
	withDropout.Dropout = 0.1
	scored := []sim.RoundReport{{Round: 1, Completed: true, Evaluated: true}}
	eval := func(sigma float64) *aggregator.Evaluation {
		return &aggregator.Evaluation{ScoreMetrics: stats.ScoreMetrics{Confusion: [][]float64{{40, 5}, {6, 40}}}, NoiseStdDev: sigma}
	}
	cases := []struct {
		name string
		r    sim.Result
		cfg  sim.Config
		want string // "" for no note
	}{
		{"spare round unspent", sim.Result{DP: true, Epsilon: 0.907, History: scored}, withDropout,
			"ε ended at 0.907, below the cap 1: the noise was calibrated to keep the budget of 1 spare round for retried rounds, which this run did not need."},
		{"spare round spent", sim.Result{DP: true, Epsilon: 0.998, History: scored}, withDropout, ""},
		{"no spare round", sim.Result{DP: true, Epsilon: 0.95, History: scored}, sim.Defaults(), ""},
		{"rounds not scored", sim.Result{DP: true, Epsilon: 1, History: []sim.RoundReport{{Round: 1, Completed: true}}}, sim.Defaults(),
			"Rounds show - in the metric columns: with one process per party (--transport grpc) only the final model is scored, above."},
		{"an abandoned round is not scored either", sim.Result{DP: true, Epsilon: 1, History: append([]sim.RoundReport{{Round: 1}}, scored...)}, sim.Defaults(), ""},
		// 0.2 of 455 rows held out, 91, against σ = 31 on each of 4 counts.
		{"evaluation noise dominates", sim.Result{DP: true, Epsilon: 1, History: scored, TrainRows: []int{152, 152, 151}, PrivateEvaluation: eval(31)}, sim.Defaults(),
			"At this size the noise dominates the private evaluation: noise σ = 31 on each of 4 counts against about 91 validation rows; read the held-out test rows' figures above, or give --private-eval a larger ε."},
		{"evaluation noise small", sim.Result{DP: true, Epsilon: 1, History: scored, TrainRows: []int{152, 152, 151}, PrivateEvaluation: eval(2)}, sim.Defaults(), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			notes := simNotes(&c.r, c.cfg)
			switch {
			case c.want == "" && len(notes) > 0:
				t.Errorf("notes %q, want none", notes)
			case c.want != "" && (len(notes) != 1 || notes[0] != c.want):
				t.Errorf("notes %q\nwant [%q]", notes, c.want)
			}
		})
	}
}

func TestJoinRefusesPlainData(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fed := filepath.Join(dir, "fed")
	if r := runIn(t, context.Background(), "init", "--members", "a,b", "-o", fed); r.code != 0 {
		t.Fatal(r.stderr)
	}
	plain := filepath.Join(dir, "plain.csv")
	if err := os.WriteFile(plain, []byte(wdbcCSV()), 0o600); err != nil {
		t.Fatal(err)
	}
	recipient, _ := os.ReadFile(filepath.Join(fed, "a", "recipient.txt"))
	r := runIn(t, context.Background(), "client", "join", "--config", filepath.Join(fed, "federation.json"), "--member", "a",
		"--identity", filepath.Join(fed, "a", "identity.key"), "--data", plain, "--ledger", filepath.Join(dir, "l"), "--aggregator", "127.0.0.1:1")
	wantOneLineError(t, r, "--data "+plain+": not age-encrypted", "fedcrypt data encrypt -r "+strings.TrimSpace(string(recipient))+" -o "+plain+".age "+plain)
	if _, err := os.Stat(filepath.Join(dir, "l")); err == nil {
		t.Error("the ledger directory was made before the data was refused")
	}
}
