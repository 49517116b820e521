// Package bench measures what privacy costs on this machine and estimates
// the costs of a planned federation: it is the logic behind `fedcrypt bench`
// and `fedcrypt plan`.
//
// [Run] measures, side by side in one process: DP-SGD throughput private and
// non-private (wdbc, batch 64, logistic regression and MLPs of 9,921 and
// 1,012,771 parameters) with both sides on one core (GOMAXPROCS 1), then
// both on all cores, the seconds per epoch of the text models on sparse
// input shaped like the medical abstracts (1,600 documents of 100 tokens;
// softmax regression on 2¹¹ and 2¹⁸ hash buckets, an embedding bag),
// private and not at one thread and at all cores, so that both sides of each
// ratio run with the same parallelism, the DP noise samplers' cost per draw, each CKKS
// preset's encryption (one core and all cores), aggregation, decryption
// share, combination, bytes on the wire per parameter and decrypted
// precision, and whole federation rounds through sim.Run, encrypted and not,
// with the same seed, and what one key holder of the decryption set
// downloads and checks per round under the sum check of package client
// ([KeyHolderCheck]: real keys, signatures, fingerprints and an encrypted
// sum, at 10, 100 and 1,000 contributors). [Calibrate] is the small subset
// a plan needs.
//
// # Method
//
// The machines fedcrypt is measured on are shared: other load only ever adds
// time, so every figure is measured Reps times and reported as a [Span],
// the best (least disturbed) and the worst repetition. A ratio is always
// taken between figures measured in the same run, alternating where the two
// sides are cheap (private and non-private steps): it is the figure that
// survives load best. Whole rounds of each size are timed after one untimed
// encrypted round: the first run of a size in a process grows the heap, a
// cost a long-running party pays once.
//
// Precision is measured, not derived: 100 contributors encrypt vectors
// uniform in [−1, 1] under a collective key of 10 key holders, T = 10 shares
// decrypt the sum, and the figure is −log₂ of the worst absolute error of
// the mean. The σ-based estimate next to it is
//
//	bits ≈ log₂(c·Δ/σ_slot),  σ_slot = √(n·(c·v_fresh + T·σ_flood²))
//
// (package he's noise model; c contributors, ring degree n).
//
// # Plans
//
// [NewPlan] turns a [PlanConfig] and measured costs into sizes (exact, from
// he.Params.UpdateSize and DecryptionShareSize), a round time (sum of local
// DP-SGD, one encryption, the aggregator's additions of every upload, one
// decryption share, one combination; each party on a machine like the
// measured one, network excluded) and the noise multiplier from
// dp.CalibrateNoise over Rounds × LocalSteps steps. DP-SGD time per example
// is taken from the measured model nearest in parameter count and scaled
// linearly with the parameters above it (dense layers cost O(parameters)
// per example).
//
// A plan also gives a key holder's download per round ([KeyHolderDownload]:
// the commitment and the decryption request marshalled by the real encoders
// at the planned sizes; tests check it equals the real messages' size), the
// time of its checks from the measured per-item costs ([VerifyCosts]: a
// signed item's cost grows with the federation's members), and the
// collective key's decryption budget as federation.Config counts it, with
// the security bits he.Params.SecurityBits leaves after the planned run.
//
// Warnings follow the threat model and the presets' limits: σ ≥ 4 (the
// budget is small for the steps), δ ≥ 1/n (a mechanism that publishes a
// random record satisfies it; Dwork and Roth 2014, §2.3), more hospitals
// than the preset's addends or key holders, and under 16 bits of precision
// on the mean.
//
// # Scale
//
// [Scale] runs one large simulated federation in this process (CKKS on, a
// committee of at most 16 key holders) and reports its round times, CPU
// time, sampled peak heap and peak live heap; TestScale runs 100 and 1,000 hospitals when FEDCRYPT_SCALE is
// set. All hospitals live in the process, so the heap grows with hospitals ×
// model through their own state (about 100 bytes per parameter per
// hospital, measured); the aggregator's share, seen in a heap profile taken
// near the peak, is one running sum and the model.
//
// Nothing in this package handles secrets of a real federation: keys, data
// and updates are generated here for measurement and discarded.
package bench
