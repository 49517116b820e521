package dp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"sync"

	"github.com/google/differential-privacy/go/v2/noise"
	"gonum.org/v1/gonum/stat/distuv"
)

// Noise sampler names (SGDConfig.Noise, --noise).
const (
	SamplerFast   = "fast"   // discrete Gaussian on λℤ by CDT convolution over AES-256-CTR (the default)
	SamplerGoogle = "google" // Google's noise.Gaussian(), one locked draw per coordinate
)

// Parameters of the fast sampler (see the package documentation).
const (
	fastBaseT     = 1024 // parameter of the shared base table
	fastFineBits  = 27   // λ = 2^(⌊log₂ σC⌋ − 27): the noise spans ≥ 2²⁷ grid steps
	fastChunk     = 2048 // coordinates per keystream
	roundingConst = 1e-3 // SD(D_{ℤ,s}, rounded N(0, s²−1/12)) ≤ roundingConst/s⁴ (tested)
)

// Noise adds the Gaussian noise of DP-SGD, N(0, (σC)²) per coordinate, to
// vectors of dimension Dim whose L2 sensitivity is the clipping norm C. It is
// protected against floating-point attacks: outputs are multiples of a power
// of two and no transcendental function touches secret randomness. A Noise
// is safe for concurrent use; Add itself runs on all cores.
type Noise struct {
	name string
	dim  int
	std  float64 // standard deviation of the noise added, ≥ σC
	eta  float64 // statistical distance of one draw from its ideal, bounded

	// fast
	lambda  float64
	effClip float64
	z       int64
	inner   *cdt
	key     [32]byte
	mu      sync.Mutex
	calls   uint64

	// google: the l∞ sensitivity and δ handed to the library so that its
	// calibration yields σC
	gLInf, gDelta float64
}

// NewNoise returns the sampler name for noise multiplier sigma, clipping
// norm clip and vectors of dim coordinates. The fast sampler reads a 32-byte
// AES-256 key from rng (crypto/rand in production, a seeded stream in
// simulations); the google sampler draws from the library's own secure
// source and ignores rng.
func NewNoise(name string, sigma, clip float64, dim int, rng io.Reader) (*Noise, error) {
	if !(sigma > 0) || math.IsInf(sigma, 0) {
		return nil, fmt.Errorf("dp: noise multiplier %v: must be a finite number > 0", sigma)
	}
	if !(clip > 0) || math.IsInf(clip, 0) {
		return nil, fmt.Errorf("dp: clipping norm %v: must be a finite number > 0", clip)
	}
	if dim < 1 {
		return nil, fmt.Errorf("dp: noise dimension %d: must be ≥ 1", dim)
	}
	if std := sigma * clip; !(std >= 1e-200 && std <= 1e200) {
		return nil, fmt.Errorf("dp: noise standard deviation σC = %v: outside the supported range [1e-200, 1e200]", std)
	}
	switch name {
	case SamplerFast, "":
		return newFastNoise(sigma, clip, dim, rng)
	case SamplerGoogle:
		return newGoogleNoise(sigma, clip, dim)
	}
	return nil, fmt.Errorf("dp: noise sampler %q: must be %q or %q", name, SamplerFast, SamplerGoogle)
}

var (
	baseOnce  sync.Once
	baseTable *cdt
	innerMu   sync.Mutex
	innerMemo = map[float64]*cdt{}
)

func sharedBase() *cdt {
	baseOnce.Do(func() { baseTable = newCDT(fastBaseT) })
	return baseTable
}

// innerTable returns the table for D_{ℤ,t}, built once per t.
func innerTable(t float64) *cdt {
	innerMu.Lock()
	defer innerMu.Unlock()
	if c, ok := innerMemo[t]; ok {
		return c
	}
	if len(innerMemo) > 64 {
		clear(innerMemo)
	}
	c := newCDT(t)
	innerMemo[t] = c
	return c
}

