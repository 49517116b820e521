package dp

import (
	"math"
	"math/big"
)

// cdtPrec is the precision in bits of the arithmetic that builds the tables.
const cdtPrec = 320

// cdtGuideBits is the number of leading random bits that index the guide
// table, which narrows each search to a few entries.
const cdtGuideBits = 16

// cdt samples X ~ D_{ℤ,t}, the discrete Gaussian P(X = x) ∝ exp(−x²/(2t²)),
// from a cumulative distribution table of |X| in 128-bit fixed point plus a
// sign bit (Micciancio and Walter 2017, Section 2: the CDT base sampler).
// The table depends on t only, a public value. It is immutable and safe for
// concurrent use.
type cdt struct {
	t      float64
	hi, lo []uint64 // cdf[i] = ⌊P(|X| ≤ i)·2¹²⁸⌋ for i < len−1
	// guide[g]&guideIndex = min{i : cdf[i] ≥ g·2^(128−cdtGuideBits)}, with
	// guideSearch set when bucket g holds a table boundary (the entry of
	// g+1 differs), so that one load tells a draw whether its bucket decides
	// it.
	guide *[1<<cdtGuideBits + 1]uint16
	// distance bounds the statistical distance between one draw and
	// D_{ℤ,t}: the truncated tail plus the rounding of every entry.
	distance float64
}

// newCDT builds the table for D_{ℤ,t} truncated at |x| ≤ ⌈14t⌉, with
// ρ(x) = r^{x²}, r = exp(−1/(2t²)) computed in 320-bit arithmetic.
func newCDT(t float64) *cdt {
	tail := int(math.Ceil(14 * t))
	if tail > guideIndex {
		panic("dp: discrete Gaussian table too wide for its guide") // t is set by the package
	}
	prec := uint(cdtPrec)
	nf := func() *big.Float { return new(big.Float).SetPrec(prec) }
	// r = exp(−a), a = 1/(2t²) < 1: Taylor series to below 2^−330.
	a := nf().Quo(nf().SetFloat64(1), nf().Mul(nf().SetFloat64(2), nf().Mul(nf().SetFloat64(t), nf().SetFloat64(t))))
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
	// Weights w_0 = 1, w_x = 2ρ(x) of |X| = x, and their running sums.
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
	c := &cdt{t: t, hi: make([]uint64, tail+1), lo: make([]uint64, tail+1)}
	mask := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 64), big.NewInt(1))
	for i := 0; i < tail; i++ {
		f := nf().Quo(cum[i], sum)
		f.SetMantExp(f, 128)
		v, _ := f.Int(nil)
		c.lo[i] = new(big.Int).And(v, mask).Uint64()
		c.hi[i] = new(big.Int).Rsh(v, 64).Uint64()
	}
	c.hi[tail], c.lo[tail] = math.MaxUint64, math.MaxUint64
	c.guide = new([1<<cdtGuideBits + 1]uint16)
	i := 0
	for g := range 1 << cdtGuideBits {
		bound := uint64(g) << (64 - cdtGuideBits)
		for i < tail && c.hi[i] < bound {
			i++
		}
		c.guide[g] = uint16(i)
	}
	c.guide[1<<cdtGuideBits] = uint16(tail)
	for g := range 1 << cdtGuideBits {
		if c.guide[g] != c.guide[g+1]&guideIndex {
			c.guide[g] |= guideSearch
		}
	}
	// Tail beyond the table: P(|X| > T) ≤ 2ρ(T)/(1 − e^{−T/t²}) / ρ(ℤ), with
	// ρ(ℤ) ≥ √(2π)t − 1; rounding: at most 2^−128 per entry.
	T := float64(tail)
	tailMass := 2 * math.Exp(-T*T/(2*t*t)) / -math.Expm1(-T/(t*t)) / (math.Sqrt(2*math.Pi)*t - 1)
	c.distance = tailMass + float64(tail+1)*math.Ldexp(1, -128)
	return c
}

// cdtFieldBits is the width of the field that starts a draw: the guide
// index and the sign bit.
const cdtFieldBits = cdtGuideBits + 1

// The two parts of a guide entry.
const (
	guideSearch = 1 << 15         // the bucket holds a table boundary
	guideIndex  = guideSearch - 1 // the first table index the bucket can give
)

// sample draws one value from the table with randomness from s.
func (c *cdt) sample(s *stream) int64 { return c.draw(s.take(cdtFieldBits), s) }

// draw draws one value from the table. The field f holds cdtFieldBits
// uniform bits: the top cdtGuideBits are the top bits of a 128-bit uniform
// r and the lowest is the sign. The rest of r is revealed lazily: when no
// table boundary falls inside r's guide bucket the bucket decides the draw
// alone (all but about 1 in 20 draws for t = 1024); otherwise the rest of r
// is read from s as far as the comparisons need.
func (c *cdt) draw(f uint64, s *stream) int64 { return c.settle(c.guide[f>>1], f, s) }

// settle is draw for a field f whose guide entry e has been read. A bucket
// with one boundary (most of those with any) needs one comparison with the
// top half of r; others, or r equal to that half, go on to searchFrom.
func (c *cdt) settle(e uint16, f uint64, s *stream) int64 {
	k := int(e & guideIndex)
	if e&guideSearch != 0 {
		g := f >> 1
		end := int(c.guide[g+1] & guideIndex)
		rh := g<<(64-cdtGuideBits) | s.take(64-cdtGuideBits)
		if h := c.hi[k]; end == k+1 && rh != h {
			if rh > h {
				k = end
			}
		} else {
			k = c.searchFrom(rh, k, end, s)
		}
	}
	return withSign(int64(k), f&1)
}

// withSign returns x, or −x when the bit is 1, without a branch: m is 0 or
// −1, and (x ^ m) − m is x or −x.
func withSign(x int64, bit uint64) int64 {
	m := -int64(bit)
	return (x ^ m) - m
}

// searchFrom returns min{k ∈ [i, end] : r < cdf[k]} for the uniform r whose
// top 64 bits are rh, reading its low 64 bits from s if the comparisons need
// them.
func (c *cdt) searchFrom(rh uint64, i, end int, s *stream) int {
	var rl uint64
	haveLo := false
	for i != end {
		// Invariant: the answer lies in [i, end].
		k := i
		if end-i > 8 {
			k = int(uint(i+end) >> 1)
		}
		var below bool // r < cdf[k]
		if rh != c.hi[k] {
			below = rh < c.hi[k]
		} else {
			if !haveLo {
				rl, haveLo = s.take(32)<<32|s.take(32), true
			}
			below = rl < c.lo[k]
		}
		switch {
		case below && k == i:
			end = i
		case below:
			end = k
		default:
			i = k + 1
		}
	}
	return end
}
