package model

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// TestQuantizedRoundTrip quantizes dense and sparse models: the file is at least 4 times smaller
// than the float64 one, every weight is within half a scale step of the original, and the
// dequantized model predicts the same classes with close probabilities.
func TestQuantizedRoundTrip(t *testing.T) {
	check := func(t *testing.T, orig, got []float64, fbytes, qbytes int, spans []span) {
		if ratio := float64(fbytes) / float64(qbytes); fbytes > 0 && ratio < 4 {
			t.Errorf("int8 file %d bytes, float64 %d: only %.2f× smaller", qbytes, fbytes, ratio)
		}
		off := 0
		for _, sp := range spans {
			mx := make([]float64, sp.cols)
			for i, v := range orig[off : off+sp.n] {
				mx[i%sp.cols] = max(mx[i%sp.cols], math.Abs(v))
			}
			for i := range sp.n {
				step := mx[i%sp.cols] / quantMax
				if d := math.Abs(got[off+i] - orig[off+i]); d > step/2*(1+1e-6) {
					t.Fatalf("parameter %d moved by %v, more than half a step (%v)", off+i, d, step/2)
				}
			}
			off += sp.n
		}
	}
	for n, cfg := range gradCases() {
		if cfg.Loss == LossMSE {
			continue
		}
		t.Run(caseName(cfg), func(t *testing.T) {
			m, x, _ := randomProblem(t, cfg, 20, uint64(n))
			qb, err := m.MarshalQuantized()
			if err != nil {
				t.Fatal(err)
			}
			q, err := Unmarshal(qb)
			if err != nil {
				t.Fatal(err)
			}
			// These models are tiny: a scale per output unit outweighs their weights, so their
			// size is not checked (the sparse ones below are).
			check(t, m.Params(), q.Params(), 0, 0, cfg.spans())
			agree(t, func(p *mat.Dense) { m.Predict(p, x) }, func(p *mat.Dense) { q.Predict(p, x) }, 20, cfg.Outputs)
		})
	}
	for _, cfg := range []SparseConfig{
		{Kind: KindSparseLinear, Inputs: 4096, Outputs: 5, Loss: LossSoftmaxCE},
		{Kind: KindEmbeddingBag, Inputs: 4096, Outputs: 1, Dim: 16, Hidden: []int{8}, Loss: LossBCE},
	} {
		t.Run(sparseName(cfg), func(t *testing.T) {
			m, x, _ := randomSparseProblem(t, cfg, 50, 3)
			fb, _ := m.MarshalBinary()
			qb, err := m.MarshalQuantized()
			if err != nil {
				t.Fatal(err)
			}
			q, err := UnmarshalSparse(qb)
			if err != nil {
				t.Fatal(err)
			}
			check(t, m.Params(), q.Params(), len(fb), len(qb), cfg.spans())
			agree(t, func(p *mat.Dense) { m.Predict(p, x) }, func(p *mat.Dense) { q.Predict(p, x) }, 50, cfg.Outputs)
		})
	}
}

// agree checks that two predictors give the same class on at least 90% of the rows of these
// small random problems (whose weights are not trained, so many rows sit near a boundary) and
// probabilities within 0.05.
func agree(t *testing.T, a, b func(*mat.Dense), rows, k int) {
	t.Helper()
	p, q := mat.NewDense(rows, k, nil), mat.NewDense(rows, k, nil)
	a(p)
	b(q)
	if same, worst := Agreement(p, q); same < 0.9 || worst > 0.05 {
		t.Errorf("%.0f%% of %d classes agree, largest probability difference %.4f", 100*same, rows, worst)
	}
}

