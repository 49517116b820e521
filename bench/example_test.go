package bench_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/fedcrypt/fedcrypt/bench"
)

// A plan from costs measured elsewhere (here, round figures written out:
// train 512 examples at 50,000/s, three ciphertexts of 4,096 slots
// encrypted at 5M slots/s, ten uploads added at 100M slots/s, three
// ciphertexts decrypted at 0.3 + 3 ms; a key holder's checks at 60 µs a
// signed header, 70 µs a fingerprint or endorsement and 1 ms a ciphertext
// of the sum):
// sizes, the quorum, the budget and the noise multiplier are exact; the
// round time is the sum of the measured per-operation costs.
func ExampleNewPlan() {
	costs := &bench.Report{
		DP: []bench.DPModel{{Model: "mlp:310", Params: 9921, Private: bench.Span{Best: 50_000, Worst: 40_000}}},
		HE: []bench.HEPreset{{Preset: "precise",
			EncryptAllCores: bench.Span{Best: 5e6}, Aggregate: bench.Span{Best: 1e8},
			DecryptionShareMs: bench.Span{Best: 0.3}, CombineMs: bench.Span{Best: 3}}},
		KeyHolderCosts: bench.VerifyCosts{HeaderUs: 60, FingerprintUs: 70, EndorsementUs: 70, SumMsPerCt: 1},
	}
	p, err := bench.NewPlan(bench.PlanConfig{Model: "mlp:310", Features: 30, Classes: 2,
		Hospitals: 10, Threshold: 3, Rounds: 5, LocalSteps: 8, RowsPerHospital: 640,
		Epsilon: 3, Delta: 1e-5, Accountant: "rdp", Preset: "precise"}, costs)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d params in %d ciphertexts\n", p.Params, p.Ciphertexts)
	fmt.Printf("up %d B, down %d B per hospital per round\n", p.BytesUpPerHospital, p.BytesDownPerHospital)
	fmt.Printf("round %.4f s (train %.4f s)\n", p.RoundSeconds, p.Breakdown.Train)
	fmt.Printf("σ = %.3f over %d steps at q = %.1f\n", p.NoiseMultiplier, p.Steps, p.SampleRate)
	k, b := p.KeyHolder, p.Budget
	fmt.Printf("key holder: %d B down (sum %d B), checks %.5f s, quorum %d of %d\n", k.DownloadBytes, k.SumBytes, p.KeyHolderVerifySeconds, k.Quorum, k.KeyHolders)
	fmt.Printf("key: L = %d decryptions, a run uses %d, %.2f bits left\n", b.Budget, b.PlannedUse, b.SecurityBitsLeft)
	fmt.Println(len(p.Warnings), "warnings")
	// Output:
	// 9921 params in 3 ciphertexts
	// up 331804 B, down 79368 B per hospital per round
	// round 0.0292 s (train 0.0102 s)
	// σ = 1.373 over 40 steps at q = 0.1
	// key holder: 341780 B down (sum 331804 B), checks 0.00539 s, quorum 7 of 10
	// key: L = 45 decryptions, a run uses 15, 31.58 bits left
	// 0 warnings
}

// A model far smaller than a ciphertext still costs a whole ciphertext to
// encrypt and to add.
func TestPlanChargesWholeCiphertexts(t *testing.T) {
	costs := &bench.Report{
		DP: []bench.DPModel{{Model: "logreg", Params: 31, Private: bench.Span{Best: 1e6}}},
		HE: []bench.HEPreset{{Preset: "precise", EncryptAllCores: bench.Span{Best: 4e6}, Aggregate: bench.Span{Best: 1e8},
			DecryptionShareMs: bench.Span{Best: 0.2}, CombineMs: bench.Span{Best: 0.5}}},
	}
	p, err := bench.NewPlan(bench.PlanConfig{Model: "logreg", Features: 30, Classes: 2, Hospitals: 10, Threshold: 2,
		Rounds: 5, LocalSteps: 20, RowsPerHospital: 500, Epsilon: 1, Delta: 1e-5, Accountant: "rdp", Preset: "precise"}, costs)
	if err != nil {
		t.Fatal(err)
	}
	if p.Ciphertexts != 1 {
		t.Fatalf("%d ciphertexts for 31 parameters", p.Ciphertexts)
	}
	if want := float64(p.Slots) / 4e6; math.Abs(p.Breakdown.Encrypt-want) > 1e-12 {
		t.Errorf("encrypt %v s, want one ciphertext's %v s", p.Breakdown.Encrypt, want)
	}
	if want := 10 * float64(p.Slots) / 1e8; math.Abs(p.Breakdown.Aggregate-want) > 1e-12 {
		t.Errorf("aggregate %v s, want ten ciphertexts' %v s", p.Breakdown.Aggregate, want)
	}
}
