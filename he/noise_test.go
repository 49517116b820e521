package he

import (
	"math"
	"testing"

	"github.com/tuneinsight/lattigo/v5/ring"
)

// TestSlotVarianceModel checks the factor 2 of slotSigma: independent
// coefficient noise of variance σ² (the flooding, and nearly the fresh
// errors) decodes to slots of variance 2n·σ² in the conjugate-invariant
// ring, each coefficient reaching each slot through two terms.
func TestSlotVarianceModel(t *testing.T) {
	p := testPreset(t, false)
	const cts = 512
	sigma := math.Exp2(20)
	g := p.gaussian(keyedPRNG(make([]byte, 32)), sigma)
	pts := make([]ring.Poly, cts)
	for i := range pts {
		pts[i] = p.ringQ.NewPoly()
		g.Read(pts[i])
		p.ringQ.NTT(pts[i], pts[i])
	}
	got := p.decode(pts, cts*p.Slots(), 40)
	slots := p.Slots()
	vs := make([]float64, slots)
	D := math.Exp2(float64(p.lit.LogScale))
	for i, x := range got {
		vs[i%slots] += x * D * x * D / cts
	}
	n := float64(p.params.N())
	mx, mn, avg := 0.0, math.Inf(1), 0.0
	for _, v := range vs {
		mx = math.Max(mx, v)
		mn = math.Min(mn, v)
		avg += v / float64(slots)
	}
	r := avg / (n * sigma * sigma)
	t.Logf("independent coefficients: per-slot variance / (n·σ²): average %.3f, min %.3f, max %.3f", r, mn/(n*sigma*sigma), mx/(n*sigma*sigma))
	// The average over cts·slots values has relative error about √(2/(cts·slots)) < 1%.
	if math.Abs(r-2) > 0.05 {
		t.Errorf("average slot variance %.3f·n·σ², the model says 2", r)
	}
	if want := math.Sqrt(2 * n * (p.freshVar + 3*p.floodSigma(1)*p.floodSigma(1))); math.Abs(p.slotSigma(1, 3)-want) > 1e-9*want {
		t.Errorf("slotSigma(1, 3) = %g, want √(2n·(v_fresh + 3σ_flood²)) = %g", p.slotSigma(1, 3), want)
	}
}
