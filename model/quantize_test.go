package model

import (
	"encoding/binary"
	"hash/crc32"
	"math"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// TestInt8RoundTrip quantizes dense and sparse models: the file is at least 4 times smaller
// than the float64 one, every weight is within half a scale step of the original, and the
// dequantized model predicts the same classes with close probabilities.
func TestInt8RoundTrip(t *testing.T) {
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
				step := mx[i%sp.cols] / 127
				if d := math.Abs(got[off+i] - orig[off+i]); d > step/2*(1+1e-12) {
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
			qb, err := m.MarshalInt8()
			if err != nil {
				t.Fatal(err)
			}
			q, err := Unmarshal(qb)
			if err != nil {
				t.Fatal(err)
			}
			// These models are tiny: a scale per tensor outweighs their weights, so their size
			// is not checked (the sparse ones below are).
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
			qb, err := m.MarshalInt8()
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

// TestInt8Version1 reads a file of the first int8 layout (version 1: one scale per output unit,
// no row factors), as files written before row factors were.
func TestInt8Version1(t *testing.T) {
	cfg := Config{Kind: KindMLP, Inputs: 3, Outputs: 2, Hidden: []int{4}, Loss: LossSoftmaxCE}
	m, _, _ := randomProblem(t, cfg, 5, 4)
	spans := cfg.spans()
	b, err := weightsHead(quantMagic, weightsVersion, cfg, m.Params(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var want []float64
	for k, sp := range spans {
		for c := range sp.cols {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(float64(k+c+1)/64))
		}
	}
	for k, sp := range spans {
		for i := range sp.n {
			q := int8(i%255 - 127)
			b = append(b, byte(q))
			want = append(want, float64(k+i%sp.cols+1)/64*float64(q))
		}
	}
	b = binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
	got, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Params(), want) {
		t.Errorf("version 1 file read as %v, want %v", got.Params(), want)
	}
}
