package dp

import (
	"bytes"
	"crypto/aes"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/chacha20"
)

// seeded returns a deterministic byte source for reproducible tests.
func seeded(seed byte) *chachaReader {
	key := make([]byte, 32)
	key[0] = seed
	c, _ := chacha20.NewUnauthenticatedCipher(key, make([]byte, 12))
	return &chachaReader{c}
}

type chachaReader struct{ c *chacha20.Cipher }

func (r *chachaReader) Read(p []byte) (int, error) {
	clear(p)
	r.c.XORKeyStream(p, p)
	return len(p), nil
}

// TestCDTMatchesDiscreteGaussian compares the table's probabilities with
// D_{ℤ,t} computed independently in float64.
func TestCDTMatchesDiscreteGaussian(t *testing.T) {
	for _, tt := range []float64{3.5, 40, 1024} {
		c := newCDT(tt)
		norm := 0.0
		for x := -int(20 * tt); x <= int(20*tt); x++ {
			norm += math.Exp(-float64(x*x) / (2 * tt * tt))
		}
		prev := 0.0
		for i := 0; i < len(c.hi)-1; i++ {
			cdf := math.Ldexp(float64(c.hi[i]), -64) + math.Ldexp(float64(c.lo[i]), -128)
			p := cdf - prev
			want := math.Exp(-float64(i*i)/(2*tt*tt)) / norm
			if i > 0 {
				want *= 2
			}
			if math.Abs(p-want) > 1e-15+1e-9*want {
				t.Fatalf("t=%v |x|=%d: table mass %v, want %v", tt, i, p, want)
			}
			prev = cdf
		}
		if c.distance > 1e-30 {
			t.Errorf("t=%v: distance bound %v", tt, c.distance)
		}
	}
}

// TestRoundingDistance checks the constant of the stated bound
// SD(D_{ℤ,s}, round(N(0, s² − 1/12))) ≤ 1e-3/s⁴ at small s, where it can be
// computed directly.
func TestRoundingDistance(t *testing.T) {
	for _, s := range []float64{3, 4, 6, 8, 12} {
		sc := math.Sqrt(s*s - 1.0/12)
		norm := 0.0
		lim := int(40 * s)
		for x := -lim; x <= lim; x++ {
			norm += math.Exp(-float64(x*x) / (2 * s * s))
		}
		sd := 0.0
		for x := -lim; x <= lim; x++ {
			d := math.Exp(-float64(x*x)/(2*s*s)) / norm
			r := normSF((float64(x)-0.5)/sc) - normSF((float64(x)+0.5)/sc)
			sd += math.Abs(d-r) / 2
		}
		if bound := roundingConst / math.Pow(s, 4); sd > bound {
			t.Errorf("s=%v: distance %.3g above the stated %.3g", s, sd, bound)
		}
	}
}

func TestNoiseGranularityAndSnapping(t *testing.T) {
	n, err := NewNoise(SamplerFast, 1.1, 0.7, 20000, seeded(1))
	if err != nil {
		t.Fatal(err)
	}
	lam := n.Granularity()
	if f, e := math.Frexp(lam); f != 0.5 {
		t.Fatalf("granularity %v (=%v·2^%d) is not a power of two", lam, f, e)
	}
	if std := n.StdDev(); std < 1.1*0.7 || std > 1.1*0.7*(1+1e-5) {
		t.Errorf("std %v, want σC = %v up to the snapping correction", std, 1.1*0.7)
	}
	if eff := n.EffectiveNoiseMultiplier(); eff < 1.1 || eff > 1.1*(1+1e-9) {
		t.Errorf("effective noise multiplier %v for σ = 1.1", eff)
	}
	v := make([]float64, 20000)
	for i := range v {
		v[i] = float64(i) * 1e-7 * math.Pi
	}
	if err := n.Add(v); err != nil {
		t.Fatal(err)
	}
	for i, x := range v {
		if q := x / lam; q != math.Trunc(q) {
			t.Fatalf("output %d = %v is not a multiple of λ = %v", i, x, lam)
		}
	}
	if d := n.Distance(); !(d > 0 && d < 1e-25) {
		t.Errorf("distance per draw %v", d)
	}
}