func newFastNoise(sigma, clip float64, dim int, rng io.Reader) (*Noise, error) {
	if rng == nil {
		return nil, errors.New("dp: fast noise sampler: no randomness source")
	}
	n := &Noise{name: SamplerFast, dim: dim}
	if _, err := io.ReadFull(rng, n.key[:]); err != nil {
		return nil, fmt.Errorf("dp: fast noise sampler: read key: %w", err)
	}
	n.lambda = math.Ldexp(1, math.Ilogb(sigma*clip)-fastFineBits)
	// Snapping both neighbours' sums to λℤ moves them apart by at most λ√d.
	n.effClip = (clip + n.lambda*math.Sqrt(float64(dim))) * (1 + 1e-12)
	sc := sigma * n.effClip / n.lambda
	s := math.Sqrt(sc*sc + 1.0/12)
	t0 := float64(fastBaseT)
	z := math.Floor(math.Sqrt(s / t0))
	ts := math.Sqrt(((s*s-t0*t0)/(z*z) - t0*t0) / (z * z))
	for range 4 {
		ts = math.Nextafter(ts, math.Inf(1)) // realized variance ≥ target
	}
	n.z = int64(z)
	n.inner = innerTable(ts)
	s1 := math.Sqrt(z*z*ts*ts + t0*t0)
	sReal := math.Sqrt(z*z*s1*s1 + t0*t0)
	n.std = n.lambda * math.Sqrt(sReal*sReal-1.0/12)
	base := sharedBase()
	n.eta = n.inner.distance + 2*base.distance +
		convolutionDistance(ts*t0/s1) + convolutionDistance(s1*t0/sReal) +
		roundingConst/math.Pow(sReal, 4)
	return n, nil
}

// convolutionDistance bounds the statistical distance between z·Y₁ + Y₂
// (Y₁ ~ D_{ℤ,s₁}, Y₂ ~ D_{ℤ,s₂}) and D_{ℤ,s}, s² = z²s₁² + s₂², given
// s' = s₁s₂/s: by Poisson summation the ratio of the two mass functions lies
// in [(1−e)/(1+e), (1+e)/(1−e)] with e = 2 Σ_{m≥1} exp(−2π²s'²m²).
func convolutionDistance(sp float64) float64 {
	e := 0.0
	for m := 1.0; m <= 4; m++ {
		e += 2 * math.Exp(-2*math.Pi*math.Pi*sp*sp*m*m)
	}
	return 2 * e / (1 - e)
}

// googleDelta is the δ at which Google's calibration, with l0 = 1,
// lInf = s and ε = 1, yields a standard deviation of at least s: the
// Balle–Wang δ = Φ(1/2 − 1) − e·Φ(−1/2 − 1) of a Gaussian mechanism whose
// noise equals its sensitivity, made slightly smaller so that the library's
// binary search lands at or above s.
var googleDelta = (distuv.UnitNormal.CDF(-0.5) - math.E*distuv.UnitNormal.CDF(-1.5)) * (1 - 1e-9)

// googleDistance is the library's stated probability, about 2⁻⁴⁵ per draw,
// that its binomial sampler is inaccurate (overflow bounds), taken as its
// statistical distance per draw.
var googleDistance = math.Exp2(-45)

func newGoogleNoise(sigma, clip float64, dim int) (*Noise, error) {
	std := sigma * clip
	n := &Noise{name: SamplerGoogle, dim: dim, gLInf: std, gDelta: googleDelta}
	n.std = noise.SigmaForGaussian(1, std, 1, googleDelta)
	n.lambda = math.Ldexp(1, int(math.Ceil(math.Log2(2*n.std/math.Exp2(57)))))
	n.effClip = clip
	n.eta = googleDistance
	return n, nil
}

// wipe clears the sampler's key; the sampler must not be used after it.
func (n *Noise) wipe() {
	n.mu.Lock()
	defer n.mu.Unlock()
	clear(n.key[:])
}

// Name returns the sampler's name.
func (n *Noise) Name() string { return n.name }

// StdDev returns the standard deviation of the noise added per coordinate;
// it is at least σ·C.
func (n *Noise) StdDev() float64 { return n.std }

// Granularity returns λ, the power of two that every output is a multiple of.
func (n *Noise) Granularity() float64 { return n.lambda }

// EffectiveNoiseMultiplier returns the noise multiplier that the privacy
// accounting may use: StdDev over the sensitivity after snapping to λℤ.
// It is at least σ·(1 − 1e-6) in all practical settings, and the exact value
// is what the accountant should be given when it matters.
func (n *Noise) EffectiveNoiseMultiplier() float64 { return n.std / n.effClip }

