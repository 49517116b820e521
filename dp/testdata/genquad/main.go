// Command genquad writes dp/testdata/quadrature.json: the exact ε of one and
// two steps of the Poisson-subsampled Gaussian mechanism, computed by
// numerical integration of the densities, independently of the package's
// closed forms and of its discretized privacy loss distributions.
//
// For one step, δ(ε) = ∫ (P(t) − e^ε Q(t))₊ dt by the midpoint rule on
// [−14σ, 1+14σ] with 200000 nodes. For two steps, since Q = P e^{−L},
//
//	δ₂(ε) = ∫ P(t) δ₁(ε − L(t)) dt,
//
// with δ₁ tabulated by the same quadrature on a grid of step 1e-4 and
// interpolated linearly. ε is found by bisection to 1e-9, in both
// neighbouring directions, and the larger is written.
//
// Run from the repository root: go run ./dp/testdata/genquad > dp/testdata/quadrature.json
package main

import (
	"encoding/json"
	"math"
	"os"
	"sort"
)

type vector struct {
	SampleRate      float64 `json:"sample_rate"`
	NoiseMultiplier float64 `json:"noise_multiplier"`
	Steps           int     `json:"steps"`
	Delta           float64 `json:"delta"`
	Epsilon         float64 `json:"epsilon"`
}

const nodes = 200000

func phi(x, sigma float64) float64 {
	return math.Exp(-x*x/(2*sigma*sigma)) / (sigma * math.Sqrt(2*math.Pi))
}

// densities returns the nodes, weight and the densities of P and Q there.
func densities(q, sigma float64, add bool) (t, p, qq []float64, w float64) {
	lo, hi := -14*sigma, 1+14*sigma
	w = (hi - lo) / nodes
	t, p, qq = make([]float64, nodes), make([]float64, nodes), make([]float64, nodes)
	for i := range t {
		x := lo + (float64(i)+0.5)*w
		mix := (1-q)*phi(x, sigma) + q*phi(x-1, sigma)
		t[i] = x
		p[i], qq[i] = mix, phi(x, sigma)
		if add {
			p[i], qq[i] = qq[i], p[i]
		}
	}
	return t, p, qq, w
}

func delta1(p, qq []float64, w, eps float64) float64 {
	e := math.Exp(eps)
	s := 0.0
	for i := range p {
		if d := p[i] - e*qq[i]; d > 0 {
			s += d
		}
	}
	return s * w
}

func bisect(f func(float64) float64, delta float64) float64 {
	lo, hi := 0.0, 40.0
	if f(0) <= delta {
		return 0
	}
	for hi-lo > 1e-9 {
		mid := (lo + hi) / 2
		if f(mid) <= delta {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

func epsilon(q, sigma float64, steps int, delta float64, add bool) float64 {
	_, p, qq, w := densities(q, sigma, add)
	if steps == 1 {
		return bisect(func(e float64) float64 { return delta1(p, qq, w, e) }, delta)
	}
	// Privacy losses at the nodes, and δ₁ tabulated over their range.
	loss := make([]float64, nodes)
	lmin, lmax := math.Inf(1), math.Inf(-1)
	for i := range p {
		loss[i] = math.Log(p[i] / qq[i])
		lmin, lmax = math.Min(lmin, loss[i]), math.Max(lmax, loss[i])
	}
	const step = 1e-4
	grid := func(k int) float64 { return lmin + float64(k)*step }
	n := int((lmax-lmin)/step) + 2
	table := make([]float64, n)
	for k := range table {
		table[k] = delta1(p, qq, w, grid(k))
	}
	d1 := func(e float64) float64 {
		if e <= lmin {
			return 1 - math.Exp(e) // every loss exceeds e
		}
		x := (e - lmin) / step
		k := int(x)
		if k >= n-1 {
			return 0
		}
		f := x - float64(k)
		return (1-f)*table[k] + f*table[k+1]
	}
	f := func(e float64) float64 {
		s := 0.0
		for i := range p {
			s += p[i] * d1(e-loss[i])
		}
		return s * w
	}
	return bisect(f, delta)
}

func main() {
	cases := []vector{
		{SampleRate: 1, NoiseMultiplier: 2, Steps: 1, Delta: 1e-5},
		{SampleRate: 0.5, NoiseMultiplier: 1, Steps: 1, Delta: 1e-3},
		{SampleRate: 0.05, NoiseMultiplier: 0.7, Steps: 1, Delta: 1e-5},
		{SampleRate: 0.5, NoiseMultiplier: 1, Steps: 2, Delta: 1e-3},
		{SampleRate: 0.1, NoiseMultiplier: 0.8, Steps: 2, Delta: 1e-4},
		{SampleRate: 0.2, NoiseMultiplier: 1.5, Steps: 2, Delta: 1e-5},
		{SampleRate: 1, NoiseMultiplier: 2, Steps: 2, Delta: 1e-5},
	}
	for i, c := range cases {
		r := epsilon(c.SampleRate, c.NoiseMultiplier, c.Steps, c.Delta, false)
		a := epsilon(c.SampleRate, c.NoiseMultiplier, c.Steps, c.Delta, true)
		cases[i].Epsilon = math.Round(math.Max(r, a)*1e8) / 1e8
	}
	sort.SliceStable(cases, func(i, j int) bool { return cases[i].Steps < cases[j].Steps })
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(map[string]any{
		"source":  "go run ./dp/testdata/genquad (numerical integration of the densities; see its doc comment)",
		"vectors": cases,
	}); err != nil {
		panic(err)
	}
}
