// Package he is fedcrypt's homomorphic aggregation: multiparty CKKS with
// T-out-of-N threshold decryption, on Lattigo v5 (he/hefloat, mhe). It is the
// only package that imports Lattigo, and no Lattigo type appears in its API:
// callers see bytes, Go slices and he types.
//
// # Protocol
//
// Setup, once per key (a federation re-keys when the key's decryption budget
// is spent). Key holders are identified by small integers (their index in the
// federation's member list); index i is Shamir point i+1.
//
//	preset, _ := he.Preset(he.PresetPrecise)           // bare: encrypt and sum only
//	params, _ := preset.WithPolicy(he.KeyPolicy{KeyHolders: K, Contributors: C, Decryptions: L})
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
//	sb, _ := sum.MarshalBinary()                       // committed to, then sent to the T key holders of the set
//	seed := H(commitment to sb)                        // Fiat–Shamir, fixed by the protocol
//	f, _ := params.Fingerprint(sb, seed)               // key holder; each upload's fingerprint
//	ok := f.Equal(Σ fingerprints of the named uploads) // (Fingerprint.Add), see "Threat model"
//	ds, _ := h.DecryptionShare(sb, set, crypto/rand.Reader) // len(set) == T exactly; counts against L
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
// A collective key lives under a [KeyPolicy]: K key holders, sums of at most
// C contributors (fresh encryptions) and L ciphertext decryptions over its
// whole life. [Preset] returns a bare parameter set; [Params.WithPolicy]
// sizes the flooding for a policy and checks it fits, and key holders and
// decryption refuse parameters without one.
//
// The error of one fresh encryption under a key of K key holders has
// per-coefficient variance v_fresh(K) (the factor 2 is the conjugate-invariant
// ring's, as in Lattigo's NoiseFreshPK), and the error vector of a sum of a
// of them has ℓ2 norm at most E(a, K) except with probability e^(-t²/2),
// t = 6.45 (Gaussian concentration of a Lipschitz function):
//
//	v_fresh(K) = 2·σ²·(1 + (4/3)·n·K)
//	E(a, K)    = (√n + t)·√(a·v_fresh(K))
//
// Decryption shares are flooded so that released decryptions do not expose
// the ciphertext error, which with c0, c1 would give the secret key (Li and
// Micciancio, "On the Security of Homomorphic Encryption on Approximate
// Numbers", Eurocrypt 2021). The flooding follows the Gaussian mechanism of
// Li, Micciancio, Schultz and Sorrell ("Securing Approximate Homomorphic
// Encryption Using Differential Privacy", Crypto 2022): a decryption whose
// error has ℓ2 norm at most E, flooded by a Gaussian of parameter σ, has a
// Rényi divergence from the flooding alone that grows with E²/σ², and these
// divergences add up over every decryption the adversary sees under the same
// secret s — whatever the ciphertexts, their sets of key holders, retries or
// re-randomisations, since each released decryption is another noisy
// linear equation in s. So the count that matters is the key's lifetime L,
// and a share of a sum of a addends is flooded with
//
//	σ_flood(a) = 8·√L · 2^{s/2} · E(a, K)        (s = StatisticalSecurity = 30)
//
// which keeps the per-decryption divergence the same for every a, so that L
// decryptions together stay within s bits of statistical security
// (OpenFHE's noise flooding uses the same form with √(12·L) in place of
// 8·√L). After u ≤ L decryptions the bound is that of s + log₂(L/u) bits
// ([Params.SecurityBits]). E is a worst-case bound, not a measured or
// average-case noise: flooding sized by the latter is attackable (Guo,
// Nabokov, Suvanto and Johansson, USENIX Security 2024; Tang et al., PKC
// 2025, on trading decryptions before re-keying against precision). The
// addends count a is the sum's header, which the caller must have checked
// (see "Threat model").
//
// The flooding is drawn exactly from a discrete Gaussian over the
// integers (see flood.go): an exact 128-bit table for D_{ℤ,1024} and
// Micciancio–Walter convolutions (Crypto 2017), as package dp draws DP-SGD
// noise, with parameter s between max(σ_flood, 2^28) and 2% above it,
// truncated by rejection at 12s (tail mass below 2^-107). Lattigo's
// Gaussian sampler is not used for it: it draws σ·x for a 31-bit ziggurat
// value x, so at flooding sizes its samples lie on at most 2^32 points,
// about 2^-22·σ apart within each ziggurat layer, far from the distribution
// the bound assumes; with T−1 key holders colluding and a known plaintext,
// e + f with f on that sparse set would reveal much of e
// (TestFloodingSamplerSupport: 16 equal pairs in 2^18 of its draws at
// σ = 2^40, none from the flooding sampler; a discrete Gaussian gives 0.01).
// [Params.WithPolicy] checks the worst case, a = C and T = K, at the
// envelope 1.02·max(σ_flood, 2^28) of s (so that the checks are monotone
// in L):
//
//   - ⌊12s⌋ < qᵢ for every prime: a negative sample y is written qᵢ − |y|,
//     the right residue exactly when |y| < qᵢ. That is all each prime needs:
//     shares are added modulo Q and lifted once, so no prime must hold a
//     centred sample, and the 2^8 margin this package used to require is not
//     needed;
//   - no wrap modulo Q: C·MaxAbs·Δ + C·6σ·(1 + 2nK) + K·⌊12s⌋ < Q/2
//     (message, fresh errors, K truncated floods, all worst case);
//   - at least one bit survives DecodePublic (below).
//
// A decrypted slot then has error
//
//	σ_slot = √(2n·(a·v_fresh + T·s²))   (a addends, T shares, s ≈ σ_flood(a))
//
// Each coefficient reaches each slot of the conjugate-invariant ring through
// two terms, hence the 2n (TestSlotVarianceModel measures 2.00·n·σ² for
// independent coefficients; this package used n·σ² before, overstating the
// precision by half a bit and rounding half a bit too fine). [Sum.Decrypt]
// rounds each value with Lattigo's DecodePublic to
// prec = ⌊log₂Δ − log₂(6.45·σ_slot)⌋ bits (at most 40): the bits below the
// error's 2^-30 tail are not released (Lattigo SECURITY.md).
// [Params.PrecisionBits] gives log₂(Δ/σ_slot). Once the flooding dominates,
// each bit of σ_flood costs one bit of precision: 4× the decryptions, one
// bit less.
//
// Largest L ([Params.MaxDecryptions]) and PrecisionBits at the worst case
// (a = C, T = K) for L = 2^16, by TestPolicyTable:
//
//	preset   K    C=3              C=10             C=100            C=1000
//	compact  3    867              260              26               —
//	compact  10   78               23               2                —
//	compact  16   (MaxKeyHolders is 10)
//	precise  3    2^32.6 / 40.6    2^30.8 / 39.7    2^27.5 / 38.1    2^24.2 / 36.4
//	precise  10   2^30.8 / 38.9    2^29.1 / 38.0    2^25.8 / 36.3    2^22.4 / 34.7
//	precise  16   2^30.1 / 38.2    2^28.4 / 37.3    2^25.1 / 35.7    2^21.8 / 34.0
//
// (precise: largest L / bits at L = 2^16; compact: largest L, which is
// always below 2^16, so no figure at 2^16). The compact preset's single
// 61-bit prime with Δ = 2^50 admits only a tiny L: 2 ciphertext decryptions
// for the key's whole life with 10 key holders and 100 contributors, 26 with
// 3 key holders — not one decryption of a 1M-parameter model (245
// ciphertexts). Its binding limit is the precision (one bit at the worst
// case), not the prime. For the precise preset the binding limit is
// 12s < q₀ ≈ 2^54 (s ≈ 2^50.4), which leaves 34 to 41 bits at L = 2^16.
//
// Each key holder counts the ciphertexts it gives decryption shares of over
// the key's life (the count is in its marshalled state, with the policy) and
// refuses beyond L with [ErrDecryptionBudget]; the federation then re-keys.
// A key holder counts only its own shares: with N key holders, threshold T
// and T−1 of them colluding with the aggregator, the decryptions released
// under the key are bounded by L only if every honest key holder takes part
// in (or counts) every released decryption — for instance N = T, or a
// protocol in which each holder counts every round it endorses. Otherwise up
// to (N−T+1)·L decryptions can be released, and the policy's L must be
// divided accordingly.
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
//	preset   log₂Q      Δ     max |value|  max addends  max key holders
//	compact  61 (1 q)   2^50  1            100          10
//	precise  108 (2 q)  2^90  4            1024         128
//
// σ_flood depends on the key policy (above). Measured precision
// (TestPrecisionTarget): with 100 contributors, updates uniform in [-1, 1],
// T = 10 (of 12 key holders for the precise preset, of 10 for the compact
// one), the worst error of the decrypted mean is 2^-39.9 with the precise
// preset at L = 2^16 (65,536 values) and 2^-7.6 with the compact one at its
// largest L, 2 (8,192 values): its 61-bit modulus leaves Δ = 2^50 against a
// flooded error near 2^46 per slot. The compact preset suits small, short-
// lived keys only (see the table above); the precise one up to 128 key
// holders and 1,024 addends of |value| ≤ 4.
//
// The insecure test presets (ring degree 2^10) exist only to keep -short
// tests fast. [Preset], [NewParams] and [ParamsLiteral.Validate] refuse them
// (and any literal with InsecureTestOnly) unless the program is a test
// binary (testing.Testing), so no configuration can select them in
// production: "he: CKKS preset insecure-test-compact is for tests only; use
// compact or precise". TestInsecurePresetsRefusedOutsideTests builds and runs
// an ordinary program (he/testdata/insecure) to check it.
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
//	combine T = 10 + decode       0.48 ms/ct           0.70 ms/ct
//	worst error of the mean       2^-7.8 (L = 2)   2^-39.9 (L = 2^16)  (100 contributors, T = 10 of 10)
//	Fingerprint, -cpu 1           87.6 M params/s      54.6 M params/s   (11.4 and 18.3 ms per 1M-param vector)
//	Fingerprint, loaded machine   38–46 M params/s     21.6–23.2 M params/s  (load average 11.6)
//
// Reproduce with
//
//	go test ./he -run '^$' -bench 'Encrypt|Aggregate|DecryptionShare' -cpu 1,2 -benchtime 10x
//	go test ./he -run '^$' -bench 'Aggregate' -cpu 1,2 -benchtime 30x
//	go test ./he -run '^$' -bench '^BenchmarkDecrypt$' -benchtime 5x
//	go test ./he -run '^$' -bench Fingerprint -cpu 1,2 -benchtime 20x
//	go test ./he -run 'Target|PolicyTable' -v
//
// DecodePublic of the two-prime preset reconstructs every coefficient as a
// big integer, hence its cost; it runs once per round at the aggregator.
//
// # Wire format and validation
//
// Every object (public-key share, public key, Shamir share, encrypted vector,
// decryption share, key-holder state, fingerprint) is a header (magic,
// version, kind, preset, NTT/Montgomery flags, lengths, level, scale,
// parties) followed by polynomials whose coefficients are bit-packed on
// bitlen(qᵢ) bits, so an encrypted vector takes 2·log₂Q/8 bytes per value
// plus a 28-byte header; a fingerprint is 12 bytes and 3·8 per prime (60 for
// the precise preset). Lattigo never reads these bytes: decoders check the
// exact length first, then every field, every coefficient against its prime
// and the padding bits. Errors wrap [ErrMalformed] and never panic; the
// encodings are canonical. Key-holder states are also checked for a ternary
// secret matching their public-key share and for the key policy of the
// parameters they are decoded with. The key-holder state is format version 2
// (the lifetime decryption count and the policy); a version-1 state, with
// per-ciphertext counts, is refused with one line naming the version.
//
// # Threat model
//
// The aggregator is honest-but-curious towards the encryption: it sees
// public-key shares, encrypted vectors, sums and decryption shares, and with
// up to T−1 key holders it learns nothing about one update beyond the
// released sum (semantic security of RLWE; Shamir sharing). It may, however,
// ask key holders to decrypt ciphertexts of its choosing; a decryption share
// depends on c1 only, and with c1 = 2^50 (a constant polynomial) the T shares
// would give the secret key. This package gives key holders what they need
// to refuse:
//
//   - The sum check. [Params.Fingerprint] maps an encrypted vector to
//     FingerprintChecks = 3 random linear functionals of its c1 parts,
//     modulo each prime, with vectors expanded from a seed. It is exactly
//     linear in [Sum.Add], so a key holder that knows the fingerprints of the
//     named uploads (each bound to its contributor) checks that the sum's c1
//     is theirs with 60 bytes per upload instead of the uploads themselves.
//     The seed must be fixed after the aggregator has committed to the sum
//     (the protocol hashes the commitment: Fiat–Shamir); then a sum whose c1
//     differs from the uploads' in any prime passes with probability at most
//     (1/q_min + 2^-64)^3 per commitment the aggregator tries: 2^-162 for the
//     precise preset (see [Fingerprint]). The uploads' fingerprints must be
//     authentic: computed by each contributor for the seed and signed with
//     its upload's digest, or by the key holder from the uploads themselves
//     — never taken from the aggregator. Given this check, the aggregator
//     can no longer have arbitrary ciphertexts decrypted: only sums of the
//     named uploads' c1. c0 is not checked (a share does not depend on it), nor is
//     the addends count of the header, which sizes the flooding: the caller
//     must check it equals the number of named uploads, each a single addend.
//   - The lifetime budget. Flooding is sized for L decryptions over the
//     key's whole life and each key holder refuses beyond L
//     ([ErrDecryptionBudget]); see "Noise, flooding and precision" for the
//     bound, its composition and its caveat (key holders count their own
//     shares).
//   - No insecure parameters outside tests (see "Presets").
//
// What stays outside: which sets of uploads may be decrypted, and how often
// (one set per round, differencing across decryption sets), is the
// protocol's. A contributor colluding with the aggregator can upload a
// malformed ciphertext of its own (c1 = 2^50) inside a genuine sum, which the
// fingerprint check cannot see: that needs proofs of well-formed encryption.
// Parties are otherwise assumed to follow the protocol: shares are not proven
// correct, and a malicious key holder can make a decryption fail or wrong
// (detectable only as garbage); a malformed key share is named by position
// ([ShareError]). Shamir shares and key-holder states are secret and must be
// encrypted in transit and at rest; this package never writes them anywhere.
// Restoring an older key-holder state resets its decryption count: rollback
// protection is the caller's.
//
// # Concurrency
//
// [Params], [PublicKey] and [Fingerprint] are immutable and safe for
// concurrent use. [KeyHolder] and [Sum] are not. Encrypt, Sum.Add,
// Fingerprint, DecryptionShare and Decrypt spread ciphertexts over GOMAXPROCS
// goroutines, one Lattigo encoder and buffer set per goroutine; their results
// do not depend on the number of goroutines.
package he
