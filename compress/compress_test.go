package compress

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"flag"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestParse(t *testing.T) {
	good := []struct {
		in   string
		want Config
	}{
		{"", Config{Scheme: None}},
		{"none", Config{Scheme: None}},
		{"randk:0.1", Config{Scheme: RandK, Fraction: 0.1}},
		{"srht:1", Config{Scheme: SRHT, Fraction: 1}},
		{"srht:0.05:ef", Config{Scheme: SRHT, Fraction: 0.05, Feedback: true}},
		{"randk:1e-3:ef", Config{Scheme: RandK, Fraction: 0.001, Feedback: true}},
	}
	for _, g := range good {
		t.Run(g.in, func(t *testing.T) {
			c, err := Parse(g.in)
			if err != nil || c != g.want {
				t.Fatalf("Parse(%q) = %+v, %v; want %+v", g.in, c, err, g.want)
			}
			if back, err := Parse(c.String()); err != nil || back != c {
				t.Errorf("Parse(%q.String() = %q) = %+v, %v", g.in, c.String(), back, err)
			}
		})
	}
	bad := []struct{ in, says string }{
		{"topk:0.1", `scheme "topk"`},
		{"randk", "FRACTION"},
		{"randk:", `fraction ""`},
		{"randk:x", `fraction "x" is not a number`},
		{"randk:0", "fraction 0: must be in (0, 1]"},
		{"srht:1.5", "fraction 1.5"},
		{"srht:NaN", "fraction NaN"},
		{"randk:-0.1", "fraction -0.1"},
		{"randk:0.1:fast", `option "fast"`},
		{"randk:0.1:ef:ef", "FRACTION[:ef]"},
		{"none:0.1", "scheme none takes no fraction"},
	}
	for _, b := range bad {
		t.Run(b.in, func(t *testing.T) {
			_, err := Parse(b.in)
			if err == nil || !strings.Contains(err.Error(), b.says) || strings.Contains(err.Error(), "\n") {
				t.Errorf("Parse(%q): %v; want one line saying %q", b.in, err, b.says)
			}
			if err != nil && !strings.Contains(err.Error(), b.in) {
				t.Errorf("Parse(%q): %v does not name the input", b.in, err)
			}
		})
	}
}

// schemes are the plans every property is checked on: each map, with k a small and a large part
// of d, d a power of two and not.
var schemes = []string{"none", "randk:0.1", "randk:0.5", "randk:1", "srht:0.1", "srht:0.37", "srht:1"}

func newPlan(t testing.TB, scheme string, dim int, seed byte) *Plan {
	t.Helper()
	c, err := Parse(scheme)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPlan(c, dim, [32]byte{seed})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func randVec(r *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = r.NormFloat64()
	}
	return v
}

func norm(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x * x
	}
	return math.Sqrt(s)
}

func maxDiff(a, b []float64) float64 {
	d := 0.0
	for i := range a {
		d = max(d, math.Abs(a[i]-b[i]))
	}
	return d
}

