package he

import (
	"encoding/binary"
	"math"
	"math/big"
	"sync"

	"github.com/tuneinsight/lattigo/v5/ring"
	"github.com/tuneinsight/lattigo/v5/utils/sampling"
)

// The flooding sampler. Lattigo's Gaussian sampler draws σ·x for a 31-bit
// ziggurat value x, so at flooding sizes (σ_flood ≥ 2^38) its samples lie on
// at most 2^32 points, far from the discrete Gaussian over ℤ that the
// flooding bound assumes (TestFloodingSamplerSupport). Flooding is drawn here
// instead, as package dp draws DP-SGD noise (Micciancio and Walter,
// "Gaussian Sampling over the Integers: Efficient, Generic, Constant-Time",
// Crypto 2017):
//
//   - base draws B ~ D_{ℤ,t}, t = 1024, from a cumulative table of |B| in
//     128-bit fixed point (built in 320-bit arithmetic, truncated at 14t:
//     each draw within about 2^-113 of D_{ℤ,t}) and a uniform 128-bit number,
//     compared as integers, plus a sign bit: no floating point touches the
//     randomness;
//   - levels Y_k = z_k·Y_{k−1} + B_k, Y_0 = B_0: by Poisson summation, for
//     Y ~ D_{ℤ,s₁} and B ~ D_{ℤ,t} the law of zY + B is within a factor
//     (1±e)/(1∓e) pointwise of D_{ℤ,s}, s² = z²s₁² + t², e = 2Σ_{m≥1}
//     exp(−2π²s'²m²), s' = s₁t/s ≥ 2, so e < 2^-112 per level. z_k ≤ 511,
//     so a level multiplies s by up to 2^9: σ_flood = 2^50 takes 5 levels,
//     6 base draws a coefficient.
//
// The result has parameter s ≥ max(σ_flood, 2^28), less than 2% above it
// ([Params.FloodingSigma] reports s), and is truncated by rejection at
// floodTailSigmas·s, whose tail mass is below 2^-107.
const (
	floodBaseT      = 1024
	floodTailSigmas = 12
	floodGuideBits  = 16
)

// floodCDT is the cumulative table of |B|, B ~ D_{ℤ,t}: cdf[i] =
// ⌊P(|B| ≤ i)·2^128⌋ as (hi, lo), and a guide indexed by the top
// floodGuideBits bits of a uniform 128-bit number.
type floodCDT struct {
	hi, lo []uint64
	guide  []uint16
}

var (
	floodTableOnce sync.Once
	floodTable     *floodCDT
)

func baseTable() *floodCDT {
	floodTableOnce.Do(func() { floodTable = newFloodCDT(floodBaseT) })
	return floodTable
}

func newFloodCDT(t float64) *floodCDT {
	tail := int(math.Ceil(14 * t))
	const prec = 320
	nf := func() *big.Float { return new(big.Float).SetPrec(prec) }
	// r = exp(−1/(2t²)) by its Taylor series, to below 2^−330.
	a := nf().Quo(nf().SetFloat64(1), nf().SetFloat64(2*t*t))
	r, term := nf().SetFloat64(1), nf().SetFloat64(1)
	eps := nf().SetMantExp(nf().SetFloat64(1), -330)
	for n := 1; ; n++ {
		term.Mul(term, a)
		term.Quo(term, nf().SetInt64(int64(n)))
		term.Neg(term)
		r.Add(r, term)
		if nf().Abs(term).Cmp(eps) < 0 {
			break
		}
	}
	r2 := nf().Mul(r, r)
	// Weights of |B| = x: 1 for x = 0, 2ρ(x) otherwise, ρ(x) = r^{x²}.
	cum := make([]*big.Float, tail+1)
	rho, u := nf().SetFloat64(1), nf().Set(r)
	sum := nf().SetFloat64(1)
	cum[0] = nf().Set(sum)
	for x := 1; x <= tail; x++ {
		rho.Mul(rho, u) // ρ(x) = ρ(x−1)·r^{2x−1}
		u.Mul(u, r2)
		sum.Add(sum, nf().Mul(rho, nf().SetFloat64(2)))
		cum[x] = nf().Set(sum)
	}
	c := &floodCDT{hi: make([]uint64, tail+1), lo: make([]uint64, tail+1)}
	mask := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 64), big.NewInt(1))
	for i := range tail {
		f := nf().Quo(cum[i], sum)
		f.SetMantExp(f, 128)
		v, _ := f.Int(nil)
		c.lo[i] = new(big.Int).And(v, mask).Uint64()
		c.hi[i] = new(big.Int).Rsh(v, 64).Uint64()
	}
	c.hi[tail], c.lo[tail] = math.MaxUint64, math.MaxUint64
	c.guide = make([]uint16, 1<<floodGuideBits+1)
	i := 0
	for g := range 1 << floodGuideBits {
		bound := uint64(g) << (64 - floodGuideBits)
		for i < tail && c.hi[i] < bound {
			i++
		}
		c.guide[g] = uint16(i)
	}
	c.guide[1<<floodGuideBits] = uint16(tail)
	return c
}

