package he

import (
	"errors"
	"fmt"
	"math"
	"math/big"
)

// KeyPolicy describes one collective key's life. The flooding of every
// decryption share under the key is sized for it (see the package
// documentation, "Noise, flooding and precision").
type KeyPolicy struct {
	KeyHolders   int    // K: key holders sharing the key, 2..MaxKeyHolders
	Contributors int    // most addends (fresh encryptions) any sum decrypted under the key holds, 1..MaxAddends
	Decryptions  uint64 // L: ciphertext decryptions the key may release over its whole life (one decryption of a vector of c ciphertexts counts c)
}

func (kp KeyPolicy) String() string {
	return fmt.Sprintf("K = %d key holders, %d contributors, L = %d decryptions", kp.KeyHolders, kp.Contributors, kp.Decryptions)
}

// errNoPolicy is returned by the operations that need the flooding.
var errNoPolicy = errors.New("parameters carry no key policy (use Params.WithPolicy)")

// WithPolicy returns the parameter set with flooding sized for kp, or an
// error naming what does not fit (and, where a smaller L would fit, the
// largest L that does). It validates the worst case, a sum of
// kp.Contributors addends decrypted by T = kp.KeyHolders key holders:
//
//   - every prime qᵢ holds a flooding sample: ⌊12·s⌋ < qᵢ (s ≥ σ_flood is
//     the sampler's parameter, samples are truncated at 12s), since a
//     negative sample y is written qᵢ − |y|, the right residue exactly when
//     |y| < qᵢ;
//   - the decrypted sum does not wrap modulo Q: the message (Contributors ·
//     MaxAbs · Δ), the fresh errors (each coefficient at most
//     6σ·(1 + 2nK) per addend) and K truncated floods (K·⌊12s⌋) stay below
//     Q/2;
//   - DecodePublic keeps at least one bit: ⌊log₂Δ − log₂(6.45·σ_slot)⌋ ≥ 1.
//
// The receiver's own policy, if any, is ignored: the result depends only on
// the preset and kp.
func (p *Params) WithPolicy(kp KeyPolicy) (*Params, error) {
	if err := p.checkPolicyShape(kp); err != nil {
		return nil, fmt.Errorf("he: params %v: key policy: %w", p.lit.ID, err)
	}
	q := p.derive(kp)
	if err := q.checkFit(); err != nil {
		if m := p.MaxDecryptions(kp); m > 0 {
			return nil, fmt.Errorf("he: params %v: key policy (%v): %w; the largest L that fits is %d", p.lit.ID, kp, err, m)
		}
		return nil, fmt.Errorf("he: params %v: key policy (%v): %w; no L fits", p.lit.ID, kp, err)
	}
	return q, nil
}

// Policy returns the key policy the parameters carry: the zero KeyPolicy for
// a bare preset.
func (p *Params) Policy() KeyPolicy { return p.policy }