// TestRoundTrip: Compress then Expand is an orthogonal projection (idempotent, no longer than
// its input, and the part it drops is orthogonal to what it keeps), Compress after Expand is the
// identity (orthonormal rows), randk keeps its coordinates exactly, and k is ⌈F·d⌉.
func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, dim := range []int{1, 7, 64, 1000} {
		for _, s := range schemes {
			p := newPlan(t, s, dim, 3)
			c := p.Config()
			if want := int(math.Ceil(c.Fraction * float64(dim))); c.Scheme != None && p.Size() != max(1, want) || c.Scheme == None && p.Size() != dim {
				t.Errorf("%s, d = %d: k = %d", s, dim, p.Size())
			}
			u := randVec(r, dim)
			y := make([]float64, p.Size())
			p.Compress(y, u)
			pu := make([]float64, dim)
			p.Expand(pu, y)
			ppu := make([]float64, dim)
			y2 := make([]float64, p.Size())
			p.Compress(y2, pu)
			p.Expand(ppu, y2)
			tol := 1e-12 * (1 + norm(u))
			if d := maxDiff(y, y2); d > tol {
				t.Errorf("%s, d = %d: Compress(Expand(y)) differs from y by %g", s, dim, d)
			}
			if d := maxDiff(pu, ppu); d > tol {
				t.Errorf("%s, d = %d: the projection is not idempotent (%g)", s, dim, d)
			}
			if norm(pu) > norm(u)*(1+1e-12) || math.Abs(norm(pu)-norm(y)) > tol {
				t.Errorf("%s, d = %d: ‖Pu‖ = %v, ‖u‖ = %v, ‖y‖ = %v", s, dim, norm(pu), norm(u), norm(y))
			}
			dot := 0.0
			for i := range u {
				dot += pu[i] * (u[i] - pu[i])
			}
			if math.Abs(dot) > tol*norm(u) {
				t.Errorf("%s, d = %d: the dropped part is not orthogonal to the kept one (%g)", s, dim, dot)
			}
			if c.Scheme == RandK || c.Scheme == None {
				kept := 0
				for i := range u {
					switch pu[i] {
					case u[i]:
						kept++
					case 0:
					default:
						t.Fatalf("%s: coordinate %d is %v, neither kept (%v) nor dropped", s, i, pu[i], u[i])
					}
				}
				if kept != p.Size() {
					t.Errorf("%s, d = %d: %d coordinates kept, k = %d", s, dim, kept, p.Size())
				}
			}
		}
	}
}

// TestLinear: the compressed sum is the sum of the compressed updates (what lets ciphertexts
// add), exactly for randk, to rounding for srht; Expand is linear too.
func TestLinear(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const dim = 777
	for _, s := range schemes {
		p := newPlan(t, s, dim, 9)
		a, b := randVec(r, dim), randVec(r, dim)
		ab := make([]float64, dim)
		for i := range ab {
			ab[i] = a[i] + 3*b[i]
		}
		ya, yb, yab := make([]float64, p.Size()), make([]float64, p.Size()), make([]float64, p.Size())
		p.Compress(ya, a)
		p.Compress(yb, b)
		p.Compress(yab, ab)
		sum := make([]float64, p.Size())
		for i := range sum {
			sum[i] = ya[i] + 3*yb[i]
		}
		tol := 0.0
		if p.Config().Scheme == SRHT {
			tol = 1e-12 * norm(ab)
		}
		if d := maxDiff(sum, yab); d > tol {
			t.Errorf("%s: Compress(a) + 3·Compress(b) differs from Compress(a + 3b) by %g", s, d)
		}
		ea, eab := make([]float64, dim), make([]float64, dim)
		p.Expand(ea, ya)
		p.Expand(eab, sum)
		eb := make([]float64, dim)
		p.Expand(eb, yb)
		for i := range ea {
			ea[i] += 3 * eb[i]
		}
		if d := maxDiff(ea, eab); d > 1e-12*norm(ab) {
			t.Errorf("%s: Expand is not linear (%g)", s, d)
		}
	}
}

// TestUnbiased: over many seeds the mean of UnbiasedScale·Expand(Compress(u)) is u, within 5
// standard errors on every coordinate (measured from the same draws), for every scheme; without
// the scale the mean would be (k/m)·u, tens of standard errors off.
func TestUnbiased(t *testing.T) {
	const dim = 48
	seeds := 4000
	if testing.Short() {
		seeds = 1500
	}
	u := randVec(rand.New(rand.NewPCG(7, 8)), dim)
	for _, s := range schemes {
		c, _ := Parse(s)
		sum, sq := make([]float64, dim), make([]float64, dim)
		for i := range seeds {
			var seed [32]byte
			binary.LittleEndian.PutUint64(seed[:], uint64(i))
			p, err := NewPlan(c, dim, seed)
			if err != nil {
				t.Fatal(err)
			}
			y, x := make([]float64, p.Size()), make([]float64, dim)
			p.Compress(y, u)
			p.Expand(x, y)
			for j := range x {
				v := p.UnbiasedScale() * x[j]
				sum[j] += v
				sq[j] += v * v
			}
		}
		worst := 0.0
		for j := range u {
			mean := sum[j] / float64(seeds)
			se := math.Sqrt(max(0, sq[j]/float64(seeds)-mean*mean) / float64(seeds))
			worst = max(worst, math.Abs(mean-u[j])/(se+1e-12))
		}
		if worst > 5 {
			t.Errorf("%s: the mean expansion is %.1f standard errors from u", s, worst)
		}
	}
}