// TestNoiseReproducible: the same key gives the same noise whatever the
// number of workers; another key gives other noise.
func TestNoiseReproducible(t *testing.T) {
	draw := func(seed byte) []float64 {
		n, err := NewNoise(SamplerFast, 1, 1, 3*fastChunk+17, seeded(seed))
		if err != nil {
			t.Fatal(err)
		}
		v := make([]float64, 3*fastChunk+17)
		if err := n.Add(v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	a, b, c := draw(7), draw(7), draw(8)
	if !slices.Equal(a, b) {
		t.Error("same seed, different noise")
	}
	if slices.Equal(a, c) {
		t.Error("different seeds, same noise")
	}
}

// moments returns mean, variance and excess kurtosis.
func moments(x []float64) (mean, variance, kurt float64) {
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	var m2, m4 float64
	for _, v := range x {
		d := v - mean
		m2 += d * d
		m4 += d * d * d * d
	}
	m2 /= float64(len(x))
	m4 /= float64(len(x))
	return mean, m2, m4/(m2*m2) - 3
}

// ksNormal is the Kolmogorov–Smirnov statistic of x against N(0, s²).
func ksNormal(x []float64, s float64) float64 {
	y := slices.Clone(x)
	slices.Sort(y)
	d := 0.0
	for i, v := range y {
		f := 1 - normSF(v/s)
		d = math.Max(d, math.Max(math.Abs(f-float64(i)/float64(len(y))), math.Abs(float64(i+1)/float64(len(y))-f)))
	}
	return d
}

// ks2 is the two-sample Kolmogorov–Smirnov statistic.
func ks2(a, b []float64) float64 {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	i, j, d := 0, 0, 0.0
	for i < len(a) && j < len(b) {
		v := math.Min(a[i], b[j])
		for i < len(a) && a[i] <= v {
			i++
		}
		for j < len(b) && b[j] <= v {
			j++
		}
		d = math.Max(d, math.Abs(float64(i)/float64(len(a))-float64(j)/float64(len(b))))
	}
	return d
}

// TestNoiseDistribution validates both samplers against N(0, σ²C²) and
// against each other: moments, one- and two-sample Kolmogorov–Smirnov tests
// at the 0.1% level, with fixed seeds.
func TestNoiseDistribution(t *testing.T) {
	const sigma, clip = 1.3, 2.0
	nFast, nGoogle := 400000, 100000
	if testing.Short() {
		nFast, nGoogle = 100000, 20000
	}
	fast, err := NewNoise(SamplerFast, sigma, clip, nFast, seeded(3))
	if err != nil {
		t.Fatal(err)
	}
	google, err := NewNoise(SamplerGoogle, sigma, clip, nGoogle, nil)
	if err != nil {
		t.Fatal(err)
	}
	if g := google.StdDev(); g < sigma*clip || g > sigma*clip*(1+1.01e-3) {
		t.Errorf("google sampler std %v, want σC = %v within the library's 0.1%%", g, sigma*clip)
	}
	xf, xg := make([]float64, nFast), make([]float64, nGoogle)
	if err := fast.Add(xf); err != nil {
		t.Fatal(err)
	}
	if err := google.Add(xg); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		x    []float64
		std  float64
	}{{"fast", xf, fast.StdDev()}, {"google", xg, google.StdDev()}} {
		n := float64(len(c.x))
		mean, variance, kurt := moments(c.x)
		if math.Abs(mean) > 4*c.std/math.Sqrt(n) {
			t.Errorf("%s: mean %v, 4 standard errors = %v", c.name, mean, 4*c.std/math.Sqrt(n))
		}
		if r := variance / (c.std * c.std); math.Abs(r-1) > 4*math.Sqrt(2/n) {
			t.Errorf("%s: variance ratio %v", c.name, r)
		}
		if math.Abs(kurt) > 4*math.Sqrt(24/n) {
			t.Errorf("%s: excess kurtosis %v", c.name, kurt)
		}
		if d, crit := ksNormal(c.x, c.std), 1.95/math.Sqrt(n); d > crit {
			t.Errorf("%s: KS statistic %v against N(0, %v²), critical %v", c.name, d, c.std, crit)
		}
	}
	na, nb := float64(nFast), float64(nGoogle)
	if d, crit := ks2(xf, xg), 1.95*math.Sqrt((na+nb)/(na*nb)); d > crit {
		t.Errorf("fast vs google: two-sample KS %v, critical %v", d, crit)
	}
	// Granularity: the fast sampler's outputs are multiples of its λ, and
	// they use the grid finely (many distinct values).
	distinct := map[float64]bool{}
	for _, x := range xf {
		distinct[x] = true
	}
	if len(distinct) < nFast*9/10 {
		t.Errorf("fast sampler: %d distinct values in %d draws", len(distinct), nFast)
	}
}

func TestNoiseBadInput(t *testing.T) {
	for _, c := range []struct {
		name        string
		sampler     string
		sigma, clip float64
		dim         int
		want        string
	}{
		{"name", "box-muller", 1, 1, 10, `sampler "box-muller"`},
		{"sigma", SamplerFast, 0, 1, 10, "noise multiplier 0"},
		{"sigma NaN", SamplerGoogle, math.NaN(), 1, 10, "noise multiplier NaN"},
		{"clip", SamplerFast, 1, -1, 10, "clipping norm -1"},
		{"dim", SamplerFast, 1, 1, 0, "dimension 0"},
		{"tiny", SamplerFast, 1e-160, 1e-160, 10, "supported range"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewNoise(c.sampler, c.sigma, c.clip, c.dim, rand.Reader)
			if err == nil || !bytes.Contains([]byte(err.Error()), []byte(c.want)) {
				t.Errorf("error %v, want one mentioning %q", err, c.want)
			}
		})
	}
	n, _ := NewNoise(SamplerFast, 1, 1, 3, rand.Reader)
	if err := n.Add([]float64{1, math.NaN(), 2}); err == nil || !bytes.Contains([]byte(err.Error()), []byte("coordinate 1")) {
		t.Errorf("NaN coordinate: error %v", err)
	}
	if err := n.Add([]float64{1, 2}); err == nil {
		t.Error("wrong length accepted")
	}
	if err := n.Add([]float64{1, 1e300, 2}); err == nil {
		t.Error("coordinate beyond the exact range accepted")
	}
}