// MaxDecryptions returns the largest L for which WithPolicy(kp with
// Decryptions = L) succeeds, or 0 if none does (kp.Decryptions is ignored).
func (p *Params) MaxDecryptions(kp KeyPolicy) uint64 {
	kp.Decryptions = 1
	if p.checkPolicyShape(kp) != nil || p.derive(kp).checkFit() != nil {
		return 0
	}
	// Every check is monotone in L (σ_flood grows with √L): bisect.
	lo, hi := uint64(1), uint64(1)<<62
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		kp.Decryptions = mid
		if p.derive(kp).checkFit() == nil {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// SecurityBits returns the statistical security, in bits, that the CPA-D
// bound still gives after used of the policy's L decryptions have been
// released: the flooding variance is σ_flood² ∝ L·2^s, and the bound's
// divergence grows linearly with the number of decryptions, so after used
// decryptions it is that of s' = s + log₂(L/used) bits. Before any
// decryption (used ≤ 1) it reports the value for one, s + log₂ L; past L it
// keeps falling below s. It returns 0 without a policy.
func (p *Params) SecurityBits(used uint64) float64 {
	if p.floodUnit == 0 {
		return 0
	}
	u := float64(max(used, 1))
	return float64(p.lit.StatisticalSecurity) + math.Log2(float64(p.policy.Decryptions)/u)
}

// FloodingSigma returns σ_flood, the standard deviation of the noise each
// decryption share adds, for a sum of the policy's Contributors addends (the
// largest); 0 without a policy.
func (p *Params) FloodingSigma() float64 {
	return p.floodSigma(p.policy.Contributors)
}

// PrecisionBits returns the expected precision of a decrypted sum under the
// key policy, in bits: log2(Δ / σ_slot), where σ_slot is the standard
// deviation of the error in one slot for the given number of addends and
// decryption threshold. It returns NaN without a policy.
func (p *Params) PrecisionBits(addends, threshold int) float64 {
	if p.floodUnit == 0 {
		return math.NaN()
	}
	return float64(p.lit.LogScale) - math.Log2(p.slotSigma(addends, threshold))
}

// checkPolicyShape checks the ranges of kp against the preset.
func (p *Params) checkPolicyShape(kp KeyPolicy) error {
	switch {
	case kp.KeyHolders < 2 || kp.KeyHolders > p.lit.MaxKeyHolders:
		return fmt.Errorf("KeyHolders %d outside [2, %d]", kp.KeyHolders, p.lit.MaxKeyHolders)
	case kp.Contributors < 1 || kp.Contributors > p.lit.MaxAddends:
		return fmt.Errorf("Contributors %d outside [1, %d]", kp.Contributors, p.lit.MaxAddends)
	case kp.Decryptions < 1:
		return errors.New("Decryptions must be at least 1")
	}
	return nil
}

// derive returns a copy of p carrying kp, sharing everything immutable.
func (p *Params) derive(kp KeyPolicy) *Params {
	q := &Params{lit: p.lit, params: p.params, ringQ: p.ringQ, bits: p.bits, q: p.q,
		logQ: p.logQ, scaleMul: p.scaleMul, encScale: p.encScale, codec: p.codec, policy: kp}
	q.freshVar = p.freshVariance(kp.KeyHolders)
	n := float64(p.params.N())
	// E(a) = (√n + t)·√(a·v_fresh) bounds the ℓ2 norm of the error of a sum
	// of a fresh encryptions except with probability e^(-t²/2) (Gaussian
	// concentration), t = tailSigmas; σ_flood(a) = 8·√L·2^{s/2}·E(a).
	e1 := (math.Sqrt(n) + tailSigmas) * math.Sqrt(q.freshVar)
	q.floodUnit = 8 * math.Sqrt(float64(kp.Decryptions)) * math.Exp2(float64(p.lit.StatisticalSecurity)/2) * e1
	return q
}

// checkFit checks the policy's worst case (see WithPolicy).
func (p *Params) checkFit() error {
	kp := p.policy
	// The checks use the envelope floodOvershoot·max(σ_flood, 2^28) of the
	// sampler's s, so that they are monotone in L.
	sigma := floodOvershoot * max(p.floodUnit*math.Sqrt(float64(kp.Contributors)), floodMinSigma)
	trunc := math.Floor(floodTailSigmas * sigma) // largest |flooding sample|
	for i, qi := range p.params.Q() {
		if trunc >= float64(qi) {
			return fmt.Errorf("12·σ_flood = 2^%.2f does not fit below prime %d (2^%.2f)", math.Log2(trunc), i, math.Log2(float64(qi)))
		}
	}
	n := float64(p.params.N())
	K, a := float64(kp.KeyHolders), float64(kp.Contributors)
	msg := a * p.lit.MaxAbs * math.Exp2(float64(p.lit.LogScale))
	fresh := a * errBoundSigmas * errSigma * (1 + 2*n*K)
	total := msg + fresh + K*trunc
	// Q/2 as a float64, lowered by far more than its rounding error.
	qf, _ := new(big.Float).SetInt(p.q).Float64()
	half := qf / 2 * (1 - 0x1p-40)
	if total >= half {
		return fmt.Errorf("message 2^%.2f, fresh errors and %d floods of 2^%.2f wrap modulo Q (Q/2 = 2^%.2f)", math.Log2(msg), kp.KeyHolders, math.Log2(trunc), math.Log2(half))
	}
	n2 := 2 * n * (a*p.freshVar + K*sigma*sigma) // σ_slot² at the envelope
	if lp := math.Floor(float64(p.lit.LogScale) - math.Log2(tailSigmas*math.Sqrt(n2))); lp < 1 {
		return fmt.Errorf("noise at %d addends and T = %d leaves %.0f bits of precision, want at least 1", kp.Contributors, kp.KeyHolders, lp)
	}
	return nil
}

// freshVariance is the per-coefficient variance of a fresh encryption's
// error under a key of k key holders: v_fresh = 2σ²(1 + (4/3)·n·k).
func (p *Params) freshVariance(k int) float64 {
	n := float64(p.params.N())
	return 2 * errSigma * errSigma * (1 + 4*n*float64(k)/3)
}

// floodSigma is the flooding parameter for a sum of a addends: the
// sampler's s, at most 1% above σ_flood(a) = floodUnit·√a; 0 without a
// policy.
func (p *Params) floodSigma(a int) float64 {
	if p.floodUnit == 0 {
		return 0
	}
	return p.floodChain(a).sigma
}

// floodChain is the flooding sampler for a sum of a addends.
func (p *Params) floodChain(a int) floodChain {
	return newFloodChain(p.floodUnit * math.Sqrt(float64(a)))
}

// maxAddends is the most addends a sum may hold: the policy's Contributors,
// or the preset's MaxAddends without a policy.
func (p *Params) maxAddends() int {
	if p.floodUnit != 0 {
		return p.policy.Contributors
	}
	return p.lit.MaxAddends
}

// slotSigma is the standard deviation of the decrypted error in one slot,
// before division by Δ: √(2n·(a·v_fresh + T·σ_flood²)). In the
// conjugate-invariant ring each coefficient reaches each slot through two
// terms, so independent coefficient noise of variance σ² gives slots of
// variance 2n·σ² (TestSlotVarianceModel).
func (p *Params) slotSigma(addends, threshold int) float64 {
	n := float64(p.params.N())
	f := p.floodSigma(addends)
	v := float64(addends)*p.freshVar + float64(threshold)*f*f
	return math.Sqrt(2 * n * v)
}

// logPrecision is the precision DecodePublic rounds to: the bits of Δ above
// the error's 2^-30 tail bound (Lattigo SECURITY.md), capped at maxLogPrecision.
func (p *Params) logPrecision(addends, threshold int) float64 {
	lp := math.Floor(float64(p.lit.LogScale) - math.Log2(tailSigmas*p.slotSigma(addends, threshold)))
	return min(lp, maxLogPrecision)
}
