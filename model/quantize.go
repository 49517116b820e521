package model

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Quantized weight files: magics of the int8 versions of the two formats.
const (
	quantMagic       = "FCMQ" // a Model's int8 weights
	sparseQuantMagic = "FCSQ" // a SparseModel's int8 weights
)

// span is a run of parameters that is quantized together: n values laid out row-major in cols
// columns, each column with its own scale (the weights into one output unit).
type span struct{ n, cols int }

// spans returns the model's quantization spans in parameter order: per layer W, one scale per
// output unit, then b, one scale.
func (c Config) spans() []span {
	w := c.widths()
	var t []span
	for l := 0; l+1 < len(w); l++ {
		t = append(t, span{w[l] * w[l+1], w[l+1]}, span{w[l+1], 1})
	}
	return t
}

// spans returns a sparse model's quantization spans: the sparse layer's weights, one scale per
// output column (class, or embedding dimension), its bias, then the head's spans.
func (c SparseConfig) spans() []span {
	t := []span{{c.Inputs * c.width(), c.width()}}
	if c.hasBias() {
		t = append(t, span{c.width(), 1})
	}
	if c.Kind == KindEmbeddingBag {
		t = append(t, c.head().spans()...)
	}
	return t
}

// scales returns the number of scales of the spans.
func scales(spans []span) int {
	n := 0
	for _, sp := range spans {
		n += sp.cols
	}
	return n
}

// int8RowsVersion is the version of the int8 format with a factor per row of each span of
// several columns; version 1 (weightsVersion) files have none and are still read.
const int8RowsVersion = 2

// MarshalInt8 encodes m with its weights quantized to int8: each layer's W with one scale per
// output unit (the column of W into it), refined by a factor per input row, and each b with one
// scale. Per output unit (per channel) is how int8 inference scales weights (Jacob et al. 2018,
// "Quantization and Training of Neural Networks for Efficient Integer-Arithmetic-Only
// Inference", CVPR, there per tensor; per channel, Krishnamoorthi 2018, arXiv:1806.08342); the
// row factor keeps a row of small weights from sharing the grid of its columns' largest, which
// matters when its input takes large values (on digits, a pixel almost always blank has z-scores
// near 40 where it is not: without row factors an int8 model's probabilities moved by up to
// 0.015 there, with them by 0.008):
//
//	s_c = max_j |w_jc| / 127,  r_j = max_c |w_jc| / (127·s_c) ∈ [0, 1] (float32, rounded up),
//	q_jc = round(w_jc / (s_c·r_j)) ∈ [−127, 127],  w_jc ≈ s_c·r_j·q_jc
//
// A layer of one output unit has no row factors (r_j = 1: one scale for the tensor).
//
// The file is the weight format of the package documentation with the magic "FCMQ", version 2,
// and after the config: the parameter count P (uint64), the scales s (float64, layer by layer:
// W's by output unit, then b's), the row factors r (float32, the rows of each W of more than one
// column), P int8 values, then the CRC-32: for a layer of many inputs and outputs about 8 times
// smaller than float64. [Unmarshal] reads it back, dequantized, and reads version 1 files (no row
// factors).
func (m *Model) MarshalInt8() ([]byte, error) {
	return encodeInt8(quantMagic, m.cfg, m.params, m.cfg.spans())
}

// MarshalInt8 encodes a sparse model with int8 weights as [Model.MarshalInt8] does (magic
// "FCSQ"): the sparse layer with one scale per output column (class, or embedding dimension)
// and a factor per bucket, its bias with one scale, the head as a dense model's.
// [UnmarshalSparse] reads it back, dequantized.
func (m *SparseModel) MarshalInt8() ([]byte, error) {
	return encodeInt8(sparseQuantMagic, m.cfg, m.params, m.cfg.spans())
}

// rows returns the number of row factors of a span: one per row when it has several columns.
func (sp span) rows() int {
	if sp.cols == 1 {
		return 0
	}
	return sp.n / sp.cols
}

// rowFactors returns the number of row factors of the spans.
func rowFactors(spans []span) int {
	n := 0
	for _, sp := range spans {
		n += sp.rows()
	}
	return n
}

// grid returns the quantization step of parameter i of a span whose column scales start at sc
// and row factors at rf.
func (sp span) grid(sc []float64, rf []float64, i int) float64 {
	if sp.cols == 1 {
		return sc[0]
	}
	return sc[i%sp.cols] * rf[i/sp.cols]
}

