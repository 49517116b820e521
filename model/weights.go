package model

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
)

// Weight file format, version 1 (all integers little-endian; see the package documentation).
const (
	weightsMagic       = "FCMW"
	sparseWeightsMagic = "FCSW"
	weightsVersion     = 1
	maxConfigJSON      = 1 << 16
	weightsHeader      = 4 + 2 + 4 // magic, version, config length
)

// magicName names the kind of file a magic starts, for errors.
var magicName = map[string]string{weightsMagic: "weight", sparseWeightsMagic: "sparse-model weight"}

// MarshalBinary encodes the architecture and parameters in the versioned weight format described
// in the package documentation. It fails if a parameter is NaN or infinite.
func (m *Model) MarshalBinary() ([]byte, error) { return encodeWeights(weightsMagic, m.cfg, m.params) }

// encodeWeights writes the weight frame: magic, version, the config as JSON, the parameters,
// the checksum.
func encodeWeights(magic string, cfg any, params []float64) ([]byte, error) {
	out, err := weightsHead(magic, weightsVersion, cfg, params, 8*len(params)+4)
	if err != nil {
		return nil, err
	}
	for _, v := range params {
		out = binary.LittleEndian.AppendUint64(out, math.Float64bits(v))
	}
	return binary.LittleEndian.AppendUint32(out, crc32.ChecksumIEEE(out)), nil
}

// weightsHead checks that the parameters are finite and starts a weight file: magic, version,
// the config as JSON, the parameter count; body is the capacity to leave for what follows.
func weightsHead(magic string, version uint16, cfg any, params []float64, body int) ([]byte, error) {
	for i, v := range params {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("model weights: parameter %d is %v", i, v)
		}
	}
	cj, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("model weights: encode config: %w", err)
	}
	out := make([]byte, 0, weightsHeader+len(cj)+8+body)
	out = append(out, magic...)
	out = binary.LittleEndian.AppendUint16(out, version)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(cj)))
	out = append(out, cj...)
	return binary.LittleEndian.AppendUint64(out, uint64(len(params))), nil
}

// Unmarshal decodes a model from the weight format, checking the magic, version, that the config
// is valid, that the parameter count is the one the config implies, the length, the checksum, and
// that every parameter is finite. It also reads the quantized format of [Model.MarshalQuantized]
// (and its int8 versions), whose weights it dequantizes.
func Unmarshal(b []byte) (*Model, error) {
	var cfg Config
	params, err := decodeWeights(b, weightsMagic, quantMagic, &cfg, func() (int, string, error) {
		if err := cfg.Validate(); err != nil {
			return 0, "", err
		}
		return cfg.numParams(), fmt.Sprintf("%s, widths %v", cfg.Kind, cfg.widths()), nil
	}, func() []span { return cfg.spans() })
	if err != nil {
		return nil, err
	}
	return build(cfg, params), nil
}

// decodeWeights checks a weight frame of the given magic, or of its quantized version quant,
// decodes its config into cfg (unknown fields rejected), asks check for the parameter count the
// config implies (and a description for errors), and returns the parameters, dequantized from
// a quantized file with the spans spans gives.
func decodeWeights(b []byte, magic, quant string, cfg any, check func() (int, string, error), spans func() []span) ([]float64, error) {
	if len(b) < weightsHeader {
		return nil, fmt.Errorf("model weights: truncated header (%d bytes)", len(b))
	}
	if m := string(b[:4]); m != magic && m != quant {
		return nil, fmt.Errorf("model weights: not a fedcrypt %s file (bad magic %q)", magicName[magic], b[:4])
	}
	quantized := string(b[:4]) == quant
	v := binary.LittleEndian.Uint16(b[4:])
	if v != weightsVersion && !(quantized && (v == int8RowsVersion || v == quantVersion)) {
		return nil, fmt.Errorf("model weights: unsupported version %d (want %d)", v, weightsVersion)
	}
	cl := binary.LittleEndian.Uint32(b[6:])
	if cl > maxConfigJSON {
		return nil, fmt.Errorf("model weights: config of %d bytes, at most %d", cl, maxConfigJSON)
	}
	if uint64(len(b)) < weightsHeader+uint64(cl)+8 {
		return nil, fmt.Errorf("model weights: truncated config (%d bytes)", len(b))
	}
	dec := json.NewDecoder(bytes.NewReader(b[weightsHeader : weightsHeader+cl]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(cfg); err != nil {
		return nil, fmt.Errorf("model weights: config: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("model weights: config: trailing data after JSON object")
	}
	want, desc, err := check()
	if err != nil {
		return nil, fmt.Errorf("model weights: %w", err)
	}
	pos := weightsHeader + int(cl)
	if quantized {
		return decodeQuantized(b, pos, v, want, desc, spans)
	}
	n := binary.LittleEndian.Uint64(b[pos:])
	pos += 8
	if n != uint64(want) {
		return nil, fmt.Errorf("model weights: %d parameters, but the config (%s) has %d", n, desc, want)
	}
	if want := pos + 8*int(n) + 4; len(b) != want {
		return nil, fmt.Errorf("model weights: %d bytes, want %d (truncated or trailing data)", len(b), want)
	}
	end := len(b) - 4
	if got, want := binary.LittleEndian.Uint32(b[end:]), crc32.ChecksumIEEE(b[:end]); got != want {
		return nil, fmt.Errorf("model weights: checksum %08x, computed %08x (file corrupted)", got, want)
	}
	params := make([]float64, n)
	for i := range params {
		v := math.Float64frombits(binary.LittleEndian.Uint64(b[pos+8*i:]))
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("model weights: parameter %d is %v", i, v)
		}
		params[i] = v
	}
	return params, nil
}

// MarshalBinary encodes a sparse model in the weight format with the magic "FCSW" and a
// [SparseConfig] as the config (see the package documentation).
func (m *SparseModel) MarshalBinary() ([]byte, error) {
	return encodeWeights(sparseWeightsMagic, m.cfg, m.params)
}

// UnmarshalSparse decodes a sparse model from its weight format, or its quantized format
// ([SparseModel.MarshalQuantized]), with the checks of [Unmarshal].
func UnmarshalSparse(b []byte) (*SparseModel, error) {
	var cfg SparseConfig
	params, err := decodeWeights(b, sparseWeightsMagic, sparseQuantMagic, &cfg, func() (int, string, error) {
		if err := cfg.Validate(); err != nil {
			return 0, "", err
		}
		return cfg.numParams(), fmt.Sprintf("%s, %d inputs, %d outputs", cfg.Kind, cfg.Inputs, cfg.Outputs), nil
	}, func() []span { return cfg.spans() })
	if err != nil {
		return nil, err
	}
	return buildSparse(cfg, params), nil
}

// UnmarshalBinary loads weights into m, which must have the same architecture as the weights
// (kind, widths, activation, loss); m is unchanged on error.
func (m *Model) UnmarshalBinary(b []byte) error {
	w, err := Unmarshal(b)
	if err != nil {
		return err
	}
	if !sameArchitecture(w.cfg, m.cfg) {
		return fmt.Errorf("model weights: for %s widths %v (%s, %s), model is %s widths %v (%s, %s)",
			w.cfg.Kind, w.cfg.widths(), w.cfg.activation(), w.cfg.Loss,
			m.cfg.Kind, m.cfg.widths(), m.cfg.activation(), m.cfg.Loss)
	}
	copy(m.params, w.params)
	return nil
}

func sameArchitecture(a, b Config) bool {
	return a.Kind == b.Kind && a.Loss == b.Loss && a.activation() == b.activation() &&
		slices.Equal(a.widths(), b.widths())
}
