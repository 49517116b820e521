package dp

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/dsp/fourier"
)

// pld is a discretized privacy loss distribution: mass probs[i] at the
// privacy loss (lower+i)·h and mass inf at +∞. It is immutable once built.
type pld struct {
	h     float64
	lower int64
	probs []float64
	inf   float64
}

// maxPLDPoints bounds the grid of any privacy loss distribution (64 MiB of
// float64), so that extreme settings fail with an error, not by exhausting
// memory.
const maxPLDPoints = 1 << 23

// errPLDTooLarge reports settings whose privacy loss distribution does not
// fit maxPLDPoints at the chosen discretization.
var errPLDTooLarge = errors.New("privacy loss distribution too large for the discretization (use a coarser one, or the rdp accountant)")

// direction of the neighbouring relation a privacy loss distribution is for.
type direction int

const (
	// removeDir: P = (1−q)·N(0,σ²) + q·N(1,σ²) (the data set with the record),
	// Q = N(0,σ²).
	removeDir direction = iota
	// addDir: P = N(0,σ²), Q = (1−q)·N(0,σ²) + q·N(1,σ²).
	addDir
)

func (d direction) String() string {
	if d == removeDir {
		return "remove"
	}
	return "add"
}

// gaussLoss is the privacy loss of one step of the Poisson-subsampled Gaussian
// mechanism at output t (sensitivity 1, noise σ) in direction d.
func gaussLoss(q, sigma, t float64, d direction) float64 {
	l := math.Log1p(q * math.Expm1((2*t-1)/(2*sigma*sigma)))
	if d == addDir {
		return -l
	}
	return l
}

// gaussDelta is the exact hockey-stick divergence δ(ε) = ∫ (P − e^ε Q)₊ of
// one step of the Poisson-subsampled Gaussian mechanism in direction d. With
// Φ̄ the standard normal survival function:
//
//	remove: t = σ² log((e^ε − 1 + q)/q) + ½,  δ = q Φ̄((t−1)/σ) − (e^ε − 1 + q) Φ̄(t/σ)
//	        (δ = 1 − e^ε when e^ε ≤ 1 − q)
//	add:    t = σ² log((e^{−ε} − 1 + q)/q) + ½, δ = e^ε [(e^{−ε} − 1 + q) Φ(t/σ) − q Φ((t−1)/σ)]
//	        (δ = 0 when e^{−ε} ≤ 1 − q)
func gaussDelta(q, sigma, eps float64, d direction) float64 {
	s2 := sigma * sigma
	if d == removeDir {
		a := math.Expm1(eps) + q
		if a <= 0 {
			return -math.Expm1(eps)
		}
		t := s2*math.Log(a/q) + 0.5
		v := q*normSF((t-1)/sigma) - a*normSF(t/sigma)
		return math.Max(0, v)
	}
	a := math.Expm1(-eps) + q
	if a <= 0 {
		return 0
	}
	t := s2*math.Log(a/q) + 0.5
	v := math.Exp(eps) * (a*normSF(-t/sigma) - q*normSF((1-t)/sigma))
	return math.Max(0, v)
}

// normSF is the standard normal survival function Φ̄(x) = P(N(0,1) > x).
func normSF(x float64) float64 { return 0.5 * math.Erfc(x/math.Sqrt2) }

// newGaussPLD discretizes one step of the Poisson-subsampled Gaussian
// mechanism in direction d on the grid h·ℤ with the pessimistic
// connect-the-dots construction of Doroshenko, Ghazi, Kamath, Kumar and
// Manurangsi (2022), Algorithm 1: on grid points x_0 < … < x_m it places
//
//	p_∞ = δ(x_m)
//	p_j = [e^h (δ(x_{j−1}) − δ(x_j)) − (δ(x_j) − δ(x_{j+1}))] / (e^h − 1),  0 < j ≤ m  (δ(x_{m+1}) := δ(x_m))
//	p_0 = 1 − p_∞ − Σ_{j>0} p_j
//
// so that the discrete hockey-stick curve meets the exact one at every grid
// point and lies above it in between (δ is convex in e^ε). The grid spans the
// losses of outputs within z standard deviations, z = Φ̄⁻¹(tail/2).
func newGaussPLD(q, sigma, h, tail float64, d direction) (*pld, error) {
	z := math.Sqrt2 * math.Erfcinv(tail)
	tLo, tHi := -z*sigma, 1+z*sigma
	if d == addDir {
		tLo, tHi = -z*sigma, z*sigma
	}
	xLo, xHi := gaussLoss(q, sigma, tLo, d), gaussLoss(q, sigma, tHi, d)
	if xLo > xHi {
		xLo, xHi = xHi, xLo
	}
	if (xHi-xLo)/h > maxPLDPoints {
		return nil, fmt.Errorf("%w: one step with sample rate %v and noise multiplier %v spans %.3g grid points", errPLDTooLarge, q, sigma, (xHi-xLo)/h)
	}
	kLo, kHi := int64(math.Floor(xLo/h)), int64(math.Ceil(xHi/h))
	if kHi <= kLo {
		kHi = kLo + 1
	}
	m := int(kHi - kLo)
	deltas := make([]float64, m+2)
	for j := 0; j <= m; j++ {
		deltas[j] = gaussDelta(q, sigma, float64(kLo+int64(j))*h, d)
	}
	deltas[m+1] = deltas[m]
	eh, em1 := math.Exp(h), math.Expm1(h)
	probs := make([]float64, m+1)
	sum := 0.0
	for j := m; j >= 1; j-- {
		p := (eh*(deltas[j-1]-deltas[j]) - (deltas[j] - deltas[j+1])) / em1
		if p < 0 {
			p = 0
		}
		probs[j] = p
		sum += p
	}
	inf := deltas[m]
	probs[0] = math.Max(0, 1-inf-sum)
	return &pld{h: h, lower: kLo, probs: probs, inf: inf}, nil
}

