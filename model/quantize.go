package model

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Quantized weight files: magics of the quantized versions of the two formats.
const (
	quantMagic       = "FCMQ" // a Model's quantized weights
	sparseQuantMagic = "FCSQ" // a SparseModel's quantized weights
)

// QuantBits is the width of a value of the quantized format [Model.MarshalQuantized] writes.
const QuantBits = 12

const (
	quantVersion = 3                    // the version of that format
	quantMax     = 1<<(QuantBits-1) - 1 // 2047: values in [−quantMax, quantMax]
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

// MarshalQuantized encodes m with its weights quantized to 12-bit integers: each layer's W with
// one scale per output unit (the column of W into it), each b with one scale. Symmetric, per
// output unit (per channel) is how integer inference scales weights (Krishnamoorthi 2018,
// "Quantizing deep convolutional networks for efficient inference", arXiv:1806.08342):
//
//	s_c = max_j |w_jc| / 2047 (float32, rounded up),  q_jc = round(w_jc / s_c) ∈ [−2047, 2047],
//	w_jc ≈ s_c·q_jc,  |w_jc − s_c·q_jc| ≤ s_c/2
//
// Why 12 bits and not 8: rounding errors e_jc of up to s_c/2 move a unit's pre-activation on
// input x by Σ_j e_jc·x_j, about s_c·‖x‖/√12. On an 8-bit grid (s_c = max|w|/127, with a factor
// per input row) that moved the probabilities of the default federation's wdbc models (DP-SGD,
// FedAvg; testdata/wdbc-sim-models.json) by up to 0.034, against a deployment target of 0.01;
// keeping the biases exact changed nothing, and a scale per 8 weights instead of per unit (the
// size of 12 bits) still moved them by up to 0.028 (seeds 1–10): the grid, not where the scales
// sit, is what limits. A 12-bit step is 16 times finer, and at 1.5 bytes a weight the weights
// stay more than 4 times smaller than float64 with their float32 scales (16-bit values would
// not).
//
// The file is the weight format of the package documentation with the magic "FCMQ", version 3,
// and after the config: the parameter count P (uint64), the scales s (float32, layer by layer:
// W's by output unit, then b's), the P values q as 12-bit two's complement packed in pairs into
// 3 bytes, low bits first (an odd last value takes 2 bytes, its top 4 bits zero), then the
// CRC-32. [Unmarshal] reads it back, dequantized, and reads the int8 files of versions 1 and 2.
func (m *Model) MarshalQuantized() ([]byte, error) {
	return encodeQuantized(quantMagic, m.cfg, m.params, m.cfg.spans())
}

// MarshalQuantized encodes a sparse model with 12-bit weights as [Model.MarshalQuantized] does
// (magic "FCSQ"): the sparse layer with one scale per output column (class, or embedding
// dimension), its bias with one scale, the head as a dense model's. [UnmarshalSparse] reads it
// back, dequantized.
func (m *SparseModel) MarshalQuantized() ([]byte, error) {
	return encodeQuantized(sparseQuantMagic, m.cfg, m.params, m.cfg.spans())
}

// MarshalInt8 returns [Model.MarshalQuantized].
//
// Deprecated: the quantized format's values are 12-bit; use MarshalQuantized.
func (m *Model) MarshalInt8() ([]byte, error) { return m.MarshalQuantized() }

// MarshalInt8 returns [SparseModel.MarshalQuantized].
//
// Deprecated: the quantized format's values are 12-bit; use MarshalQuantized.
func (m *SparseModel) MarshalInt8() ([]byte, error) { return m.MarshalQuantized() }

// packedLen is the length of n packed 12-bit values.
func packedLen(n int) int { return (3*n + 1) / 2 }

func encodeQuantized(magic string, cfg any, params []float64, spans []span) ([]byte, error) {
	out, err := weightsHead(magic, quantVersion, cfg, params, 4*scales(spans)+packedLen(len(params))+4)
	if err != nil {
		return nil, err
	}
	sc := make([]float32, 0, scales(spans))
	off := 0
	for _, sp := range spans {
		mx := make([]float64, sp.cols)
		for i, v := range params[off : off+sp.n] {
			mx[i%sp.cols] = max(mx[i%sp.cols], math.Abs(v))
		}
		for _, m := range mx {
			s := float32(m / quantMax)
			if float64(s) < m/quantMax {
				s = math.Nextafter32(s, math.MaxFloat32)
			}
			if math.IsInf(float64(s), 0) {
				return nil, fmt.Errorf("model weights: a weight of magnitude %g is beyond the quantized format's float32 scales", m)
			}
			sc = append(sc, s)
			out = binary.LittleEndian.AppendUint32(out, math.Float32bits(s))
		}
		off += sp.n
	}
	q := make([]int16, len(params))
	off, base := 0, 0
	for _, sp := range spans {
		for i, v := range params[off : off+sp.n] {
			if s := float64(sc[base+i%sp.cols]); s > 0 {
				q[off+i] = int16(max(-quantMax, min(quantMax, math.Round(v/s))))
			}
		}
		off += sp.n
		base += sp.cols
	}
	for i := 0; i < len(q); i += 2 {
		lo := uint16(q[i]) & 0xfff
		if i+1 == len(q) {
			out = append(out, byte(lo), byte(lo>>8))
			break
		}
		hi := uint16(q[i+1]) & 0xfff
		out = append(out, byte(lo), byte(lo>>8)|byte(hi<<4), byte(hi>>4))
	}
	return binary.LittleEndian.AppendUint32(out, crc32.ChecksumIEEE(out)), nil
}

// decodeQuantized reads the body of a quantized file of the given version after its config:
// P, then what the version holds, then the checksum; want is the parameter count and spans the
// spans the config implies.
func decodeQuantized(b []byte, pos int, version uint16, want int, desc string, spans func() []span) ([]float64, error) {
	n := binary.LittleEndian.Uint64(b[pos:])
	pos += 8
	if n != uint64(want) {
		return nil, fmt.Errorf("model weights: %d parameters, but the config (%s) has %d", n, desc, want)
	}
	sp := spans()
	if version != quantVersion {
		return decodeInt8(b, pos, version, n, sp)
	}
	ns := scales(sp)
	if _, err := checkQuantizedFrame(b, pos, 4*ns+packedLen(int(n))); err != nil {
		return nil, err
	}
	sc := make([]float64, ns)
	for k := range sc {
		sc[k] = float64(math.Float32frombits(binary.LittleEndian.Uint32(b[pos+4*k:])))
		if !(sc[k] >= 0) || math.IsInf(sc[k], 0) {
			return nil, fmt.Errorf("model weights: scale %d is not a finite number ≥ 0", k)
		}
	}
	q := b[pos+4*ns:]
	params := make([]float64, n)
	off, base := 0, 0
	for _, s := range sp {
		for i := range s.n {
			k := off + i
			j := 3 * (k / 2)
			var u uint16
			if k%2 == 0 {
				u = uint16(q[j]) | uint16(q[j+1]&0xf)<<8
			} else {
				u = uint16(q[j+1]>>4) | uint16(q[j+2])<<4
			}
			v := int16(u<<4) >> 4
			if v < -quantMax {
				return nil, fmt.Errorf("model weights: parameter %d: value −2048 is outside [−2047, 2047]", k)
			}
			params[k] = sc[base+i%s.cols] * float64(v)
		}
		off += s.n
		base += s.cols
	}
	if n%2 == 1 && q[3*(n/2)+1]>>4 != 0 {
		return nil, fmt.Errorf("model weights: padding bits after the last value are not zero")
	}
	return params, nil
}

// checkQuantizedFrame checks that b holds body bytes from pos and a checksum, and the checksum;
// it returns where the checksum starts.
func checkQuantizedFrame(b []byte, pos, body int) (int, error) {
	if need := pos + body + 4; len(b) != need {
		return 0, fmt.Errorf("model weights: %d bytes, want %d (truncated or trailing data)", len(b), need)
	}
	end := len(b) - 4
	if got, want := binary.LittleEndian.Uint32(b[end:]), crc32.ChecksumIEEE(b[:end]); got != want {
		return 0, fmt.Errorf("model weights: checksum %08x, computed %08x (file corrupted)", got, want)
	}
	return end, nil
}

// Agreement compares two models' probabilities for the same rows (rows × outputs, as Predict
// writes them): the fraction of rows given the same class (a binary model's class is 1 at a
// probability of at least 0.5, a softmax model's the most probable, the first of ties) and the
// largest difference of any probability. It is how a quantized model is checked against its
// float64 original; it panics if the shapes differ.
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