func BenchmarkNoise(b *testing.B) {
	const dim = 1 << 20
	for _, name := range []string{SamplerFast, SamplerGoogle} {
		d := dim
		if name == SamplerGoogle {
			d = 1 << 14
		}
		b.Run("sampler="+name, func(b *testing.B) {
			n, err := NewNoise(name, 1.1, 1, d, rand.Reader)
			if err != nil {
				b.Fatal(err)
			}
			v := make([]float64, d)
			b.ReportAllocs()
			for b.Loop() {
				if err := n.Add(v); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*d), "ns/draw")
		})
	}
}

// BenchmarkNoiseOneCore is the fast sampler's cost per draw on one core. Every chunk has a
// stream of its own: drawing the same chunk again would let the processor learn its branches.
func BenchmarkNoiseOneCore(b *testing.B) {
	n, err := NewNoise(SamplerFast, 1.1, 1, fastChunk, rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	v := make([]float64, fastChunk)
	b.ReportAllocs()
	call := uint64(0)
	for b.Loop() {
		if err := n.addChunk(v, 0, newStream(&n.key, call, 0)); err != nil {
			b.Fatal(err)
		}
		call++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*fastChunk), "ns/draw")
}

// TestStreamBelow checks the lazy Bernoulli against its rate.
func TestStreamBelow(t *testing.T) {
	var key [32]byte
	s := newStream(&key, 1, 2)
	for _, q := range []float64{0.5, 0.1, 1.0 / 65536 * 3.5} {
		th := sampleThreshold(q)
		n, hits := 400000, 0
		for range n {
			if s.below(th) {
				hits++
			}
		}
		p := float64(hits) / float64(n)
		if se := math.Sqrt(q * (1 - q) / float64(n)); math.Abs(p-q) > 5*se {
			t.Errorf("q=%v: rate %v (±%v)", q, p, 5*se)
		}
	}
}

// BenchmarkNewNoise measures building a fast sampler for a new σ (its
// inner table, 320-bit arithmetic); the same σ again reuses the table.
func BenchmarkNewNoise(b *testing.B) {
	sigma := 1.0
	b.ReportAllocs()
	for b.Loop() {
		sigma += 1e-3 // a new inner table every time, whatever earlier runs built
		innerMu.Lock()
		clear(innerMemo)
		innerMu.Unlock()
		if _, err := NewNoise(SamplerFast, sigma, 1, 1000, rand.Reader); err != nil {
			b.Fatal(err)
		}
	}
}