// selfCompose returns the distribution of the sum of n independent copies of
// p, by one real FFT over a window that holds all but tail mass on each side
// (Chernoff bounds); the mass outside the window is added to the mass at +∞,
// which keeps the result pessimistic.
func (p *pld) selfCompose(n int, tail float64) (*pld, error) {
	if n == 1 {
		return p, nil
	}
	size := len(p.probs)
	maxIdx := int64(n) * int64(size-1)
	lo, hi := chernoffWindow(p.probs, n, tail)
	if lo < 0 {
		lo = 0
	}
	if hi > maxIdx {
		hi = maxIdx
	}
	if hi-lo+1 > maxPLDPoints {
		return nil, fmt.Errorf("%w: %d steps span %d grid points", errPLDTooLarge, n, hi-lo+1)
	}
	w := smoothSize(int(hi-lo+1) + 1)
	seq := make([]float64, w)
	for k, v := range p.probs {
		seq[k%w] += v
	}
	fft := fourier.NewFFT(w)
	coeff := fft.Coefficients(nil, seq)
	for i, c := range coeff {
		coeff[i] = cpow(c, n)
	}
	out := fft.Sequence(nil, coeff)
	probs := make([]float64, hi-lo+1)
	for i := range probs {
		v := out[int((lo+int64(i))%int64(w))] / float64(w)
		if v > 0 {
			probs[i] = v
		}
	}
	inf := -math.Expm1(float64(n) * math.Log1p(-p.inf))
	if lo > 0 {
		inf += tail
	}
	if hi < maxIdx {
		inf += tail
	}
	r := &pld{h: p.h, lower: p.lower*int64(n) + lo, probs: probs, inf: math.Min(1, inf)}
	return r.truncate(tail), nil
}

// compose returns the distribution of the sum of independent draws from p and
// o (linear convolution by FFT), truncated pessimistically.
func (p *pld) compose(o *pld, tail float64) (*pld, error) {
	if p.h != o.h {
		panic("dp: composing privacy loss distributions of different discretization")
	}
	n := len(p.probs) + len(o.probs) - 1
	if n > maxPLDPoints {
		return nil, fmt.Errorf("%w: composition spans %d grid points", errPLDTooLarge, n)
	}
	w := smoothSize(n)
	a, b := make([]float64, w), make([]float64, w)
	copy(a, p.probs)
	copy(b, o.probs)
	fft := fourier.NewFFT(w)
	ca := fft.Coefficients(nil, a)
	cb := fft.Coefficients(nil, b)
	for i := range ca {
		ca[i] *= cb[i]
	}
	out := fft.Sequence(nil, ca)
	probs := make([]float64, n)
	for i := range probs {
		if v := out[i] / float64(w); v > 0 {
			probs[i] = v
		}
	}
	inf := 1 - (1-p.inf)*(1-o.inf)
	r := &pld{h: p.h, lower: p.lower + o.lower, probs: probs, inf: inf}
	return r.truncate(tail), nil
}

// truncate drops a prefix and a suffix of at most tail/2 mass each: the
// prefix's mass moves to the first kept point (up, so pessimistic), the
// suffix's mass to +∞.
func (p *pld) truncate(tail float64) *pld {
	if tail <= 0 || len(p.probs) < 2 {
		return p
	}
	lo, left := 0, 0.0
	for lo < len(p.probs)-1 && left+p.probs[lo] <= tail/2 {
		left += p.probs[lo]
		lo++
	}
	hi, right := len(p.probs), 0.0
	for hi-1 > lo && right+p.probs[hi-1] <= tail/2 {
		right += p.probs[hi-1]
		hi--
	}
	probs := append([]float64(nil), p.probs[lo:hi]...)
	probs[0] += left
	return &pld{h: p.h, lower: p.lower + int64(lo), probs: probs, inf: math.Min(1, p.inf+right)}
}