// TestInt8Versions reads files of the int8 layouts fedcrypt wrote before the 12-bit one: version
// 1 (one scale per output unit) and version 2 (and a factor per row of each W), built here from
// their definitions.
func TestInt8Versions(t *testing.T) {
	cfg := Config{Kind: KindMLP, Inputs: 3, Outputs: 2, Hidden: []int{4}, Loss: LossSoftmaxCE}
	m, _, _ := randomProblem(t, cfg, 5, 4)
	spans := cfg.spans()
	for _, version := range []uint16{weightsVersion, int8RowsVersion} {
		t.Run(fmt.Sprint("version=", version), func(t *testing.T) {
			b, err := weightsHead(quantMagic, version, cfg, m.Params(), 0)
			if err != nil {
				t.Fatal(err)
			}
			for k, sp := range spans {
				for c := range sp.cols {
					b = binary.LittleEndian.AppendUint64(b, math.Float64bits(float64(k+c+1)/64))
				}
			}
			var rf []float64
			if version == int8RowsVersion {
				for r := range rowFactors(spans) {
					rf = append(rf, float64(r+1)/8)
					b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(rf[r])))
				}
			}
			var want []float64
			row := 0
			for k, sp := range spans {
				for i := range sp.n {
					q := int8(i%255 - 127)
					b = append(b, byte(q))
					w := float64(k+i%sp.cols+1) / 64 * float64(q)
					if rf != nil && sp.cols > 1 {
						w = float64(k+i%sp.cols+1) / 64 * rf[row+i/sp.cols] * float64(q)
					}
					want = append(want, w)
				}
				row += sp.rows()
			}
			b = binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
			got, err := Unmarshal(b)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Params(), want) {
				t.Errorf("version %d file read as %v, want %v", version, got.Params(), want)
			}
		})
	}
}

// TestQuantizedPacking checks the 12-bit layout on a model of 3 parameters (an odd count):
// the values, and that a value of −2048, padding bits or a scale that is not finite and ≥ 0 are
// rejected, and a weight too large for a float32 scale is not written.
func TestQuantizedPacking(t *testing.T) {
	cfg := Config{Kind: KindLogReg, Inputs: 2, Outputs: 1, Loss: LossBCE}
	m := build(cfg, []float64{-1, 0.5, 3})
	b, err := m.MarshalQuantized()
	if err != nil {
		t.Fatal(err)
	}
	// The scales (W's max 1, b's 3, each over 2047 and rounded up to float32), then the values
	// −2047, 1023 (0.5 over a scale a little above 1/2047) and 2047: 0x801, 0x3ff, 0x7ff.
	body := b[len(b)-4-8-5 : len(b)-4]
	sw := float64(math.Float32frombits(binary.LittleEndian.Uint32(body)))
	sb := float64(math.Float32frombits(binary.LittleEndian.Uint32(body[4:])))
	if sw < 1.0/quantMax || sw > 1.0/quantMax*(1+0x1p-23) || sb < 3.0/quantMax || sb > 3.0/quantMax*(1+0x1p-23) {
		t.Errorf("scales %v and %v, want 1/2047 and 3/2047 rounded up to float32", sw, sb)
	}
	if want := []byte{0x01, 0xf8, 0x3f, 0xff, 0x07}; !slices.Equal(body[8:], want) {
		t.Errorf("values packed as % x, want % x", body[8:], want)
	}
	got, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float64{-2047 * sw, 1023 * sw, 2047 * sb}; !slices.Equal(got.Params(), want) {
		t.Errorf("read as %v, want %v", got.Params(), want)
	}
	if _, err := build(cfg, []float64{1e300, 0, 0}).MarshalQuantized(); err == nil {
		t.Errorf("wrote a weight of 1e300")
	}
	resum := func(b []byte) []byte {
		b = slices.Clone(b)
		binary.LittleEndian.PutUint32(b[len(b)-4:], crc32.ChecksumIEEE(b[:len(b)-4]))
		return b
	}
	for name, edit := range map[string]func(body []byte){
		"value -2048":    func(body []byte) { body[8], body[9] = 0x00, 0x08 },
		"padding bits":   func(body []byte) { body[12] |= 0x10 },
		"infinite scale": func(body []byte) { binary.LittleEndian.PutUint32(body, math.Float32bits(float32(math.Inf(1)))) },
		"negative scale": func(body []byte) { binary.LittleEndian.PutUint32(body[4:], math.Float32bits(-1)) },
	} {
		t.Run(name, func(t *testing.T) {
			c := slices.Clone(b)
			edit(c[len(c)-4-8-5 : len(c)-4])
			if _, err := Unmarshal(resum(c)); err == nil {
				t.Errorf("read a file with %s", name)
			}
		})
	}
}