// TestStreamIsCounterMode checks the keystream against AES-256 applied by
// hand: the stream key derived from the master key for (call, chunk), then
// counter blocks 0, 1, 2, … under it, across several refills; and that
// neighbouring (call, chunk) pairs get different streams.
func TestStreamIsCounterMode(t *testing.T) {
	var key [32]byte
	for i := range key {
		key[i] = byte(7 * i)
	}
	master, err := aes.NewCipher(key[:])
	if err != nil {
		t.Fatal(err)
	}
	const call, chunk = 0x0102030405060708, 0x090a0b0c
	var sub [32]byte
	for i := range 2 {
		var in [16]byte
		binary.BigEndian.PutUint64(in[:8], call)
		binary.BigEndian.PutUint32(in[8:12], chunk)
		binary.BigEndian.PutUint32(in[12:], uint32(i))
		master.Encrypt(sub[16*i:], in[:])
	}
	block, err := aes.NewCipher(sub[:])
	if err != nil {
		t.Fatal(err)
	}
	s := newStream(&key, call, chunk)
	var ctr, want [16]byte
	for j := range 3 * streamBytes / 16 {
		binary.BigEndian.PutUint64(ctr[8:], uint64(j))
		block.Encrypt(want[:], ctr[:])
		for half := range 2 {
			w := binary.LittleEndian.Uint64(want[8*half:])
			if got := s.next(); got != w {
				t.Fatalf("block %d word %d: %x, want %x", j, half, got, w)
			}
		}
	}
	first := newStream(&key, call, chunk).next()
	for _, o := range []*stream{newStream(&key, call+1, chunk), newStream(&key, call, chunk+1)} {
		if o.next() == first {
			t.Error("two (call, chunk) pairs share a keystream")
		}
	}
}

// TestCDTSearchExact checks the lazy search of every table against a linear
// scan with the full 128-bit uniform, in the guide buckets that hold a table
// boundary (the only ones where draw reads more than its field).
func TestCDTSearchExact(t *testing.T) {
	var key [32]byte
	key[0] = 9
	trial := uint64(0)
	for _, tt := range []float64{3.5, 40, 1024} {
		c := newCDT(tt)
		checked := 0
		for g := uint64(0); g < 1<<cdtGuideBits && checked < 3000; g++ {
			if c.guide[g]&guideSearch == 0 {
				continue
			}
			for sign := range uint64(2) {
				for range 4 {
					trial++
					got := c.draw(g<<1|sign, newStream(&key, trial, 0))
					ref := newStream(&key, trial, 0)
					rh := g<<(64-cdtGuideBits) | ref.take(64-cdtGuideBits)
					rl := ref.take(32)<<32 | ref.take(32)
					k := 0
					for k < len(c.hi)-1 && (rh > c.hi[k] || rh == c.hi[k] && rl >= c.lo[k]) {
						k++
					}
					want := int64(k)
					if sign == 1 {
						want = -want
					}
					if got != want {
						t.Fatalf("t=%v bucket %d: draw %d, linear scan %d", tt, g, got, want)
					}
				}
			}
			checked++
		}
		if checked == 0 {
			t.Fatalf("t=%v: no bucket holds a boundary", tt)
		}
	}
}

// TestNoiseDrawnAheadMatchesAdd: noise drawn before the vector exists, as
// DP-SGD draws it, is the noise Add would have added for the same call, and
// the next call gets fresh noise either way.
func TestNoiseDrawnAheadMatchesAdd(t *testing.T) {
	for _, dim := range []int{2*fastChunk + 5, 1<<16 + 3} { // one part, and one per core
		testDrawnAhead(t, dim)
	}
}

func testDrawnAhead(t *testing.T, dim int) {
	v := make([]float64, dim)
	for i := range v {
		v[i] = math.Sin(float64(i)) * 3
	}
	a, err := NewNoise(SamplerFast, 1.2, 0.7, dim, seeded(11))
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewNoise(SamplerFast, 1.2, 0.7, dim, seeded(11))
	if err != nil {
		t.Fatal(err)
	}
	y := make([]int64, dim)
	for call := range 2 {
		va, vb := slices.Clone(v), slices.Clone(v)
		if err := a.Add(va); err != nil {
			t.Fatal(err)
		}
		if err := b.start(y).addTo(vb); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(va, vb) {
			t.Fatalf("call %d: noise drawn ahead differs from Add's", call)
		}
	}
	bad := slices.Clone(v)
	bad[dim-3] = math.NaN()
	bad[dim-2] = math.Inf(1)
	if err := b.start(y).addTo(bad); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("coordinate %d ", dim-3)) {
		t.Errorf("dim %d, NaN coordinate %d: %v", dim, dim-3, err)
	}
	if err := b.start(y).addTo(v[:dim-1]); err == nil {
		t.Error("short vector accepted")
	}
}