// draw returns the B ~ D_{ℤ,t} that the uniform 128-bit number (rh, rl) and
// the sign bit select: the least k with r < cdf[k], negated if sign is 1.
func (c *floodCDT) draw(rh, rl, sign uint64) int64 {
	g := rh >> (64 - floodGuideBits)
	i, end := int(c.guide[g]), int(c.guide[g+1])
	for i != end {
		k := i
		if end-i > 8 {
			k = int(uint(i+end) >> 1)
		}
		below := rh < c.hi[k] || rh == c.hi[k] && rl < c.lo[k]
		switch {
		case below && k == i:
			end = i
		case below:
			end = k
		default:
			i = k + 1
		}
	}
	m := -int64(sign & 1)
	return (int64(end) ^ m) - m
}

// floodChain is the level structure for one target σ.
type floodChain struct {
	z     []int64 // multipliers of levels 1..len(z)
	sigma float64 // the parameter s of the result: target ≤ s ≤ floodOvershoot·target
	bound int64   // rejection bound ⌊floodTailSigmas·s⌋, capped at 2^62
}

const (
	// floodMinSigma is the least flooding parameter: smaller targets are
	// raised to it (more noise is always as safe). Every real policy's
	// σ_flood is above it.
	floodMinSigma = 1 << 28
	// floodOvershoot bounds s/target: from 2^28 on, a chain has at least 3
	// levels, its first multipliers z₀ ≥ 511^(2/3) > 63, and the last level
	// overshoots by at most s_{k−1}/target ≤ 1/z₀ < 1.6%.
	floodOvershoot = 1.02
	floodZMax      = 511 // s' = s₁t/s ≥ 2 needs z ≤ (t/2)·√(1 − 4/s₁²)
)

// newFloodChain returns the fewest levels whose result has s ≥ target: equal
// multipliers z₀ = ⌊(target/t)^(1/k)⌋ on the first k−1 levels, and the last
// one as small as reaches the target.
func newFloodChain(target float64) floodChain {
	const t = floodBaseT
	target = max(target, floodMinSigma)
	levels := 0
	for s := float64(t); s < target; s = math.Sqrt(floodZMax*floodZMax*s*s + t*t) {
		levels++
	}
	for z0 := math.Floor(math.Pow(target/t, 1/float64(levels))); ; z0++ {
		c := floodChain{z: make([]int64, levels)}
		s := float64(t)
		for i := range levels - 1 {
			c.z[i] = int64(z0)
			s = math.Sqrt(z0*z0*s*s + t*t)
		}
		last := math.Ceil(math.Sqrt(target*target-t*t) / s)
		if last > floodZMax {
			continue
		}
		c.z[levels-1] = int64(last)
		c.sigma = math.Sqrt(last*last*s*s + t*t)
		c.bound = int64(min(floodTailSigmas*c.sigma, 1<<62)) // WithPolicy needs it below every prime
		return c
	}
}

// floodDraw is the number of keystream bytes one base draw takes: 128 bits
// of uniform and a byte whose low bit is the sign.
const floodDraw = 17

// floodBatch is the number of coefficients whose randomness is read at once
// (AES-CTR is much faster on long reads).
const floodBatch = 64

// bufLen is the scratch space read needs.
func (c floodChain) bufLen() int { return floodDraw * (len(c.z) + 1) * (floodBatch + 1) }

// read fills pol with independent draws of the chain's distribution, reduced
// modulo every prime, with randomness from prng. buf is scratch space of
// c.bufLen() bytes.
func (c floodChain) read(prng sampling.PRNG, pol ring.Poly, q []uint64, buf []byte) {
	tab := baseTable()
	need := floodDraw * (len(c.z) + 1)
	batch, extra := buf[:need*floodBatch], buf[need*floodBatch:need*(floodBatch+1)]
	fill := func(b []byte) {
		if _, err := prng.Read(b); err != nil {
			panic("he: PRNG: " + err.Error())
		}
	}
	sample := func(b []byte) int64 {
		next := func(b []byte) int64 {
			return tab.draw(binary.LittleEndian.Uint64(b[8:]), binary.LittleEndian.Uint64(b), uint64(b[16]))
		}
		y := next(b)
		for k, z := range c.z {
			y = z*y + next(b[floodDraw*(k+1):])
		}
		return y
	}
	n := len(pol.Coeffs[0])
	for j := range n {
		if j%floodBatch == 0 {
			fill(batch[:need*min(floodBatch, n-j)])
		}
		y := sample(batch[need*(j%floodBatch):])
		for y < -c.bound || y > c.bound { // probability below 2^-107
			fill(extra)
			y = sample(extra)
		}
		// −y mod qᵢ = qᵢ − |y| for 0 < |y| < qᵢ, which WithPolicy
		// guarantees; without a branch on the secret sign.
		neg := uint64(y) >> 63
		a := uint64((y ^ -int64(neg)) + int64(neg)) // |y|
		mask := -(neg & (-a >> 63))                 // all ones iff y < 0
		for i, qi := range q {
			pol.Coeffs[i][j] = (qi-a)&mask | a&^mask
		}
	}
	clear(buf)
}
