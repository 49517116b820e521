package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedcrypt/fedcrypt/bench"
	"github.com/fedcrypt/fedcrypt/sim"
)

func TestPlanJSON(t *testing.T) {
	t.Parallel()
	r := runCLI(t, "", "plan", "--json", "--features", "30", "--model", "mlp:310", "--hospitals", "10",
		"--rows", "500", "--rounds", "5", "--local-steps", "8", "--epsilon", "3")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var p bench.Plan
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, r.stdout)
	}
	// 30·310 + 310 + 310 + 1 parameters in ⌈9921/4096⌉ = 3 ciphertexts.
	if p.Params != 9921 || p.Ciphertexts != 3 || p.Slots != 4096 {
		t.Errorf("params %d, ciphertexts %d, slots %d", p.Params, p.Ciphertexts, p.Slots)
	}
	if p.BytesUpPerHospital <= 8*p.Params || p.BytesDownPerHospital != 8*p.Params {
		t.Errorf("bytes up %d, down %d for %d params", p.BytesUpPerHospital, p.BytesDownPerHospital, p.Params)
	}
	if got := float64(p.BytesUpPerHospital) / float64(p.Params); got > 3*33 {
		t.Errorf("%v bytes per parameter", got)
	}
	if p.Steps != 40 || p.SampleRate != sim.Defaults().SampleRate {
		t.Errorf("steps %d, sample rate %v", p.Steps, p.SampleRate)
	}
	if !(p.NoiseMultiplier > 0.3 && p.NoiseMultiplier < 4) {
		t.Errorf("noise multiplier %v", p.NoiseMultiplier)
	}
	b := p.Breakdown
	if sum := b.Train + b.Encrypt + b.Aggregate + b.DecryptionShare + b.Combine + b.Verify; !(p.RoundSeconds > 0) || math.Abs(sum-p.RoundSeconds) > 1e-9*sum {
		t.Errorf("round %v s, parts sum to %v", p.RoundSeconds, sum)
	}
	if len(p.Warnings) != 0 {
		t.Errorf("warnings on a sound plan: %q", p.Warnings)
	}
	// The decryption protocol: 10 key holders at T = 2 need q = 6
	// endorsements; the key's default budget is 3 ciphertexts × (5 rounds
	// + 1 spare) × 3 attempts, of which the run uses 5 × 3.
	k := p.KeyHolder
	if k.Quorum != 6 || k.Hospitals != 10 || k.SumBytes != p.KeyHolderExtraDown || k.DownloadBytes != k.CommitBytes+k.RequestBytes || !k.WithinBound {
		t.Errorf("key holder download %+v", k)
	}
	if !(p.PlaintextRoundSeconds > b.Train) || p.PlaintextRoundSeconds >= p.RoundSeconds || math.Abs(p.RoundRatio-p.RoundSeconds/p.PlaintextRoundSeconds) > 1e-12 {
		t.Errorf("plaintext round %v s, round %v s, ratio %v", p.PlaintextRoundSeconds, p.RoundSeconds, p.RoundRatio)
	}
	if !(p.KeyHolderVerifySeconds > 0) || p.KeyHolderVerifySeconds != b.Verify {
		t.Errorf("key holder checks %v s, breakdown %v", p.KeyHolderVerifySeconds, b.Verify)
	}
	if u := p.Budget; u.Budget != 54 || u.PlannedUse != 15 || u.MaxForPreset < u.Budget || !(u.SecurityBitsLeft > u.SecurityBitsAtBudget) || math.Abs(u.SecurityBitsLeft-u.SecurityBitsAtBudget-math.Log2(54.0/15)) > 1e-9 {
		t.Errorf("decryption budget %+v", u)
	}
	if !strings.HasPrefix(p.Command, "fedcrypt plan --model mlp:310 --features 30") || !strings.Contains(p.Command, "--hospitals 10") {
		t.Errorf("command %q", p.Command)
	}
	// Agrees with budget on σ.
	bud := runCLI(t, "", "budget", "--json", "--target-epsilon", "3", "--sample-rate", fmt.Sprint(p.SampleRate), "--steps", "40")
	var bj budgetResult
	if err := json.Unmarshal([]byte(bud.stdout), &bj); err != nil {
		t.Fatal(err)
	}
	if bj.NoiseMultiplier != p.NoiseMultiplier {
		t.Errorf("plan σ %v, budget σ %v", p.NoiseMultiplier, bj.NoiseMultiplier)
	}
}