func encodeInt8(magic string, cfg any, params []float64, spans []span) ([]byte, error) {
	out, err := weightsHead(magic, int8RowsVersion, cfg, params, 8*scales(spans)+4*rowFactors(spans)+len(params)+4)
	if err != nil {
		return nil, err
	}
	var sc, rf []float64
	off := 0
	for _, sp := range spans {
		w := params[off : off+sp.n]
		mx := make([]float64, sp.cols)
		for i, v := range w {
			mx[i%sp.cols] = max(mx[i%sp.cols], math.Abs(v))
		}
		for _, m := range mx {
			sc = append(sc, m/127)
		}
		for r := range sp.rows() {
			ratio := 0.0
			for c, v := range w[r*sp.cols : (r+1)*sp.cols] {
				if mx[c] > 0 {
					ratio = max(ratio, math.Abs(v)/mx[c])
				}
			}
			f := float32(ratio)
			if float64(f) < ratio {
				f = math.Nextafter32(f, 2)
			}
			rf = append(rf, float64(f))
		}
		off += sp.n
	}
	for _, v := range sc {
		out = binary.LittleEndian.AppendUint64(out, math.Float64bits(v))
	}
	for _, v := range rf {
		out = binary.LittleEndian.AppendUint32(out, math.Float32bits(float32(v)))
	}
	off, base, row := 0, 0, 0
	for _, sp := range spans {
		for i, v := range params[off : off+sp.n] {
			q := 0.0
			if s := sp.grid(sc[base:], rf[row:], i); s > 0 {
				q = math.Round(v / s)
			}
			out = append(out, byte(int8(max(-127, min(127, q)))))
		}
		off += sp.n
		base += sp.cols
		row += sp.rows()
	}
	return binary.LittleEndian.AppendUint32(out, crc32.ChecksumIEEE(out)), nil
}

// decodeInt8 reads the body of an int8 file of the given version after its config: P, the
// scales, the row factors (version 2), the values, the checksum; want is the parameter count
// and spans the spans the config implies.
func decodeInt8(b []byte, pos int, version uint16, want int, desc string, spans func() []span) ([]float64, error) {
	n := binary.LittleEndian.Uint64(b[pos:])
	pos += 8
	if n != uint64(want) {
		return nil, fmt.Errorf("model weights: %d parameters, but the config (%s) has %d", n, desc, want)
	}
	sp := spans()
	ns, nr := scales(sp), 0
	if version == int8RowsVersion {
		nr = rowFactors(sp)
	}
	if need := pos + 8*ns + 4*nr + int(n) + 4; len(b) != need {
		return nil, fmt.Errorf("model weights: %d bytes, want %d (truncated or trailing data)", len(b), need)
	}
	end := len(b) - 4
	if got, want := binary.LittleEndian.Uint32(b[end:]), crc32.ChecksumIEEE(b[:end]); got != want {
		return nil, fmt.Errorf("model weights: checksum %08x, computed %08x (file corrupted)", got, want)
	}
	sc := make([]float64, ns)
	for k := range sc {
		sc[k] = math.Float64frombits(binary.LittleEndian.Uint64(b[pos+8*k:]))
		if !(sc[k] >= 0) || math.IsInf(sc[k], 0) || sc[k] > math.MaxFloat64/128 {
			return nil, fmt.Errorf("model weights: scale %d is not a finite number ≥ 0", k)
		}
	}
	pos += 8 * ns
	rf := make([]float64, rowFactors(sp))
	for k := range rf {
		rf[k] = 1 // version 1: none
		if nr > 0 {
			rf[k] = float64(math.Float32frombits(binary.LittleEndian.Uint32(b[pos+4*k:])))
			if !(rf[k] >= 0 && rf[k] <= 1) {
				return nil, fmt.Errorf("model weights: row factor %d is not a number in [0, 1]", k)
			}
		}
	}
	q := b[pos+4*nr : end]
	params := make([]float64, n)
	off, base, row := 0, 0, 0
	for _, s := range sp {
		for i := range s.n {
			params[off+i] = s.grid(sc[base:], rf[row:], i) * float64(int8(q[off+i]))
		}
		off += s.n
		base += s.cols
		row += s.rows()
	}
	return params, nil
}

// Agreement compares two models' probabilities for the same rows (rows × outputs, as Predict
// writes them): the fraction of rows given the same class (a binary model's class is 1 at a
// probability of at least 0.5, a softmax model's the most probable, the first of ties) and the
// largest difference of any probability. It is how an int8 model is checked against its float64
// original; it panics if the shapes differ.
func Agreement(a, b *mat.Dense) (sameClass, maxProbDiff float64) {
	rows, k := a.Dims()
	if r, c := b.Dims(); r != rows || c != k {
		panic(fmt.Sprintf("model: Agreement of %d×%d and %d×%d probabilities", rows, k, r, c))
	}
	same := 0
	for i := range rows {
		pa, pb := a.RawRowView(i), b.RawRowView(i)
		if classOf(pa) == classOf(pb) {
			same++
		}
		for j := range k {
			maxProbDiff = max(maxProbDiff, math.Abs(pa[j]-pb[j]))
		}
	}
	return float64(same) / float64(max(rows, 1)), maxProbDiff
}

// classOf is the class of one row of probabilities.
func classOf(p []float64) int {
	if len(p) == 1 {
		if p[0] >= 0.5 {
			return 1
		}
		return 0
	}
	return argmax(p)
}
