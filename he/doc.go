// Package he is fedcrypt's homomorphic aggregation: multiparty CKKS with
// T-out-of-N threshold decryption, on Lattigo v5 (he/hefloat, mhe). It is the
// only package that imports Lattigo, and no Lattigo type appears in its API:
// callers see bytes, Go slices and he types.
//
// # Protocol
//
// Setup, once per federation. Key holders are identified by small integers
// (their index in the federation's member list); index i is Shamir point i+1.
//
//	crs := configHash                                  // 32 bytes, common reference string
//	h, _ := he.NewKeyHolder(params, crs, i, crypto/rand.Reader)
//	share := h.PublicKeyShare()                        // public, sent to everyone
//	pk, _ := he.CombinePublicKey(params, crs, allShares) // every member recomputes it
//	out, _ := h.ShamirShares(allIndices, T, crypto/rand.Reader) // out[j] is secret, for j only
//	_ = h.CombineShamirShares(receivedFromEveryOther)  // h now holds its threshold share
//	state, _ := h.MarshalBinary()                      // secret: seal before storing
//
// Each round:
//
//	u, _ := he.Encrypt(pk, update, crypto/rand.Reader) // contributor → aggregator
//	sum := he.NewSum(params); _ = sum.Add(u)           // aggregator, streaming, memory O(model)
//	sb, _ := sum.MarshalBinary()                       // sent to the T key holders of the set
//	ds, _ := h.DecryptionShare(sb, set, crypto/rand.Reader) // len(set) == T exactly
//	total, _ := sum.Decrypt(sharesOfTheSet)            // Σ updates, rounded by DecodePublic
//
// N-of-N is T = N. Every function that needs randomness takes an io.Reader;
// it must be crypto/rand.Reader in production (key material, encryption and
// flooding noise); a seeded stream (ChaCha20) makes simulations reproducible.
// From the reader, 32-byte keys are drawn (one per ciphertext where work is
// parallel) and expanded with AES-256-CTR into the samplers' input, so
// outputs do not depend on the number of goroutines.
//
// # Scheme
//
// CKKS over the conjugate-invariant ring Z[X+X⁻¹]/(X^{2n}+1) with n = 2^LogN
// (Kim and Song, "Approximate Homomorphic Encryption over the Conjugate-
// invariant Ring", 2018): n real slots per ciphertext, so a vector of P values
// packs into ⌈P/n⌉ ciphertexts. Secrets are ternary (uniform in {-1,0,1}, as
// Lattigo), errors rounded Gaussians with σ = 3.2 truncated at 6σ (for
// encryption drawn from a cumulative table of the distribution Lattigo's
// sampler draws). With key holder i's secret sᵢ, s = Σᵢ sᵢ and a expanded
// from the common reference string (Mouchet,
// Troncoso-Pastoriza, Bossuat, Hubaux, "Multiparty Homomorphic Encryption
// from Ring-Learning-With-Errors", PETS 2021):
//
//	public-key share   bᵢ = −sᵢ·a + eᵢ
//	public key         (b, a),  b = Σᵢ bᵢ = −s·a + Σᵢ eᵢ
//	encryption         (c0, c1) = (u·b + e₀ + ⌊Δ·m⌉, u·a + e₁)
//	sum                componentwise addition modulo Q
//	decryption share   hⱼ = s'ⱼ·c1 + e_flood,ⱼ      (j in the decryption set)
//	combination        c0 + Σⱼ hⱼ = Δ·Σm + e
//
// Threshold: each key holder deals sᵢ with a random polynomial of degree T−1
// (Lattigo's mhe.Thresholdizer) and sums the shares it receives; for a
// decryption set of exactly T key holders, Lattigo's mhe.Combiner turns a
// threshold share into an additive share s'ⱼ with Σⱼ s'ⱼ = s (Mouchet,
// Bertrand, Hubaux, "An Efficient Threshold Access-Structure for RLWE-Based
// Multiparty Homomorphic Encryption", J. Cryptology 2023). Fewer than T shares
// decrypt to noise: TestFewerThanTSharesDecryptToNoise shows it through the
// same decoding path.
//
// # Noise, flooding and precision
//
// For K = MaxKeyHolders and M = MaxAddends, the error of one fresh encryption
// has per-coefficient variance v_fresh (the factor 2 is the conjugate-invariant
// ring's, as in Lattigo's NoiseFreshPK), and the error vector of a sum of M
// has ℓ2 norm at most E except with probability e^(-t²/2), t = 6.45 (Gaussian
// concentration of a Lipschitz function):
//
//	v_fresh = 2·σ²·(1 + (4/3)·n·K)
//	E       = (√n + t)·√(M·v_fresh)
//
// Decryption shares are flooded so that a released sum does not expose the
// ciphertext error, which with c0, c1 would give the secret key (Li and
// Micciancio, "On the Security of Homomorphic Encryption on Approximate
// Numbers", Eurocrypt 2021). The flooding follows the Gaussian bound of Li,
// Micciancio, Schultz and Sorrell ("Securing Approximate Homomorphic Encryption
// Using Differential Privacy", Crypto 2022) for s bits of statistical security
// over k = DecryptionCap decryptions of one ciphertext, with E the ℓ2 bound
// of the error it hides:
//
//	σ_flood = 8·√k · 2^{s/2} · E            (s = 30, k = 4 in the presets)
//
// drawn by Lattigo's Gaussian sampler truncated at 6σ_flood. That sampler does
// not reduce a sample modulo each prime, so [NewParams] rejects a set unless
// every prime qᵢ > 2^8·6·σ_flood. A decrypted slot then has error
//
//	σ_slot = √(n·(M'·v_fresh + T·σ_flood²))   (M' addends, T shares)
//
// and [Sum.Decrypt] rounds each value with Lattigo's DecodePublic to
// prec = ⌊log₂Δ − log₂(6.45·σ_slot)⌋ bits (at most 40): the bits below the
// error's 2^-30 tail are not released (Lattigo SECURITY.md).
// [Params.PrecisionBits] gives log₂(Δ/σ_slot).
//
// The cap on decryptions is enforced twice: each key holder counts the shares
// it gives per ciphertext (by a SHA-256 digest of c1, since a share depends on
// c1 only; the count is part of its marshalled state) and refuses the
// (k+1)-th with [ErrDecryptionCap]; a [Sum] counts its own decryptions too.
// A key holder's state thus grows by 33 bytes per ciphertext it decrypts.
//
// Scales above 2^53 would push Lattigo's encoder onto its big-float path: the
// encoder works at Δ₀ = 2^min(LogScale, 50) and the plaintext is multiplied
// by the integer 2^(LogScale−50).
//
// # Presets
//
// Both presets use ring degree 2^12 (4096 real slots) and one ciphertext
// level; log₂Q is within the homomorphic-encryption standard's 128-bit bound
// for ternary secrets (LogN 12 → 109, 13 → 218, 14 → 438; Albrecht et al.,
// 2018), checked at construction. The bound for degree n is applied to the
// conjugate-invariant ring of the same degree, as in Kim–Song and Lattigo.
//
//	preset   log₂Q      Δ     max |value|  max addends  max key holders  σ_flood
//	compact  61 (1 q)   2^50  1            100          10               2^38.5
//	precise  108 (2 q)  2^90  4            1024         128              2^42.0
//
// Measured precision (TestPrecisionTarget, BenchmarkDecrypt): with 100
// contributors, updates uniform in [-1, 1], T = 10 (12 key holders for the
// precise preset, 10 for the compact one) and the default flooding, the worst
// error of the decrypted mean over 65,536 values is 2^-43.6 with the precise
// preset and 2^-7.3 with the compact one. The compact preset's precision is
// about 7 bits on such a mean: its 61-bit modulus leaves Δ = 2^50 against a
// flooded error near 2^46 per slot, and DecodePublic then rounds the sum to
// a multiple of 1/2. The compact preset suits up to 10 key holders and 100
// addends of |value| ≤ 1; the precise one up to 128 key holders and 1,024
// addends of |value| ≤ 4.
//
// The insecure test presets (ring degree 2^10) exist only to keep -short
// tests fast.
//
// # Measured costs
//
// On the project's 2-core AMD EPYC machine (Go 1.26, Lattigo v5.0.7), shared
// with other jobs during the runs (load average 2 to 7), so that -cpu 2 had
// about one free core and repeated runs differ by up to 2.5 times; ranges
// are over the runs listed in BENCHMARKS.md. One upload of 1M parameters:
//
//	                              compact          precise
//	bytes/param (headers incl.)   15.30            27.10
//	encrypt, -cpu 1               5.0–11.2 M params/s  4.2–7.7 M params/s
//	encrypt, -cpu 2               5.2–10.2 M params/s  3.9–7.7 M params/s
//	Sum.Add, -cpu 1               85–227 M params/s    38–105 M params/s
//	Sum.Add, -cpu 2               110–226 M params/s   40–145 M params/s
//	decryption share              0.23–0.28 ms/ct      0.22–0.35 ms/ct  (per key holder)
//	combine T = 10 + DecodePublic 0.43–0.48 ms/ct      2.7–6.5 ms/ct
//	worst error of the mean       2^-7.3           2^-43.6   (100 contributors, T = 10)
//
// Reproduce with
//
//	go test ./he -run '^$' -bench 'Encrypt|Aggregate|DecryptionShare' -cpu 1,2 -benchtime 10x
//	go test ./he -run '^$' -bench 'Aggregate' -cpu 1,2 -benchtime 30x
//	go test ./he -run '^$' -bench '^BenchmarkDecrypt$' -benchtime 5x
//	go test ./he -run 'Target' -v
//
// DecodePublic of the two-prime preset reconstructs every coefficient as a
// big integer, hence its cost; it runs once per round at the aggregator.
//
// # Wire format and validation
//
// Every object (public-key share, public key, Shamir share, encrypted vector,
// decryption share, key-holder state) is a header (magic, version, kind,
// preset, NTT/Montgomery flags, lengths, level, scale, parties) followed by
// polynomials whose coefficients are bit-packed on bitlen(qᵢ) bits, so an
// encrypted vector takes 2·log₂Q/8 bytes per value plus a 28-byte header.
// Lattigo never reads these bytes: decoders check the exact length first,
// then every field, every coefficient against its prime and the padding
// bits. Errors wrap [ErrMalformed] and never panic; the encodings are
// canonical. Key-holder states are also checked for a ternary secret matching
// their public-key share.
//
// # Threat model
//
// The aggregator is honest-but-curious: it sees public-key shares, encrypted
// vectors, sums and decryption shares, and with up to T−1 key holders it
// learns nothing about one update beyond the released sum (semantic security
// of RLWE; Shamir sharing). A decryption share is bound to one sum's c1; the
// aggregator can ask a key holder to decrypt any ciphertext, so key holders
// must check, outside this package, that a sum names enough signed uploads
// before calling [KeyHolder.DecryptionShare]; the addends count in an
// encrypted vector's header is not authenticated. Parties are assumed to follow
// the protocol: shares are not proven correct, and a malicious key holder can
// make a decryption fail or wrong (detectable only as garbage). Shamir shares
// and key-holder states are secret and must be encrypted in transit and at
// rest; this package never writes them anywhere.
//
// # Concurrency
//
// [Params] and [PublicKey] are immutable and safe for concurrent use.
// [KeyHolder] and [Sum] are not. Encrypt, Sum.Add, DecryptionShare and
// Decrypt spread ciphertexts over GOMAXPROCS goroutines, one Lattigo encoder
// and buffer set per goroutine.
package he
