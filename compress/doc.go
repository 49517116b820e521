// Package compress shrinks a hospital's model update before it is encrypted, in a way that
// keeps the encrypted sum and the DP guarantee sound.
//
// Every contributor of a round compresses with the same linear map Φ (k × d, k ≪ d), drawn
// from a seed that the round fixes ([RoundSeed]: SHA-256 of the federation's hash and the
// round number), so the ciphertexts of Φu₁, …, Φuₙ still add up to an encryption of Φ(Σuᵢ) and
// the aggregator expands the decrypted sum with Φᵀ:
//
//	Expand(Σᵢ Compress(uᵢ)) = Φᵀ Φ (Σᵢ uᵢ)
//
// Φ depends on the seed alone, never on data, and it is applied to an update that DP-SGD has
// already noised on every coordinate: what leaves the hospital is a function of a DP output and
// public randomness, post-processing that leaves (ε, δ) unchanged (Dwork and Roth 2014,
// Proposition 2.1). Top-k sparsification is not offered: the coordinates it keeps depend on the
// data, so it would reveal which ones matter, and two hospitals' top-k sets differ, so their
// ciphertexts would not add.
//
// # Schemes
//
// [Parse] reads a scheme: "none", "randk:F" or "srht:F", with F the fraction of the update's d
// coordinates that is uploaded (k = ⌈F·d⌉), and ":ef" appended for error feedback.
//
// randk keeps k coordinates chosen uniformly without replacement (Robert Floyd's algorithm,
// Bentley and Floyd 1987, "Programming pearls: a sample of brilliance", CACM 30(9)): Φ = S, the
// k rows of the identity at the chosen coordinates (Stich, Cordonnier and Jaggi 2018,
// "Sparsified SGD with memory", NeurIPS, rand-k).
//
// srht is a subsampled randomized Hadamard transform (Ailon and Chazelle 2009, "The fast
// Johnson–Lindenstrauss transform", SIAM J. Comput. 39(1); Tropp 2011, "Improved analysis of the
// subsampled randomized Hadamard transform", Adv. Adapt. Data Anal. 3):
//
//	Φ = S H D,
//
// D a diagonal of random signs, H block-diagonal with orthonormal Walsh–Hadamard blocks
// (H₂^{⊗j}/√2^j, applied in 2^j·j additions) whose sizes are the powers of two that sum to d,
// largest first, and S again k rows of the identity, here of H D's rows. H D is orthogonal on
// ℝ^d without padding (padding to a power of two would cost the rows their orthonormality), and
// it spreads each coordinate over its block, which holds at least half of them: the k values
// sent carry a share of most coordinates rather than all of a few.
//
// Both Φ have orthonormal rows: ΦΦᵀ = I, so Expand(Compress(u)) = ΦᵀΦu is the orthogonal
// projection of u onto Φ's row space (of norm at most ‖u‖), and ‖Φᵀy‖ = ‖y‖ (an update clipped
// after compression is clipped as the aggregator sees it). Over the seed,
//
//	E[ΦᵀΦ] = (k/d)·I,
//
// so [Plan.UnbiasedScale]·Expand(Compress(u)) = (d/k)·ΦᵀΦu is an unbiased estimate of u
// (Stich et al. 2018, Definition 2.1, for rand-k; for the SRHT, E[SᵀS] = (k/d)·I and H D is
// orthogonal), at the price of a variance of (d/k − 1)‖u‖².
//
// # Error feedback
//
// Sending the projection alone drops the rest of each update. With error feedback ([Feedback])
// a contributor keeps the residual e and compresses u + e instead, then keeps
// e ← (u + e) − ΦᵀΦ(u + e): what a round does not send is sent in a later round, along other
// coordinates (Stich et al. 2018, Algorithm 1, "mem-SGD"; Karimireddy, Rebjock, Stich and
// Jaggi 2019, "Error feedback fixes SignSGD and other gradient compression schemes", ICML). The
// residual is a function of earlier DP outputs and public seeds, so it too is post-processing;
// it stays with the hospital.
//
// A [Plan] is immutable and safe for concurrent use; a [Feedback] belongs to one contributor and
// is not.
package compress
