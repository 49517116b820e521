package model

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"math"
)

// Quantized weight files: magics of the int8 versions of the two formats.
const (
	quantMagic       = "FCMQ" // a Model's int8 weights
	sparseQuantMagic = "FCSQ" // a SparseModel's int8 weights
)

// tensors returns the lengths of the model's tensors in parameter order: per layer W, then b.
func (c Config) tensors() []int {
	w := c.widths()
	var t []int
	for l := 0; l+1 < len(w); l++ {
		t = append(t, w[l]*w[l+1], w[l+1])
	}
	return t
}

// tensors returns the lengths of a sparse model's tensors: the sparse layer's weights (one
// tensor), its bias, then the head's tensors.
func (c SparseConfig) tensors() []int {
	t := []int{c.Inputs * c.width()}
	if c.hasBias() {
		t = append(t, c.width())
	}
	if c.Kind == KindEmbeddingBag {
		t = append(t, c.head().tensors()...)
	}
	return t
}

// MarshalInt8 encodes m with its weights quantized to int8 with one scale per tensor (each
// layer's W and b): w ≈ s·q with q = round(w/s) ∈ [−127, 127] and s = max|w|/127. The file is
// the weight format of the package documentation with the magic "FCMQ" and, after the config,
// the parameter count P (uint64), one float64 scale per tensor and P int8 values, then the
// CRC-32: about 8 times smaller than float64. [Unmarshal] reads it back, dequantized.
func (m *Model) MarshalInt8() ([]byte, error) {
	return encodeInt8(quantMagic, m.cfg, m.params, m.cfg.tensors())
}

// MarshalInt8 encodes a sparse model with int8 weights as [Model.MarshalInt8] does (magic
// "FCSQ"; the tensors are the sparse layer's weights, its bias, the head's W and b).
// [UnmarshalSparse] reads it back, dequantized.
func (m *SparseModel) MarshalInt8() ([]byte, error) {
	return encodeInt8(sparseQuantMagic, m.cfg, m.params, m.cfg.tensors())
}

func encodeInt8(magic string, cfg any, params []float64, tensors []int) ([]byte, error) {
	for i, v := range params {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("model weights: parameter %d is %v", i, v)
		}
	}
	cj, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("model weights: encode config: %w", err)
	}
	out := make([]byte, 0, weightsHeader+len(cj)+8+8*len(tensors)+len(params)+4)
	out = append(out, magic...)
	out = binary.LittleEndian.AppendUint16(out, weightsVersion)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(cj)))
	out = append(out, cj...)
	out = binary.LittleEndian.AppendUint64(out, uint64(len(params)))
	scales := make([]float64, len(tensors))
	off := 0
	for k, n := range tensors {
		mx := 0.0
		for _, v := range params[off : off+n] {
			mx = max(mx, math.Abs(v))
		}
		scales[k] = mx / 127
		out = binary.LittleEndian.AppendUint64(out, math.Float64bits(scales[k]))
		off += n
	}
	off = 0
	for k, n := range tensors {
		for _, v := range params[off : off+n] {
			q := 0.0
			if scales[k] > 0 {
				q = math.Round(v / scales[k])
			}
			out = append(out, byte(int8(max(-127, min(127, q)))))
		}
		off += n
	}
	return binary.LittleEndian.AppendUint32(out, crc32.ChecksumIEEE(out)), nil
}

// decodeInt8 reads the body of an int8 file after its config: P, the scales, the values, the
// checksum; want is the parameter count and tensors the tensor lengths the config implies.
func decodeInt8(b []byte, pos, want int, desc string, tensors func() []int) ([]float64, error) {
	n := binary.LittleEndian.Uint64(b[pos:])
	pos += 8
	if n != uint64(want) {
		return nil, fmt.Errorf("model weights: %d parameters, but the config (%s) has %d", n, desc, want)
	}
	ts := tensors()
	if need := pos + 8*len(ts) + int(n) + 4; len(b) != need {
		return nil, fmt.Errorf("model weights: %d bytes, want %d (truncated or trailing data)", len(b), need)
	}
	end := len(b) - 4
	if got, want := binary.LittleEndian.Uint32(b[end:]), crc32.ChecksumIEEE(b[:end]); got != want {
		return nil, fmt.Errorf("model weights: checksum %08x, computed %08x (file corrupted)", got, want)
	}
	q := pos + 8*len(ts)
	params := make([]float64, n)
	off := 0
	for k, l := range ts {
		s := math.Float64frombits(binary.LittleEndian.Uint64(b[pos+8*k:]))
		if !(s >= 0) || math.IsInf(s, 0) {
			return nil, fmt.Errorf("model weights: scale of tensor %d is not a finite number ≥ 0", k)
		}
		for i := range l {
			params[off+i] = s * float64(int8(b[q+off+i]))
		}
		off += l
	}
	return params, nil
}
