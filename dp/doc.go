// Package dp is fedcrypt's differential privacy: DP-SGD ([Train]), the noise
// samplers it draws from ([NewNoise]), the privacy accountants that turn its
// settings into an (ε, δ) guarantee ([Epsilon], [Accountant]), the
// calibration that goes the other way ([CalibrateNoise]), and the per-data-set
// ledger that enforces a budget across runs and federations ([Ledger]).
//
// # Threat model
//
// Anyone who sees a trained model, an update, or a released statistic learns
// at most what the (ε, δ) guarantee allows about any one record (or, with a
// privacy unit, any one patient), accounted over every run and round the data
// set took part in. Noise is drawn from AES-256-CTR keyed from crypto/rand
// (or a simulation seed) and is immune to floating-point attacks (Mironov 2012):
// see "Noise" below. Timing side channels are out of scope, as in DESIGN.md.
// Gradients, noise and data never appear in errors.
//
// # Mechanism and neighbouring relation
//
// Every step of DP-SGD is the Poisson-subsampled Gaussian mechanism: each
// record (or, with a privacy unit, each patient) joins the batch
// independently with probability q, its gradient is clipped to L2 norm C,
// and Gaussian noise of standard deviation σC is added to the sum. With
// sensitivity normalized to 1 the two output distributions under
// add/remove-one-record neighbouring are
//
//	P = (1−q)·N(0, σ²) + q·N(1, σ²)   (with the record)
//	Q = N(0, σ²)                       (without it)
//
// and an [Event] is a run of steps with one (q, σ).
//
// # Accountants
//
// [KindRDP] follows Mironov, Talwar and Zhang, "Rényi Differential Privacy of
// the Sampled Gaussian Mechanism" (2019): for integer orders
//
//	RDP(α) = 1/(α−1) · log Σ_{i=0}^{α} C(α,i) (1−q)^{α−i} q^i exp((i²−i)/(2σ²))
//
// and the two-sided erfc series of their Section 3.4 for fractional orders.
// RDP adds over steps and events; the conversion to (ε, δ) is Balle, Barthe,
// Gaboardi, Hsu and Sato, "Hypothesis testing interpretations and Rényi
// differential privacy" (2020), Theorem 21:
//
//	ε = min_α  RDP(α) + log((α−1)/α) − (log δ + log α)/(α−1)
//
// minimized over a grid of orders, by default Opacus's (1.1 to 10.9 by 0.1,
// then 12 to 63; [OpacusOrders]); the grid is recorded in the
// [AccountantConfig].
//
// [KindPLD] computes the privacy loss distribution (Koskela, Jälkö and
// Honkela 2020; Meiser and Mohammadi 2018) on the grid hℤ with the
// pessimistic connect-the-dots discretization of Doroshenko, Ghazi, Kamath,
// Kumar and Manurangsi, "Connect the Dots: Tighter Discrete Approximations
// of Privacy Loss Distributions" (2022): the exact hockey-stick divergence
// δ(ε) = ∫(P − e^ε Q)₊ is evaluated in closed form at every grid point and
// the masses
//
//	p_j = [e^h (δ(x_{j−1}) − δ(x_j)) − (δ(x_j) − δ(x_{j+1}))] / (e^h − 1)
//
// reproduce it there and dominate it in between. Both neighbouring
// directions (remove: P against Q; add: Q against P) are composed and the
// larger ε is reported. Self-composition of n steps is one real FFT raised to
// the n-th power over a window from Chernoff bounds; two events compose by
// FFT convolution. Mass cut from the tails (TailMass per cut, 1e-15 by
// default) goes to +∞, so it is added to δ: the ε reported is never below
// the exact one.
//
// Accuracy, measured by the tests against exact values: for one and two
// steps (numerical integration, testdata/quadrature.json) the PLD ε agrees
// to 1e-8; for n steps without subsampling (a Gaussian mechanism of noise
// σ/√n, exact by Balle and Wang 2018) it is above by 4e-7 at 100 steps,
// 9e-6 at 2000 steps and 4.5e-4 at 100000 steps. The stated bound, tested,
// is 2e-3 above the exact ε at the default discretization h = 1e-4. For
// q = 0.001, σ = 1.5, 100000 steps, δ = 1e-6 it gives ε = 1.00682 (h = 1e-5
// gives 1.00524: the error shrinks with h, and the value only decreases).
//
// # State and calibration
//
// An [Accountant] is its [AccountantConfig] (defaults filled in) and its
// events; it serializes to deterministic JSON that restores exactly, so
// anyone can recompute the same ε. [CalibrateNoise] returns the smallest
// noise multiplier meeting a target ε (by bisection to a relative 1e-6 on
// the monotone ε(σ)), optionally after events already spent.
//
// # Noise
//
// [SamplerFast] (the default) adds to each coordinate v of the clipped sum
// an exact multiple of a power of two λ, built as follows (σ the noise
// multiplier, C the clipping norm, d the dimension; every table and constant
// is computed from these public values only):
//
//	λ     = 2^(⌊log₂ σC⌋ − 27)                     the granularity
//	v'    = λ·round(v/λ)                           the input snapped to λℤ (exact)
//	C'    = C + λ√d                                 sensitivity after snapping
//	s_c   = σC'/λ,  s² = s_c² + 1/12                (s ≥ 2²⁷)
//	Y     = Z·(Z·Y₀ + B₁) + B₂                      output v' + λY (exact: |v'/λ + Y| < 2⁵³)
//
// with B₁, B₂ ~ D_{ℤ,1024} and Y₀ ~ D_{ℤ,t*}, D_{ℤ,t}(x) ∝ exp(−x²/(2t²)) the
// discrete Gaussian, Z = ⌊√(s/1024)⌋ and t* solving s² = Z²(Z²t*² + 1024²)
// + 1024². This is the convolution technique of Micciancio and Walter,
// "Gaussian Sampling over the Integers: Efficient, Generic, Constant-Time"
// (CRYPTO 2017): by Poisson summation, for Y₁ ~ D_{ℤ,s₁}, Y₂ ~ D_{ℤ,s₂},
// the law of zY₁ + Y₂ is within a factor (1±e)/(1∓e) pointwise of D_{ℤ,s},
//
//	s² = z²s₁² + s₂²,  e = 2 Σ_{m≥1} exp(−2π² s'² m²),  s' = s₁s₂/s ≥ 2,
//
// so each level costs at most 2e/(1−e) ≤ 2.1e-34 in statistical distance.
// Each base draw uses a cumulative distribution table of |X| in 128-bit fixed
// point (computed in 320-bit arithmetic, truncated at 14t, so at most
// 4.3e-35 from D_{ℤ,t}) and a uniform 128-bit number from the keystream,
// read lazily (16 bits decide about 19 draws in 20 at t = 1024) and compared
// as integers, plus a sign bit. One 64-bit keystream word starts the three
// draws of a coordinate. Randomness therefore only ever meets integer comparisons: no
// floating-point operation, transcendental or not, touches it, and every
// output lies on the grid λℤ whatever the input, so the floating-point
// attacks of Mironov (2012) have nothing to act on — the same mitigation as
// Google's "Secure Noise Generation" (snapping to a power-of-two grid, noise
// drawn on the grid).
//
// The ideal the sampler is measured against is round(N(0, s_c²)) on ℤ: the
// continuous Gaussian mechanism with noise multiplier σ and sensitivity C'
// on the snapped sum, post-processed by rounding, whose privacy is exactly
// what the accountants compute for σ. Rounding adds variance 1/12, which the
// choice of s cancels; what remains, SD(D_{ℤ,s}, round(N(0, s² − 1/12))), is
// of order s⁻⁴ (the next Fourier term, coefficient 1/2880) and is bounded by
// 1e-3/s⁴ ≤ 4e-36, a constant checked numerically at small s (the test
// TestRoundingDistance), not proved for every s. In all, one draw is within
// [Noise.Distance] ≈ 1.3e-34 of the ideal; over k = d·steps draws the
// distances add, so a run that is (ε, δ)-DP with ideal noise is
// (ε, δ + (1+e^ε)·k·1.3e-34)-DP with this sampler ([Stats.SamplerDistance]
// is k times the bound): for 10⁶ parameters and 10⁶ steps, 2.6e-22 more δ.
// The snapping's extra sensitivity λ√d is paid by more noise (σC' instead of
// σC, 7.5e-6 more at d = 10⁶), not by a larger ε. Poisson sampling draws
// from the same generator (its own key, one stream per step): a row joins
// when a uniform 64-bit word is below ⌊q·2⁶⁴⌋, a rate at most q, and the
// accountants are monotone in q.
//
// The generator is AES-256 in counter mode, the core of NIST SP 800-90A's
// CTR_DRBG, chosen over ChaCha20 because the CPU's AES instructions make it
// about ten times faster here (4.4 GB/s against 0.41 GB/s for
// golang.org/x/crypto/chacha20 on one core, which has no assembly for
// amd64), and keystream was a quarter of a draw's cost. Every chunk of 2048
// coordinates of every call, and every step's sampling, reads its own
// stream under its own key, AES-256(K, call ‖ chunk ‖ 0) ‖ AES-256(K, call
// ‖ chunk ‖ 1) for the run's key K, as CTR_DRBG bounds what one key
// generates: AES in counter mode is then within q²/2¹²⁹ of a random function
// after q blocks under a key, below 2⁻⁸¹ for any stream under 256 MiB (a
// chunk draws about 18 KiB). This is a computational assumption on AES, as
// any keystream is; the statistical distances above are for ideal
// randomness. Independent streams let all cores draw at once, with results
// that do not depend on the number of cores. As the noise depends on nothing in a step, [Train] draws each
// step's noise on the other cores while the step's gradients are computed
// (for models of more than one chunk), the same draws [Noise.Add] would make.
//
// [SamplerGoogle] calls noise.Gaussian() of Google's differential-privacy
// library per coordinate with l0 = 1, l∞ = σC, ε = 1 and the δ at which its
// calibration (Balle and Wang 2018) gives back σC (its binary search lands
// within +0.1%: more noise, never less). Its source states a probability of
// about 2⁻⁴⁵ per draw that its binomial sampler is inaccurate; that is its
// Distance, and over 10⁶ parameters and 10³ steps it adds (1+e^ε)·2.8e-5 to
// δ. It is slower (a global lock) and cannot be seeded.
//
// # DP-SGD
//
// [Train] takes Steps steps; each samples rows (or privacy units) by Poisson
// sampling at rate q, runs the model's backward pass once, clips each
// example's gradient (or each unit's summed gradient) with weights
// cᵢ = min(1, C/‖gᵢ‖) from the model's norm pass, forms Σ cᵢgᵢ in one
// weighted pass, adds the noise, divides by the expected batch q·n (q times
// the number of units with units) and applies any optimizer of package
// model. Empty batches are noised like any other.
//
// [TrainSparse] does the same for the text models of package model (softmax
// regression on hashed n-grams, the embedding bag) on sparse rows: the
// per-example norms are exact and come from the batch
// ([model.SparseWorkspace.Norms]: ‖δᵢ‖²(‖xᵢ‖² + 1) for a sparse linear layer
// with bias, repeated tokens and hash collisions merged first), the clipped
// sum touches only the rows of the embedding that the batch's tokens hit,
// and the noise is dense: every coordinate, every step. Noising only the
// touched rows would reveal which tokens the batch holds. The accounting is
// unchanged: the same (q, σ, steps) event as a dense model's.
//
// The dense noise costs one draw per parameter per step while the
// non-private sparse step costs a pass over the batch's non-zeros (and the
// optimizer's pass over the parameters), so the ratio grows with the
// buckets; under DP, fewer buckets (2¹¹–2¹⁴) are both cheaper and more
// accurate, since every coordinate takes the same noise:
//
//	go test ./dp -run XXX -bench SparseStepRatio -cpu 1,2 -benchtime 20x   (load 17–21)
//
//	batch 64 documents of 100 tokens, 5 classes; ms per step, private ÷ non-private, same GOMAXPROCS
//	                                       1 thread                 2 threads
//	softmax, 2¹⁴ buckets (82k params)      6.6 vs 0.37 ms   18×     3.8 vs 0.24 ms   16×
//	softmax, 2¹⁸ buckets (1.3M params)     127 vs 12 ms     11×     97 vs 4.7 ms     21×
//	embedding bag 2¹⁶×64 (4.2M params)     363 vs 47 ms     7.8×    233 vs 20 ms     12×
//
// (a machine loaded to 10× its cores: these times are several times the
// unloaded ones, and the noise, 21–23 ns a draw on both cores unloaded,
// dominates the private step.)
//
// A [Learner] binds either kind of model to one hospital's training rows,
// so that a federated client trains, predicts and scores without knowing
// the kind: [Dense] calls [Train] and [model.Fit], [Sparse] calls
// [TrainSparse] and [model.FitSparse], with the same results.
//
// # Ledger
//
// A [Ledger] belongs to one data set, named by [DatasetID] (HMAC-SHA256 of
// its bytes under a hospital key). [Ledger.Reserve] refuses with
// [ErrBudgetExhausted] when a run or round would take ε over the cap and
// otherwise saves the new entry through a [Store] before returning, so the
// spend is on disk before any result leaves; a crash after Reserve can only
// over-count. Every entry records q, σ, steps, C, the privacy unit and ε
// after it; the accountant's settings are in the ledger, [Ledger.Verify]
// recomputes every ε, and the JSON encoding is deterministic.
// [Ledger.ReleaseCounts] charges and releases noisy counts (a confusion
// matrix) with Google's Gaussian mechanism; [Ledger.ReleaseVectorFrom] draws
// the same release's noise with the fast sampler keyed from a given source,
// so that a seeded simulation repeats it. [Ledger.Warnings] flags δ ≥ 1/n.
//
// # Measured (2 cores shared with other jobs, AMD EPYC)
//
//	go test ./dp -run XXX -bench 'Noise|StepRatio' -benchtime 30x -count 3   (load 1.3–1.7)
//
//	fast sampler, both cores (wall time per draw)         21–23 ns/draw
//	fast sampler, one core                                41–43 ns/draw
//
// Since then the fast path of a draw is in line (a guide entry says whether
// its bucket decides the draw; one comparison settles a bucket with one
// boundary) and snapping rounds with the processor's instruction; the draws
// for a key are the same (testdata/draws.json). Process CPU time at
// GOMAXPROCS 1, best of 3,000 vectors of 10,240 coordinates, each chunk on a
// fresh stream (load 3–3.7): a draw 13.6–14.4 ns before, 9.0–9.9 after;
// Noise.Add, draw and snap, 17.7–18.1 ns a coordinate before, 10.3–10.8
// after.
//
//	google sampler (noise.Gaussian)                       8.2–8.8 µs/draw
//	new fast sampler for a new σ (inner table, memoized)  29 ms
//
//	private ÷ non-private step (batch ≈ 64 of 569 rows, 30 features, fast noise)
//	logreg (31 parameters)       4.4–5.5×  (21–46 µs vs 5–9 µs: Poisson sampling of all 569 rows, keystream set-up)
//	MLP 30-310-1 (9.9k)          1.18–1.26×
//	MLP 30-990-990-1 (1.0M)      1.45–1.46×
//
//	go test ./dp -run XXX -bench 'PLD|RDP' -benchtime 20x   (load about 5)
//
//	PLD ε, q=0.001 σ=1.5, 100000 steps, both directions   32 ms
//	PLD ε, q=0.05  σ=1.5, 1000 steps, both directions    190 ms
//	RDP ε, 151 orders                                     1.3 ms
//
// (logreg with -benchtime 5000x; the load of other jobs moves single
// figures by up to 3×.)
package dp
