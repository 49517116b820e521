package audit_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/fedcrypt/fedcrypt/audit"
	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/sim"
)

// TestVerifyPrivateEvaluation checks that a run with a private evaluation
// verifies with each release counted in its hospital's recomputed ε.
func TestVerifyPrivateEvaluation(t *testing.T) {
	csv, opts, _ := data.Embedded("wdbc")
	ds, _, err := data.Load(bytes.NewReader(csv), "wdbc", opts)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "run")
	seed := uint64(3)
	cfg := sim.Defaults()
	cfg.Rounds, cfg.EvalEpsilon, cfg.Seed, cfg.OutDir = 2, 0.5, &seed, dir
	if _, err := sim.Run(context.Background(), ds, cfg); err != nil {
		t.Fatal(err)
	}
	fed, err := federation.Load(filepath.Join(dir, sim.FileConfig))
	if err != nil {
		t.Fatal(err)
	}
	run, err := audit.VerifyFile(filepath.Join(dir, sim.FileAudit), fed, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range run.Hospitals {
		last := h.Spends[len(h.Spends)-1]
		if last.Round != 3 || last.SampleRate != 1 || last.Steps != 1 {
			t.Fatalf("hospital %s: last spend %+v, want the evaluation release (round 3, q 1, one step)", h.ID, last)
		}
	}
}
