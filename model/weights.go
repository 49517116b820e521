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
	weightsMagic   = "FCMW"
	weightsVersion = 1
	maxConfigJSON  = 1 << 16
	weightsHeader  = 4 + 2 + 4 // magic, version, config length
)

// MarshalBinary encodes the architecture and parameters in the versioned weight format described
// in the package documentation. It fails if a parameter is NaN or infinite.
func (m *Model) MarshalBinary() ([]byte, error) {
	for i, v := range m.params {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("model weights: parameter %d is %v", i, v)
		}
	}
	cfg, err := json.Marshal(m.cfg)
	if err != nil {
		return nil, fmt.Errorf("model weights: encode config: %w", err)
	}
	out := make([]byte, 0, weightsHeader+len(cfg)+8+8*len(m.params)+4)
	out = append(out, weightsMagic...)
	out = binary.LittleEndian.AppendUint16(out, weightsVersion)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(cfg)))
	out = append(out, cfg...)
	out = binary.LittleEndian.AppendUint64(out, uint64(len(m.params)))
	for _, v := range m.params {
		out = binary.LittleEndian.AppendUint64(out, math.Float64bits(v))
	}
	return binary.LittleEndian.AppendUint32(out, crc32.ChecksumIEEE(out)), nil
}

// Unmarshal decodes a model from the weight format, checking the magic, version, that the config
// is valid, that the parameter count is the one the config implies, the length, the checksum, and
// that every parameter is finite.
func Unmarshal(b []byte) (*Model, error) {
	if len(b) < weightsHeader {
		return nil, fmt.Errorf("model weights: truncated header (%d bytes)", len(b))
	}
	if string(b[:4]) != weightsMagic {
		return nil, fmt.Errorf("model weights: not a fedcrypt weight file (bad magic %q)", b[:4])
	}
	if v := binary.LittleEndian.Uint16(b[4:]); v != weightsVersion {
		return nil, fmt.Errorf("model weights: unsupported version %d (want %d)", v, weightsVersion)
	}
	cl := binary.LittleEndian.Uint32(b[6:])
	if cl > maxConfigJSON {
		return nil, fmt.Errorf("model weights: config of %d bytes, at most %d", cl, maxConfigJSON)
	}
	if uint64(len(b)) < weightsHeader+uint64(cl)+8 {
		return nil, fmt.Errorf("model weights: truncated config (%d bytes)", len(b))
	}
	var cfg Config
	dec := json.NewDecoder(bytes.NewReader(b[weightsHeader : weightsHeader+cl]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("model weights: config: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("model weights: config: trailing data after JSON object")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("model weights: %w", err)
	}
	pos := weightsHeader + int(cl)
	n := binary.LittleEndian.Uint64(b[pos:])
	pos += 8
	if want := cfg.numParams(); n != uint64(want) {
		return nil, fmt.Errorf("model weights: %d parameters, but the config (%s, widths %v) has %d", n, cfg.Kind, cfg.widths(), want)
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
	return build(cfg, params), nil
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
