package dp

import (
	"crypto/aes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"math"
	"os"
	"slices"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// drawsCase is one entry of testdata/draws.json: the fast sampler's draws for a seeded key, as
// the digest of every value and the first few in full.
type drawsCase struct {
	Seed   byte    `json:"seed"`
	Sigma  float64 `json:"sigma"`
	Clip   float64 `json:"clip"`
	Dim    int     `json:"dim"`
	Calls  int     `json:"calls"`
	First  []int64 `json:"first"`  // the first draws of the first call, in multiples of λ
	SHA256 string  `json:"sha256"` // of every call's draws, little-endian int64
}

// drawsCases are the settings of testdata/draws.json: one chunk, several chunks with a short
// last one, and another σ·C (another inner table, another λ).
var drawsCases = []drawsCase{
	{Seed: 1, Sigma: 1.1, Clip: 1, Dim: 1000, Calls: 3},
	{Seed: 2, Sigma: 1.1, Clip: 1, Dim: 5*fastChunk + 77, Calls: 2},
	{Seed: 3, Sigma: 0.6, Clip: 3.5, Dim: 3 * fastChunk, Calls: 2},
}

// draws returns the draws of c's calls through Add of a zero vector, in multiples of λ.
func (c drawsCase) draws(t *testing.T) []int64 {
	t.Helper()
	n, err := NewNoise(SamplerFast, c.Sigma, c.Clip, c.Dim, seeded(c.Seed))
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	v := make([]float64, c.Dim)
	for range c.Calls {
		clear(v)
		if err := n.Add(v); err != nil {
			t.Fatal(err)
		}
		for _, x := range v {
			k := x / n.Granularity()
			if k != math.Trunc(k) {
				t.Fatalf("draw %v is not a multiple of λ", x)
			}
			out = append(out, int64(k))
		}
	}
	return out
}

func digest(y []int64) string {
	h := sha256.New()
	var b [8]byte
	for _, v := range y {
		binary.LittleEndian.PutUint64(b[:], uint64(v))
		h.Write(b[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestNoiseDrawsUnchanged: for a given key the fast sampler draws what it drew when
// testdata/draws.json was written (go test ./dp -run DrawsUnchanged -update), so seeded
// simulations keep their results across changes to the sampler's implementation.
func TestNoiseDrawsUnchanged(t *testing.T) {
	var got []drawsCase
	for _, c := range drawsCases {
		y := c.draws(t)
		c.First, c.SHA256 = y[:8], digest(y)
		got = append(got, c)
	}
	const path = "testdata/draws.json"
	if *update {
		b, err := json.MarshalIndent(got, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	var want []drawsCase
	readTestdata(t, "draws.json", &want)
	if len(want) != len(got) {
		t.Fatalf("%s holds %d cases, the test %d", path, len(want), len(got))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Seed != w.Seed || g.Sigma != w.Sigma || g.Clip != w.Clip || g.Dim != w.Dim || g.Calls != w.Calls {
			t.Fatalf("case %d: settings %+v, file has %+v", i, g, w)
		}
		if !slices.Equal(g.First, w.First) || g.SHA256 != w.SHA256 {
			t.Errorf("case %d (σ %v, C %v, dim %d): draws changed: first %v, want %v", i, g.Sigma, g.Clip, g.Dim, g.First, w.First)
		}
	}
}

// drawRef draws one coordinate as the package documentation defines it, the slow way: one word
// starts the three table draws (inner, base, base), and a draw whose guide bucket holds a table
// boundary reads the next 48 bits of r, then its low 64 bits only if the top 64 equal an entry
// it is compared with, and finds its value by a linear scan.
func drawRef(inner, base *cdt, z int64, s *stream) int64 {
	field := func(c *cdt, f uint64) int64 {
		g := f >> 1
		i, end := int(c.guide[g]&guideIndex), int(c.guide[g+1]&guideIndex)
		k := i
		if i != end {
			rh := g<<(64-cdtGuideBits) | s.take(64-cdtGuideBits)
			var rl uint64
			haveLo := false
			for k < end {
				if rh == c.hi[k] && !haveLo {
					rl, haveLo = s.take(32)<<32|s.take(32), true
				}
				if rh < c.hi[k] || rh == c.hi[k] && rl < c.lo[k] {
					break
				}
				k++
			}
		}
		if f&1 == 1 {
			return -int64(k)
		}
		return int64(k)
	}
	w := s.next()
	a := field(inner, w>>(64-cdtFieldBits))
	b := field(base, w>>(64-2*cdtFieldBits)&fieldMask)
	c := field(base, w>>(64-3*cdtFieldBits)&fieldMask)
	return z*(z*a+b) + c
}

// TestDrawChunkMatchesDefinition: the in-line draws of drawChunk are drawRef's, word for word,
// over many streams (so over many refills inside a search) and two noise scales.
func TestDrawChunkMatchesDefinition(t *testing.T) {
	streams := 40
	if testing.Short() {
		streams = 10
	}
	for _, sc := range [][2]float64{{1.1, 1}, {0.7, 13}} {
		n, err := NewNoise(SamplerFast, sc[0], sc[1], fastChunk, seeded(4))
		if err != nil {
			t.Fatal(err)
		}
		got, want := make([]int64, fastChunk), make([]int64, fastChunk)
		for call := range uint64(streams) {
			n.drawChunk(got, newStream(&n.key, call, 0))
			ref := newStream(&n.key, call, 0)
			for i := range want {
				want[i] = drawRef(n.inner, sharedBase(), n.z, ref)
			}
			for j := range got {
				if got[j] != want[j] {
					t.Fatalf("σ %v C %v call %d: draw %d is %d, the definition gives %d", sc[0], sc[1], call, j, got[j], want[j])
				}
			}
			// The searches read words beyond the chunk's 2048, across refills.
			if words := (int(ref.blocks)*aes.BlockSize - (streamBytes - ref.pos)) / 8; words <= fastChunk+streamBytes/8 {
				t.Fatalf("call %d: %d keystream words for %d draws: too few searches to test them", call, words, fastChunk)
			}
		}
	}
}

// TestRoundHalfAway: the snapping's rounding is math.Round's, at ties, near them, at zero and
// at the limits of exact integers.
func TestRoundHalfAway(t *testing.T) {
	vals := []float64{0, math.Copysign(0, -1), 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.49999999999999994, -0.49999999999999994,
		math.Nextafter(0.5, 1), math.Nextafter(2.5, 0), 1 << 51, 1<<51 + 0.5, -(1<<51 + 0.5), 1<<52 - 0.5, 1 << 52, 1<<53 + 2,
		4503599627370495.5, -4503599627370495.5, 1e300, -1e-300, math.SmallestNonzeroFloat64}
	for i := range 100000 {
		u := math.Ldexp(float64(i)*0.61803398875, i%60-20)
		vals = append(vals, u, -u, math.Floor(u)+0.5, -math.Floor(u)-0.5)
	}
	for _, u := range vals {
		if got, want := roundHalfAway(u), math.Round(u); got != want || math.Signbit(got) != math.Signbit(want) && got != 0 {
			t.Fatalf("roundHalfAway(%v) = %v, math.Round %v", u, got, want)
		}
	}
}
