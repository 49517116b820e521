package he

import (
	"math"
	"math/bits"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/he/hefloat"
	"github.com/tuneinsight/lattigo/v5/ring"
)

type decWorker struct {
	enc  *hefloat.Encoder
	pt   ring.Poly
	cbuf []complex128
	vals []float64
}

// decode decodes plaintexts m·Δ + e (NTT form) at precision logPrec and
// returns the first length values. With two primes it reconstructs each
// coefficient from its residues in 128-bit integer arithmetic and calls
// Lattigo's special FFT, which is what Lattigo's DecodePublic computes with
// a big.Int per coefficient, about five times slower; otherwise it calls
// DecodePublic.
func (p *Params) decode(pts []ring.Poly, length int, logPrec float64) []float64 {
	out := make([]float64, length)
	slots := p.Slots()
	enc := p.encoder()
	scale := rlwe.NewScale(math.Exp2(float64(p.lit.LogScale)))
	crt := newCRT2(p.params.Q())
	_ = parallel(len(pts), func() any {
		return &decWorker{enc: enc.ShallowCopy(), pt: p.ringQ.NewPoly(),
			cbuf: make([]complex128, slots), vals: make([]float64, slots)}
	}, func(wa any, i int) error {
		w := wa.(*decWorker)
		if crt != nil {
			p.decodeCRT2(w, crt, pts[i], scale.Float64(), logPrec)
		} else {
			pt := hefloat.NewPlaintext(p.params, p.params.MaxLevel())
			pt.Value = pts[i]
			pt.Scale = scale
			if err := w.enc.DecodePublic(pt, w.vals, logPrec); err != nil {
				panic("he: decode: " + err.Error())
			}
		}
		copy(out[i*slots:min(length, (i+1)*slots)], w.vals)
		return nil
	})
	return out
}

// decodeCRT2 decodes one plaintext of a two-prime ring into w.vals: inverse
// NTT, centred CRT lift of every coefficient, division by the scale, the
// map from ℤ[X+X⁻¹] coefficients to the special FFT's input, the FFT, and
// rounding to 2^−logPrec — the steps of DecodePublic for a conjugate-
// invariant ring.
func (p *Params) decodeCRT2(w *decWorker, crt *crt2, pt ring.Poly, scale, logPrec float64) {
	p.ringQ.INTT(pt, w.pt)
	c0, c1 := w.pt.Coeffs[0], w.pt.Coeffs[1]
	slots := len(w.cbuf)
	for j := range slots {
		w.cbuf[j] = complex(crt.lift(c0[j], c1[j])/scale, 0)
	}
	for j := 1; j < slots; j++ {
		w.cbuf[j] -= complex(0, real(w.cbuf[slots-j]))
	}
	if err := w.enc.FFT(w.cbuf, p.params.LogMaxSlots()); err != nil {
		panic("he: decode: " + err.Error())
	}
	r := math.Exp2(logPrec)
	for j, c := range w.cbuf {
		w.vals[j] = math.Round(real(c)*r) / r
	}
}

// crt2 lifts residues modulo two primes q₀, q₁ to the centred representative
// of ℤ/(q₀q₁) as a float64.
type crt2 struct {
	q0, q1         uint64
	q0inv          uint64 // q₀⁻¹ mod q₁
	qHi, qLo       uint64 // Q = q₀q₁
	halfHi, halfLo uint64 // ⌊Q/2⌋
	two64          float64
}

// newCRT2 returns the lift for exactly two primes, nil otherwise.
func newCRT2(q []uint64) *crt2 {
	if len(q) != 2 {
		return nil
	}
	c := &crt2{q0: q[0], q1: q[1], two64: math.Exp2(64)}
	c.q0inv = ring.ModExp(q[0]%q[1], q[1]-2, q[1]) // q₁ is prime
	c.qHi, c.qLo = bits.Mul64(q[0], q[1])
	c.halfHi, c.halfLo = c.qHi>>1, c.qLo>>1|c.qHi<<63
	return c
}

// lift returns the integer x ∈ [−⌈Q/2⌉, ⌊Q/2⌋) with x ≡ a (mod q₀) and
// x ≡ b (mod q₁), correctly rounded to float64, as Lattigo's decoder gets it
// through big.Float.
func (c *crt2) lift(a, b uint64) float64 {
	// x = a + q₀·t, t = (b − a)·q₀⁻¹ mod q₁: Garner's algorithm.
	am := a % c.q1
	d := b + c.q1 - am
	if d >= c.q1 {
		d -= c.q1
	}
	hi, lo := bits.Mul64(d, c.q0inv)
	t := bits.Rem64(hi, lo, c.q1)
	xh, xl := bits.Mul64(c.q0, t)
	var carry uint64
	xl, carry = bits.Add64(xl, a, 0)
	xh += carry
	// x ≥ ⌊Q/2⌋ stands for x − Q, as in Lattigo's decoder.
	if xh > c.halfHi || xh == c.halfHi && xl >= c.halfLo {
		nl, borrow := bits.Sub64(c.qLo, xl, 0)
		return -toFloat(c.qHi-xh-borrow, nl)
	}
	return toFloat(xh, xl)
}

// toFloat returns hi·2⁶⁴ + lo correctly rounded (to nearest, ties to even).
func toFloat(hi, lo uint64) float64 {
	if hi == 0 {
		return float64(lo) // Go converts uint64 with one rounding
	}
	// Keep the top 64 bits and fold every bit below them into the lowest
	// one (sticky): the rounding position is 11 bits higher, so the one
	// rounding of the conversion sees whether anything was dropped.
	k := uint(64 - bits.LeadingZeros64(hi)) // bits of hi, 1 to 64
	top := hi<<(64-k) | lo>>k               // lo>>64 is 0 in Go
	if lo&(1<<k-1) != 0 {
		top |= 1
	}
	return math.Ldexp(float64(top), int(k))
}
