package he

import (
	"math"
	"math/bits"
	"testing"
)

// TestFloodChain checks every chain over targets from 2^20 to 2^62: s is at
// least max(target, 2^28) and less than floodOvershoot times it, and every
// level meets the convolution condition s₁t/s ≥ 2 (z ≤ 511).
func TestFloodChain(t *testing.T) {
	const tb = floodBaseT
	for e := 20.0; e <= 62; e += 0.01 {
		target := math.Exp2(e)
		c := newFloodChain(target)
		want := max(target, floodMinSigma)
		if c.sigma < want || c.sigma >= floodOvershoot*want {
			t.Fatalf("target 2^%.2f: s = 2^%.4f, want in [%g, %g)", e, math.Log2(c.sigma), want, floodOvershoot*want)
		}
		s := float64(tb)
		for k, z := range c.z {
			if z < 2 || z > floodZMax {
				t.Fatalf("target 2^%.2f: level %d multiplier %d", e, k+1, z)
			}
			next := math.Sqrt(float64(z*z)*s*s + tb*tb)
			if s*tb/next < 2 {
				t.Fatalf("target 2^%.2f: level %d has s' = %g < 2", e, k+1, s*tb/next)
			}
			s = next
		}
		if math.Abs(s-c.sigma) > 1e-9*s || c.bound != int64(min(floodTailSigmas*c.sigma, 1<<62)) {
			t.Fatalf("target 2^%.2f: s %g, recomputed %g, bound %d", e, c.sigma, s, c.bound)
		}
	}
}

// TestFloodBaseTable compares the table with D_{ℤ,t} computed in float64.
func TestFloodBaseTable(t *testing.T) {
	c := baseTable()
	const tb = float64(floodBaseT)
	norm := 1.0
	for x := 1; x <= 14*floodBaseT; x++ {
		norm += 2 * math.Exp(-float64(x*x)/(2*tb*tb))
	}
	for _, x := range []int{0, 1, 100, 1024, 3000, 8000} {
		// cdf[x] − cdf[x−1] as a fraction of 2^128, in 128-bit arithmetic.
		dh, dl := c.hi[x], c.lo[x]
		if x > 0 {
			var borrow uint64
			dl, borrow = bits.Sub64(dl, c.lo[x-1], 0)
			dh, _ = bits.Sub64(dh, c.hi[x-1], borrow)
		}
		got := (float64(dh) + float64(dl)/math.Exp2(64)) / math.Exp2(64)
		w := 2 * math.Exp(-float64(x*x)/(2*tb*tb)) / norm
		if x == 0 {
			w = 1 / norm
		}
		if math.Abs(got-w) > 1e-9*w+1e-18 {
			t.Errorf("P(|B| = %d) = %g, want %g", x, got, w)
		}
	}
	for i := 1; i < len(c.hi); i++ {
		if c.hi[i] < c.hi[i-1] || c.hi[i] == c.hi[i-1] && c.lo[i] < c.lo[i-1] {
			t.Fatalf("table not increasing at %d", i)
		}
	}
}

// TestFloodSamplerMoments draws 2^18 flooding samples at σ = 2^40 and
// checks the variance, the mean, the truncation, the residues in every
// prime and that the low bits are uniform (the support is all of ℤ).
func TestFloodSamplerMoments(t *testing.T) {
	p := testPreset(t, true)
	c := newFloodChain(1 << 40)
	q := p.params.Q()
	pol := p.ringQ.NewPoly()
	prng := keyedPRNG(make([]byte, 32))
	buf := make([]byte, c.bufLen())
	var sum, sum2 float64
	var low [256]int
	m := 0
	for range (1 << 18) / p.params.N() {
		c.read(prng, pol, q, buf)
		for j, v := range pol.Coeffs[0] {
			y := int64(v)
			if v > q[0]/2 {
				y = -int64(q[0] - v)
			}
			if y > c.bound || y < -c.bound {
				t.Fatalf("sample %d beyond the bound %d", y, c.bound)
			}
			for i, qi := range q[1:] {
				if want := uint64((y%int64(qi) + int64(qi)) % int64(qi)); pol.Coeffs[i+1][j] != want {
					t.Fatalf("sample %d: residue %d modulo prime %d, want %d", y, pol.Coeffs[i+1][j], i+1, want)
				}
			}
			f := float64(y)
			sum += f
			sum2 += f * f
			low[uint64(y)&255]++
			m++
		}
	}
	mean, variance := sum/float64(m), sum2/float64(m)
	s2 := c.sigma * c.sigma
	// The sample variance has relative standard deviation √(2/m) ≈ 0.28%.
	if math.Abs(variance/s2-1) > 0.015 || math.Abs(mean) > 5*c.sigma/math.Sqrt(float64(m)) {
		t.Errorf("mean %g, variance %g·s² (s = 2^%.2f)", mean, variance/s2, math.Log2(c.sigma))
	}
	chi := 0.0
	e := float64(m) / 256
	for _, k := range low {
		chi += (float64(k) - e) * (float64(k) - e) / e
	}
	// 255 degrees of freedom: mean 255, standard deviation 22.6.
	if chi > 255+6*22.6 {
		t.Errorf("low 8 bits not uniform: χ² = %.0f", chi)
	}
	t.Logf("s = 2^%.3f, variance %.4f·s², χ² of the low byte %.0f", math.Log2(c.sigma), variance/s2, chi)
}