// Distance returns a bound on the statistical distance between one draw and
// the ideal it stands for (see the package documentation). Over k draws the
// distances add; a mechanism that is (ε, δ)-DP with the ideal noise is
// (ε, δ + (1+e^ε)·k·Distance())-DP with this sampler.
func (n *Noise) Distance() float64 { return n.eta }

// Add replaces every v[i] with v[i] + noise. For the fast sampler, v[i] is
// first snapped to the nearest multiple of λ and the result is that multiple
// plus an integer multiple of λ. It returns an error, leaving v partly
// noised, if len(v) ≠ Dim or a coordinate is not finite or out of range.
func (n *Noise) Add(v []float64) error {
	if len(v) != n.dim {
		return fmt.Errorf("dp: noise: vector of %d coordinates, sampler built for %d", len(v), n.dim)
	}
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("dp: noise: coordinate %d is not finite", i)
		}
	}
	if n.name == SamplerGoogle {
		g := noise.Gaussian()
		for i, x := range v {
			y, err := g.AddNoiseFloat64(x, 1, n.gLInf, 1, n.gDelta)
			if err != nil {
				return fmt.Errorf("dp: google noise: coordinate %d: %w", i, err)
			}
			v[i] = y
		}
		return nil
	}
	return n.eachChunk(n.nextCall(), func(lo, hi int, s *stream) error {
		return n.addChunk(v[lo:hi], lo, s)
	})
}

// nextCall returns the number of the next draw of a whole vector, which
// names its keystreams.
func (n *Noise) nextCall() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.calls++
	return n.calls - 1
}

