package main

import (
	"context"
	"io"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/sim"
)

// TestSimOverGRPCMatchesInMemory runs the same simulation in one process
// and with every party a separate process over gRPC with mutual TLS: both
// complete every round and their accuracies agree within DP noise.
func TestSimOverGRPCMatchesInMemory(t *testing.T) {
	fedcryptBinary = func() (string, error) { return binPath, nil }
	ds, _, err := data.LoadEmbedded("wdbc", data.Options{Missing: "mean"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := sim.Defaults()
	cfg.Rounds = 5
	seed := uint64(1)
	cfg.Seed = &seed
	cases := []struct {
		name                 string
		hospitals, threshold int
		dropout              float64
	}{
		{"3 hospitals", 3, 2, 0},
		{"5 hospitals with dropout", 5, 3, 0.2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if testing.Short() && tc.dropout > 0 {
				t.Skip("dropout run skipped in -short")
			}
			c := cfg
			c.Hospitals, c.Threshold, c.Dropout = tc.hospitals, tc.threshold, tc.dropout
			c.Timeout = 30 * time.Second
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			mem, err := sim.Run(ctx, ds, c)
			if err != nil {
				t.Fatalf("in memory: %v", err)
			}
			c.OutDir = filepath.Join(t.TempDir(), "run")
			net, err := simOverGRPC(ctx, &env{stdout: io.Discard, stderr: io.Discard}, ds, c)
			if err != nil {
				t.Fatalf("over gRPC: %v", err)
			}
			// Without faults every round completes; with them a round may
			// be abandoned when too many hospitals drop at once, and the
			// run may end early for lack of quorum, as in memory.
			t.Logf("completed rounds: %d over gRPC (%s), %d in memory", net.Rounds, net.Ended, mem.Rounds)
			if (tc.dropout == 0 && net.Rounds != c.Rounds) || net.Rounds < 1 {
				t.Errorf("completed rounds: %d over gRPC, want %d (%s)", net.Rounds, c.Rounds, net.Ended)
			}
			if len(net.History) < net.Rounds || net.BytesUpPerRound <= 0 {
				t.Errorf("gRPC run: %d rounds in its history for %d completed, %v bytes up per round", len(net.History), net.Rounds, net.BytesUpPerRound)
			}
			if net.TestRows != mem.TestRows || net.Params != mem.Params {
				t.Errorf("gRPC run: %d test rows, %d params; in memory %d, %d", net.TestRows, net.Params, mem.TestRows, mem.Params)
			}
			if !(net.Epsilon > 0 && net.Epsilon <= c.Epsilon*(1+1e-9)) {
				t.Errorf("gRPC run: ε %v, want in (0, %v]", net.Epsilon, c.Epsilon)
			}
			// Both runs see the same held-out rows; their models differ by
			// DP noise and which hospitals dropped when.
			const tol = 0.08
			t.Logf("accuracy: %.4f over gRPC, %.4f in memory", net.Accuracy, mem.Accuracy)
			if math.Abs(net.Accuracy-mem.Accuracy) > tol || net.Accuracy < 0.85 {
				t.Errorf("accuracy %.4f over gRPC, %.4f in memory: want within %v of each other and ≥ 0.85", net.Accuracy, mem.Accuracy, tol)
			}
		})
	}
}