// measuredCosts is a bench --json report with a figure for every cost plan
// reads: DP-SGD throughputs for logistic regression and a 10k MLP, each
// preset's CKKS costs, plaintext aggregation and a key holder's checks.
func measuredCosts() bench.Report {
	span := func(v float64) bench.Span { return bench.Span{Best: v, Worst: v / 2} }
	he := func(preset string) bench.HEPreset {
		return bench.HEPreset{Preset: preset, Slots: 4096, Params: 100_000, Cores: 2, EncryptOneCore: span(5e5), EncryptAllCores: span(1e6),
			Aggregate: span(2e8), DecryptionShareMs: span(3), CombineMs: span(4)}
	}
	return bench.Report{
		Quick: true, Reps: 2,
		Machine: bench.Machine{CPU: "test CPU", Cores: 2, GOMAXPROCS: 2, GoVersion: "go1.x", OS: "linux", Arch: "amd64"},
		DP: []bench.DPModel{
			{Model: "logreg", Params: 31, Private: span(2e5), NonPrivate: span(1e6)},
			{Model: "mlp:310", Params: 9921, Private: span(2e4), NonPrivate: span(4e5)},
		},
		HE:             []bench.HEPreset{he("compact"), he("precise")},
		PlainAggregate: span(1e9),
		KeyHolderCosts: bench.VerifyCosts{HeaderUs: 50, FingerprintUs: 40, EndorsementUs: 45, PerMemberNs: 20, SumMsPerCt: 1.5},
	}
}

func TestPlanWarnings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b, err := json.Marshal(measuredCosts())
	if err != nil {
		t.Fatal(err)
	}
	costs := filepath.Join(dir, "bench.json")
	if err := os.WriteFile(costs, b, 0o600); err != nil {
		t.Fatal(err)
	}
	// 200 hospitals and 12 key holders on the compact preset, 50 rows each
	// with δ = 0.05, ε = 0.1 over 1000 steps: every warning.
	r := runIn(t, t.Context(), "plan", "--json", "--bench", costs, "--data", "wdbc", "--hospitals", "200", "--key-holders", "12",
		"--rows", "50", "--delta", "0.05", "--epsilon", "0.1", "--rounds", "50", "--local-steps", "20", "--preset", "compact")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, "calibrating") {
		t.Error("calibrated despite --bench")
	}
	var p bench.Plan
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil {
		t.Fatal(err)
	}
	if p.Config.Features != 30 || p.Params != 31 {
		t.Errorf("wdbc: %d features, %d params", p.Config.Features, p.Params)
	}
	all := strings.Join(p.Warnings, "\n")
	for _, want := range []string{"budget small", "δ = 0.05 ≥ 1/n", "sums at most 100 updates", "at most 10 key holders", "bits of precision"} {
		if !strings.Contains(all, want) {
			t.Errorf("no warning %q in:\n%s", want, all)
		}
	}
	// The round's parts are the costs read, scaled: training from the
	// nearest measured model (logistic regression), 20 steps at sampling
	// rate 0.2 of 50 rows.
	if want := 20 * 0.2 * 50 / 2e5; math.Abs(p.Breakdown.Train-want) > 1e-9*want {
		t.Errorf("training %v s a round, want %v from the costs file", p.Breakdown.Train, want)
	}
	h := runIn(t, t.Context(), "plan", "--bench", costs, "--features", "30")
	if h.code != 0 || !strings.Contains(h.stdout, "noise multiplier") || !strings.Contains(h.stdout, "round time") {
		t.Errorf("exit %d, table:\n%s", h.code, h.stdout)
	}
}