// TestSample: Floyd's sampling gives k distinct sorted indices with each index equally likely
// (a χ² test at the 0.1% level over 20,000 draws).
func TestSample(t *testing.T) {
	const n, k, draws = 12, 5, 20000
	count := make([]float64, n)
	r := rand.NewChaCha8([32]byte{1})
	for range draws {
		idx := sample(r, n, k)
		if len(idx) != k || !slices.IsSorted(idx) || len(slices.Compact(slices.Clone(idx))) != k || idx[0] < 0 || idx[k-1] >= n {
			t.Fatalf("sample: %v", idx)
		}
		for _, i := range idx {
			count[i]++
		}
	}
	chi := 0.0
	exp := float64(draws) * k / n
	for _, c := range count {
		chi += (c - exp) * (c - exp) / exp
	}
	if chi > 31.26 { // χ² with 11 degrees of freedom, p = 0.001
		t.Errorf("index counts %v: χ² = %.1f", count, chi)
	}
}

// TestHadamard checks the transform against the matrix H_n[i][j] = (−1)^popcount(i&j)/√n, and
// the block transform on a length that is not a power of two against its blocks.
func TestHadamard(t *testing.T) {
	x := randVec(rand.New(rand.NewPCG(2, 2)), 13)
	got, want := slices.Clone(x), slices.Clone(x)
	blockHadamard(got)
	hadamard(want[:8])
	hadamard(want[8:12])
	if !slices.Equal(got, want) {
		t.Errorf("blocks of 13: %v, want %v", got, want)
	}
	for _, n := range []int{1, 2, 8, 64} {
		x := randVec(rand.New(rand.NewPCG(uint64(n), 1)), n)
		got := slices.Clone(x)
		hadamard(got)
		for i := range n {
			want := 0.0
			for j := range n {
				sign := 1.0
				for b := i & j; b != 0; b &= b - 1 {
					sign = -sign
				}
				want += sign * x[j]
			}
			want /= math.Sqrt(float64(n))
			if math.Abs(got[i]-want) > 1e-12 {
				t.Fatalf("n = %d: (Hx)[%d] = %v, want %v", n, i, got[i], want)
			}
		}
	}
}

// TestRoundSeed: the seed is SHA-256 of the stated bytes, differs between rounds and between
// federations, and the same seed makes the same plan while another makes another.
func TestRoundSeed(t *testing.T) {
	fed := []byte("federation config hash")
	want := sha256.Sum256(append(append([]byte("fedcrypt/compress/round-seed/v1\x00"), fed...), 0, 0, 0, 0, 0, 0, 0, 7))
	if got := RoundSeed(fed, 7); got != want {
		t.Fatalf("RoundSeed = %x, want %x", got, want)
	}
	if RoundSeed(fed, 7) == RoundSeed(fed, 8) || RoundSeed(fed, 7) == RoundSeed([]byte("another"), 7) {
		t.Error("seeds repeat across rounds or federations")
	}
	c, _ := Parse("srht:0.2")
	a, _ := NewPlan(c, 100, RoundSeed(fed, 1))
	b, _ := NewPlan(c, 100, RoundSeed(fed, 1))
	o, _ := NewPlan(c, 100, RoundSeed(fed, 2))
	if !slices.Equal(a.idx, b.idx) || !slices.Equal(a.sign, b.sign) {
		t.Error("the same seed gave two plans")
	}
	if slices.Equal(a.idx, o.idx) && slices.Equal(a.sign, o.sign) {
		t.Error("two rounds gave the same plan")
	}
}