// eachChunk runs f on every chunk [lo, hi) of the Dim coordinates with the
// chunk's keystream for call, on all cores.
func (n *Noise) eachChunk(call uint64, f func(lo, hi int, s *stream) error) error {
	chunks := (n.dim + fastChunk - 1) / fastChunk
	if chunks == 1 {
		return f(0, n.dim, newStream(&n.key, call, 0))
	}
	workers := min(runtime.GOMAXPROCS(0), chunks)
	errs := make([]error, chunks)
	var wg sync.WaitGroup
	next := make(chan int, chunks)
	for c := range chunks {
		next <- c
	}
	close(next)
	for range workers {
		wg.Go(func() {
			for c := range next {
				lo, hi := c*fastChunk, min((c+1)*fastChunk, n.dim)
				errs[c] = f(lo, hi, newStream(&n.key, call, uint32(c)))
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// pendingNoise is the fast sampler's noise for one vector, drawn in the
// background before the vector exists: the noise does not depend on it, so
// DP-SGD draws it while the step's gradients are computed.
type pendingNoise struct {
	n    *Noise
	y    []int64 // integer multiples of λ
	done chan struct{}
}

// start begins drawing the noise of the next call into y (Dim long) on all
// cores and returns at once. The draws are those Add would make for the same
// call: the result does not depend on when it is applied.
func (n *Noise) start(y []int64) *pendingNoise {
	p := &pendingNoise{n: n, y: y[:n.dim], done: make(chan struct{})}
	call := n.nextCall()
	go func() {
		defer close(p.done)
		_ = n.eachChunk(call, func(lo, hi int, s *stream) error {
			n.drawChunk(p.y[lo:hi], s)
			return nil
		})
	}()
	return p
}

// wait blocks until the noise is drawn.
func (p *pendingNoise) wait() { <-p.done }

// addTo waits for the noise and adds it to v as Add does: v[i] is snapped to
// λℤ and moved by y[i]·λ. Errors are Add's, for the first bad coordinate.
func (p *pendingNoise) addTo(v []float64) error {
	p.wait()
	n := p.n
	if len(v) != n.dim {
		return fmt.Errorf("dp: noise: vector of %d coordinates, sampler built for %d", len(v), n.dim)
	}
	parts := 1
	if len(v) >= 1<<16 {
		parts = runtime.GOMAXPROCS(0)
	}
	errs := make([]error, parts)
	var wg sync.WaitGroup
	for k := range parts {
		lo, hi := k*len(v)/parts, (k+1)*len(v)/parts
		wg.Go(func() { errs[k] = n.snapAdd(v[lo:hi], p.y[lo:hi], lo) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// snapAdd sets v[i] to (round(v[i]/λ) + y[i])·λ, rounding half away from
// zero; v starts at coordinate off.
func (n *Noise) snapAdd(v []float64, y []int64, off int) error {
	inv := 1 / n.lambda // exact: λ is a power of two
	for i, x := range v {
		k := roundHalfAway(x * inv)
		if !(math.Abs(k) < maxExact/2) { // also NaN and ±Inf
			return snapError(x, off+i)
		}
		v[i] = float64(int64(k)+y[i]) * n.lambda
	}
	return nil
}

// roundHalfAway is math.Round(u) by the processor's round-to-nearest-even
// instruction: the two differ only at a tie, where u − RoundToEven(u) (exact:
// at most half a unit, and a multiple of u's last place) is ±1/2 and u a
// half-integer below 2⁵², so that u ± 1/2 is exact.
func roundHalfAway(u float64) float64 {
	k := math.RoundToEven(u)
	if d := u - k; d == 0.5 || d == -0.5 {
		return u + math.Copysign(0.5, u)
	}
	return k
}

// snapError says why the coordinate i, x, cannot be snapped to λℤ.
func snapError(x float64, i int) error {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return fmt.Errorf("dp: noise: coordinate %d is not finite", i)
	}
	return fmt.Errorf("dp: noise: coordinate %d is beyond 2²⁵ noise standard deviations: too large to snap exactly", i)
}

// fieldMask selects one table draw's field of a word.
const fieldMask = 1<<cdtFieldBits - 1

// maxExact bounds |k| so that k·λ is exact in float64.
const maxExact = 1 << 53

// addChunk noises v (starting at coordinate off) with stream s.
func (n *Noise) addChunk(v []float64, off int, s *stream) error {
	var y [fastChunk]int64
	n.drawChunk(y[:len(v)], s)
	return n.snapAdd(v, y[:len(v)], off)
}

// drawChunk fills y with draws of Y = z·(z·Y₀ + B₁) + B₂ (see the package
// documentation). One 64-bit word starts the three table draws of a
// coordinate (3 × 17 bits). The common case, a word whose three fields each
// fall in a guide bucket that decides its draw alone (about 6 words in 7 for
// σC's tables), is in line: three loads and no call. Any other word goes to
// drawSearch, which reads the rest of its uniforms from s field by field.
func (n *Noise) drawChunk(y []int64, s *stream) {
	inner, base, z := n.inner, sharedBase(), n.z
	ig, bg := inner.guide, base.guide
	buf, pos := &s.buf, s.pos // pos is s.pos, kept in a register
	for i := range y {
		if pos == streamBytes {
			s.refill()
			pos = 0
		}
		w := binary.LittleEndian.Uint64(buf[pos : pos+8])
		pos += 8
		ea := ig[w>>(64-cdtGuideBits)]
		eb := bg[w>>(64-cdtFieldBits-cdtGuideBits)&guideMask]
		ec := bg[w>>(64-2*cdtFieldBits-cdtGuideBits)&guideMask]
		if (ea|eb|ec)&guideSearch != 0 {
			s.pos = pos
			y[i] = drawSearch(w, ea, eb, ec, inner, base, z, s)
			pos = s.pos
			continue
		}
		a := withSign(int64(ea), w>>(64-cdtFieldBits)&1)
		b := withSign(int64(eb), w>>(64-2*cdtFieldBits)&1)
		c := withSign(int64(ec), w>>(64-3*cdtFieldBits)&1)
		y[i] = z*(z*a+b) + c
	}
	s.pos = pos
}

// guideMask selects a guide index.
const guideMask = 1<<cdtGuideBits - 1

// drawSearch finishes the draw of Y that the word w starts, whose guide
// entries drawChunk has read (ea of the inner table, eb and ec of the base
// table), in the order of the fields.
func drawSearch(w uint64, ea, eb, ec uint16, inner, base *cdt, z int64, s *stream) int64 {
	a := inner.settle(ea, w>>(64-cdtFieldBits), s)
	b := base.settle(eb, w>>(64-2*cdtFieldBits)&fieldMask, s)
	c := base.settle(ec, w>>(64-3*cdtFieldBits)&fieldMask, s)
	return z*(z*a+b) + c
}
