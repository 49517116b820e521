package compress

import (
	"fmt"

	"github.com/fedcrypt/fedcrypt/fedavg"
)

// Feedback is one contributor's error-feedback residual e, kept across rounds: each round it
// compresses u + e and keeps what the round's map did not send. It belongs to one contributor,
// lives with it (it is derived from its DP outputs) and is not safe for concurrent use.
type Feedback struct {
	residual []float64
}

// NewFeedback returns an empty residual for updates of dim coordinates.
func NewFeedback(dim int) *Feedback { return &Feedback{residual: make([]float64, dim)} }

// Residual returns e (Dim long), for inspection; the caller must not change it.
func (f *Feedback) Residual() []float64 { return f.residual }

// Compress writes Φ(u + e) to dst, clipped to L2 norm clipNorm when clipNorm > 0 (as a
// federation's update bound requires of what is encrypted), and keeps e ← (u + e) − Φᵀdst:
//
//	v = u + e,  y = Φv · min(1, clipNorm/‖Φv‖),  e ← v − Φᵀy
//
// Without clipping, Φᵀy is the projection of v and e its orthogonal complement.
func (f *Feedback) Compress(p *Plan, dst, u []float64, clipNorm float64) {
	if len(f.residual) != p.Dim() {
		panic(fmt.Sprintf("compress: a residual of %d coordinates with a plan for %d", len(f.residual), p.Dim()))
	}
	v := f.residual
	for i, x := range u {
		v[i] += x
	}
	p.Compress(dst, v)
	if clipNorm > 0 {
		fedavg.ClipL2(dst, clipNorm) // Φ has orthonormal rows: Φᵀdst is as short
	}
	back := make([]float64, p.Dim())
	p.Expand(back, dst)
	for i, b := range back {
		v[i] -= b
	}
}