// planCase is an entry of testdata/plans.json: a plan's first indices and signs for a fixed
// seed, so that every build (whatever its Go version) draws the maps every other build draws.
type planCase struct {
	Scheme string    `json:"scheme"`
	Dim    int       `json:"dim"`
	Round  uint64    `json:"round"`
	Index  []int     `json:"index"`
	Sign   []float64 `json:"sign,omitempty"`
}

func TestPlansUnchanged(t *testing.T) {
	var got []planCase
	for _, c := range []planCase{{Scheme: "randk:0.01", Dim: 100000, Round: 1}, {Scheme: "srht:0.05", Dim: 3000, Round: 2}} {
		p := newPlan(t, c.Scheme, c.Dim, 0)
		cfg := p.Config()
		p, err := NewPlan(cfg, c.Dim, RoundSeed([]byte("golden"), c.Round))
		if err != nil {
			t.Fatal(err)
		}
		c.Index = p.idx[:16]
		if p.sign != nil {
			c.Sign = p.sign[:16]
		}
		got = append(got, c)
	}
	const path = "testdata/plans.json"
	if *update {
		b, _ := json.MarshalIndent(got, "", "  ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want []planCase
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(want) != len(got) {
		t.Fatalf("%s: %d cases, the test has %d", path, len(want), len(got))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Scheme != w.Scheme || g.Dim != w.Dim || g.Round != w.Round || !slices.Equal(g.Index, w.Index) || !slices.Equal(g.Sign, w.Sign) {
			t.Errorf("%s, d = %d, round %d: plan %v %v, want %v %v", g.Scheme, g.Dim, g.Round, g.Index, g.Sign, w.Index, w.Sign)
		}
	}
}

// TestFeedback: with error feedback nothing is lost: after R rounds, what was sent plus the
// residual is the sum of the updates, with and without clipping; each round's upload respects
// the clip.
func TestFeedback(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	const dim, rounds = 300, 12
	for _, s := range []string{"randk:0.1:ef", "srht:0.2:ef"} {
		for _, clip := range []float64{0, 0.5} {
			c, _ := Parse(s)
			f := NewFeedback(dim)
			total, sent := make([]float64, dim), make([]float64, dim)
			for round := range uint64(rounds) {
				p, err := NewPlan(c, dim, RoundSeed([]byte("fb"), round))
				if err != nil {
					t.Fatal(err)
				}
				u := randVec(r, dim)
				for i := range u {
					total[i] += u[i]
				}
				y := make([]float64, p.Size())
				f.Compress(p, y, u, clip)
				if clip > 0 && norm(y) > clip*(1+1e-12) {
					t.Fatalf("%s: upload of norm %v, clip %v", s, norm(y), clip)
				}
				back := make([]float64, dim)
				p.Expand(back, y)
				for i := range back {
					sent[i] += back[i]
				}
			}
			for i := range sent {
				sent[i] += f.Residual()[i]
			}
			if d := maxDiff(sent, total); d > 1e-10 {
				t.Errorf("%s, clip %v: sent + residual differs from the updates' sum by %g", s, clip, d)
			}
		}
	}
}

func TestNewPlanBadInput(t *testing.T) {
	if _, err := NewPlan(Config{Scheme: RandK, Fraction: 0.1}, 0, [32]byte{}); err == nil || !strings.Contains(err.Error(), "0 coordinates") {
		t.Errorf("dim 0: %v", err)
	}
	if _, err := NewPlan(Config{Scheme: RandK, Fraction: 2}, 10, [32]byte{}); err == nil || !strings.Contains(err.Error(), "fraction 2") {
		t.Errorf("fraction 2: %v", err)
	}
	if _, err := NewPlan(Config{Scheme: None, Fraction: 0.5}, 10, [32]byte{}); err == nil {
		t.Error("none with a fraction accepted")
	}
	p := newPlan(t, "randk:0.5", 10, 1)
	defer func() {
		if r := recover(); r == nil || !strings.HasPrefix(r.(string), "compress: ") {
			t.Errorf("a short destination: panic %v", r)
		}
	}()
	p.Compress(make([]float64, 4), make([]float64, 10))
}