// delta returns the hockey-stick divergence of p at ε:
//
//	δ(ε) = p_∞ + Σ_{x_j > ε} p_j (1 − e^{ε − x_j})
func (p *pld) delta(eps float64) float64 {
	d := p.inf
	for i := len(p.probs) - 1; i >= 0; i-- {
		x := float64(p.lower+int64(i)) * p.h
		if x <= eps {
			break
		}
		d += p.probs[i] * -math.Expm1(eps-x)
	}
	return math.Min(1, math.Max(0, d))
}

// epsilon returns the smallest ε ≥ 0 with δ(ε) ≤ delta, or +Inf when the
// mass at +∞ exceeds delta. On the segment between neighbouring grid points
// δ(ε) = A − e^ε B with A, B the masses above, so ε = log((A − δ)/B) there.
func (p *pld) epsilon(delta float64) float64 {
	if p.inf > delta {
		return math.Inf(1)
	}
	a, b := p.inf, 0.0
	for i := len(p.probs) - 1; i >= 0; i-- {
		x := float64(p.lower+int64(i)) * p.h
		a += p.probs[i]
		b += p.probs[i] * math.Exp(-x)
		next := math.Inf(-1) // lower end of the segment below x
		if i > 0 {
			next = float64(p.lower+int64(i-1)) * p.h
		}
		if a <= delta {
			if next <= 0 {
				return 0 // δ(0) ≤ delta
			}
			continue // δ(ε) ≤ delta on the whole segment: go lower
		}
		e := math.Log((a - delta) / b)
		if e >= next || next <= 0 {
			return math.Max(0, math.Min(e, x))
		}
	}
	return 0
}

// chernoffWindow returns index bounds [lo, hi] such that the n-fold sum of
// indices drawn from probs falls below lo, and above hi, with mass at most
// tail each: P(S ≥ u) ≤ M(λ)ⁿ e^{−λu} with M(λ) = Σ_k probs[k] e^{λk}.
func chernoffWindow(probs []float64, n int, tail float64) (lo, hi int64) {
	logTail := math.Log(tail)
	nf := float64(n)
	first, last := 0, len(probs)-1
	for first < last && probs[first] == 0 {
		first++
	}
	for last > first && probs[last] == 0 {
		last--
	}
	support := probs[first : last+1]
	bestHi, bestLo := math.Inf(1), math.Inf(-1)
	worseHi, worseLo := 0, 0
	// The bounds are unimodal in λ in practice: stop a search after three
	// successive λ make it worse.
	for lam := 1e-9; lam < 20 && (worseHi < 3 || worseLo < 3); lam *= 2 {
		if worseHi < 3 {
			u := (nf*(logMGF(support, lam)+lam*float64(first)) - logTail) / lam
			if u < bestHi {
				bestHi, worseHi = u, 0
			} else {
				worseHi++
			}
		}
		if worseLo < 3 {
			l := (logTail - nf*(logMGF(support, -lam)-lam*float64(first))) / lam
			if l > bestLo {
				bestLo, worseLo = l, 0
			} else {
				worseLo++
			}
		}
	}
	maxIdx := nf * float64(len(probs)-1)
	bestHi = math.Min(bestHi, maxIdx)
	bestLo = math.Max(bestLo, 0)
	return int64(math.Floor(bestLo)), int64(math.Ceil(bestHi))
}

// logMGF returns log Σ_k probs[k] e^{λk}.
func logMGF(probs []float64, lam float64) float64 {
	shift := 0.0
	if lam > 0 {
		shift = lam * float64(len(probs)-1)
	}
	s := 0.0
	for k, v := range probs {
		s += v * math.Exp(lam*float64(k)-shift)
	}
	return shift + math.Log(s)
}

// cpow returns c^n for a complex c and n ≥ 1, in polar form so that large n
// loses no more than a few ulps of phase per doubling.
func cpow(c complex128, n int) complex128 {
	r, th := math.Hypot(real(c), imag(c)), math.Atan2(imag(c), real(c))
	if r == 0 {
		return 0
	}
	mag := math.Exp(float64(n) * math.Log(r))
	s, co := math.Sincos(math.Mod(float64(n)*th, 2*math.Pi))
	return complex(mag*co, mag*s)
}

// smoothSize returns the smallest integer ≥ n whose prime factors are 2, 3
// and 5, the sizes gonum's FFT handles fastest.
func smoothSize(n int) int {
	if n < 1 {
		return 1
	}
	for m := n; ; m++ {
		k := m
		for _, f := range []int{2, 3, 5} {
			for k%f == 0 {
				k /= f
			}
		}
		if k == 1 {
			return m
		}
	}
}

func (p *pld) String() string {
	return fmt.Sprintf("pld{h=%g lower=%d n=%d inf=%g}", p.h, p.lower, len(p.probs), p.inf)
}
