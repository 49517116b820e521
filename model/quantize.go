package model

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
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

// MarshalInt8 encodes m with its weights quantized to int8: each layer's W with one scale per
// output unit (the column of W into it), each b with one scale, as int8 inference does
// (Jacob et al. 2018, "Quantization and Training of Neural Networks for Efficient
// Integer-Arithmetic-Only Inference", CVPR, there per tensor; per channel, Krishnamoorthi 2018,
// arXiv:1806.08342):
//
//	w ≈ s·q,  q = round(w/s) ∈ [−127, 127],  s = max|w| / 127 over the weights sharing s
//
// The file is the weight format of the package documentation with the magic "FCMQ" and, after
// the config, the parameter count P (uint64), the scales (float64, layer by layer: W's by output
// unit, then b's), P int8 values, then the CRC-32: about 8 times smaller than float64 but for
// the header and scales. [Unmarshal] reads it back, dequantized.
func (m *Model) MarshalInt8() ([]byte, error) {
	return encodeInt8(quantMagic, m.cfg, m.params, m.cfg.spans())
}

// MarshalInt8 encodes a sparse model with int8 weights as [Model.MarshalInt8] does (magic
// "FCSQ"): the sparse layer with one scale per output column (class, or embedding dimension),
// its bias with one, the head as a dense model's. [UnmarshalSparse] reads it back, dequantized.
func (m *SparseModel) MarshalInt8() ([]byte, error) {
	return encodeInt8(sparseQuantMagic, m.cfg, m.params, m.cfg.spans())
}

func encodeInt8(magic string, cfg any, params []float64, spans []span) ([]byte, error) {
	out, err := weightsHead(magic, cfg, params, 8*scales(spans)+len(params)+4)
	if err != nil {
		return nil, err
	}
	sc := make([]float64, 0, scales(spans))
	off := 0
	for _, sp := range spans {
		mx := make([]float64, sp.cols)
		for i, v := range params[off : off+sp.n] {
			mx[i%sp.cols] = max(mx[i%sp.cols], math.Abs(v))
		}
		for _, m := range mx {
			sc = append(sc, m/127)
			out = binary.LittleEndian.AppendUint64(out, math.Float64bits(m/127))
		}
		off += sp.n
	}
	off, base := 0, 0
	for _, sp := range spans {
		for i, v := range params[off : off+sp.n] {
			q, s := 0.0, sc[base+i%sp.cols]
			if s > 0 {
				q = math.Round(v / s)
			}
			out = append(out, byte(int8(max(-127, min(127, q)))))
		}
		off += sp.n
		base += sp.cols
	}
	return binary.LittleEndian.AppendUint32(out, crc32.ChecksumIEEE(out)), nil
}

// decodeInt8 reads the body of an int8 file after its config: P, the scales, the values, the
// checksum; want is the parameter count and spans the spans the config implies.
func decodeInt8(b []byte, pos, want int, desc string, spans func() []span) ([]float64, error) {
	n := binary.LittleEndian.Uint64(b[pos:])
	pos += 8
	if n != uint64(want) {
		return nil, fmt.Errorf("model weights: %d parameters, but the config (%s) has %d", n, desc, want)
	}
	sp := spans()
	ns := scales(sp)
	if need := pos + 8*ns + int(n) + 4; len(b) != need {
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
	q := b[pos+8*ns : end]
	params := make([]float64, n)
	off, base := 0, 0
	for _, s := range sp {
		for i := range s.n {
			params[off+i] = sc[base+i%s.cols] * float64(int8(q[off+i]))
		}
		off += s.n
		base += s.cols
	}
	return params, nil
}
