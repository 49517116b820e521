package fedavg

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Names of the server optimizers accepted in [Config.Name].
const (
	FedAvg  = "fedavg"
	FedAvgM = "fedavgm"
	FedAdam = "fedadam"
)

// Config chooses a server optimizer and its settings. Zero values take the
// defaults of [Config.WithDefaults].
type Config struct {
	Name     string  `json:"name"`               // "fedavg" | "fedavgm" | "fedadam"
	LR       float64 `json:"lr,omitempty"`       // server learning rate η (default 1 for fedavg/fedavgm, 0.1 for fedadam)
	Momentum float64 `json:"momentum,omitempty"` // β of FedAvgM (default 0.9)
	Beta1    float64 `json:"beta1,omitempty"`    // FedAdam β₁ (default 0.9)
	Beta2    float64 `json:"beta2,omitempty"`    // FedAdam β₂ (default 0.99)
	Tau      float64 `json:"tau,omitempty"`      // FedAdam adaptivity τ (default 1e-3)
}

// WithDefaults returns c with unset fields given their defaults.
func (c Config) WithDefaults() Config {
	if c.Name == "" {
		c.Name = FedAvg
	}
	if c.LR == 0 {
		c.LR = 1
		if c.Name == FedAdam {
			c.LR = 0.1
		}
	}
	if c.Name == FedAvgM && c.Momentum == 0 {
		c.Momentum = 0.9
	}
	if c.Name == FedAdam {
		if c.Beta1 == 0 {
			c.Beta1 = 0.9
		}
		if c.Beta2 == 0 {
			c.Beta2 = 0.99
		}
		if c.Tau == 0 {
			c.Tau = 1e-3
		}
	}
	return c
}

// Validate reports whether c (after defaults) names a known optimizer with
// settings in range.
func (c Config) Validate() error {
	c = c.WithDefaults()
	finite := func(name string, v, lo, hi float64, openLo bool) error {
		if math.IsNaN(v) || v > hi || v < lo || (openLo && v == lo) {
			return fmt.Errorf("server optimizer %s: %s %v out of range", c.Name, name, v)
		}
		return nil
	}
	switch c.Name {
	case FedAvg:
	case FedAvgM:
		if err := finite("momentum", c.Momentum, 0, 1, false); err != nil || c.Momentum == 1 {
			return fmt.Errorf("server optimizer fedavgm: momentum %v must be in [0, 1)", c.Momentum)
		}
	case FedAdam:
		for _, p := range []struct {
			name string
			v    float64
		}{{"beta1", c.Beta1}, {"beta2", c.Beta2}} {
			if math.IsNaN(p.v) || p.v < 0 || p.v >= 1 {
				return fmt.Errorf("server optimizer fedadam: %s %v must be in [0, 1)", p.name, p.v)
			}
		}
		if err := finite("tau", c.Tau, 0, math.MaxFloat64, true); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown server optimizer %q (want fedavg, fedavgm or fedadam)", c.Name)
	}
	return finite("lr", c.LR, 0, 1e6, true)
}

// Server applies mean updates to a global model with one server optimizer.
type Server struct {
	cfg  Config
	m, v []float64 // FedAvgM: v is the momentum; FedAdam: first and second moments
}

// NewServer returns a server optimizer for models of numParams parameters.
func NewServer(cfg Config, numParams int) (*Server, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if numParams < 1 {
		return nil, fmt.Errorf("server optimizer: %d parameters", numParams)
	}
	s := &Server{cfg: cfg}
	switch cfg.Name {
	case FedAvgM:
		s.v = make([]float64, numParams)
	case FedAdam:
		s.m = make([]float64, numParams)
		s.v = make([]float64, numParams)
	}
	return s, nil
}

// Config returns the server's settings, defaults filled in.
func (s *Server) Config() Config { return s.cfg }

// Apply updates the global parameters in place from the mean update delta.
// It panics if the lengths differ: both come from the federation's model.
func (s *Server) Apply(params, delta []float64) {
	if len(params) != len(delta) {
		panic("fedavg: parameter and update lengths differ")
	}
	lr := s.cfg.LR
	switch s.cfg.Name {
	case FedAvg:
		for i, d := range delta {
			params[i] += lr * d
		}
	case FedAvgM:
		if len(s.v) != len(params) {
			panic("fedavg: model size changed")
		}
		b := s.cfg.Momentum
		for i, d := range delta {
			s.v[i] = b*s.v[i] + d
			params[i] += lr * s.v[i]
		}
	case FedAdam:
		if len(s.v) != len(params) {
			panic("fedavg: model size changed")
		}
		b1, b2, tau := s.cfg.Beta1, s.cfg.Beta2, s.cfg.Tau
		for i, d := range delta {
			s.m[i] = b1*s.m[i] + (1-b1)*d
			s.v[i] = b2*s.v[i] + (1-b2)*d*d
			params[i] += lr * s.m[i] / (math.Sqrt(s.v[i]) + tau)
		}
	}
}

// Mean writes sum / totalWeight into dst: the mean update of a round whose
// decrypted sum of weighted updates is sum and whose public total weight is
// totalWeight.
func Mean(dst, sum []float64, totalWeight float64) error {
	if len(dst) != len(sum) {
		return fmt.Errorf("mean update: %d values for %d parameters", len(sum), len(dst))
	}
	if !(totalWeight > 0) || math.IsInf(totalWeight, 0) {
		return fmt.Errorf("mean update: total weight %v must be positive", totalWeight)
	}
	for i, v := range sum {
		dst[i] = v / totalWeight
	}
	return nil
}

// ClipL2 scales v in place so that its L2 norm is at most bound, and returns
// the norm before clipping.
func ClipL2(v []float64, bound float64) float64 {
	var ss float64
	for _, x := range v {
		ss += x * x
	}
	norm := math.Sqrt(ss)
	if norm > bound {
		f := bound / norm
		for i := range v {
			v[i] *= f
		}
	}
	return norm
}

const stateMagic = "FCSO\x01"

// MarshalBinary encodes the optimizer's name and state exactly.
func (s *Server) MarshalBinary() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(stateMagic)
	writeString(&b, s.cfg.Name)
	for _, vec := range [][]float64{s.m, s.v} {
		binary.Write(&b, binary.LittleEndian, uint64(len(vec)))
		binary.Write(&b, binary.LittleEndian, vec)
	}
	return b.Bytes(), nil
}

// UnmarshalBinary restores state written by MarshalBinary into a server
// created with the same configuration and model size.
func (s *Server) UnmarshalBinary(data []byte) error {
	r := bytes.NewReader(data)
	magic := make([]byte, len(stateMagic))
	if _, err := r.Read(magic); err != nil || string(magic) != stateMagic {
		return errors.New("server optimizer state: not a fedcrypt server state (bad header)")
	}
	name, err := readString(r)
	if err != nil {
		return fmt.Errorf("server optimizer state: %w", err)
	}
	if name != s.cfg.Name {
		return fmt.Errorf("server optimizer state: saved for %q, server is %q", name, s.cfg.Name)
	}
	for _, dst := range []*[]float64{&s.m, &s.v} {
		var n uint64
		if err := binary.Read(r, binary.LittleEndian, &n); err != nil {
			return errors.New("server optimizer state: truncated")
		}
		if n != uint64(len(*dst)) {
			return fmt.Errorf("server optimizer state: %d values, model has %d", n, len(*dst))
		}
		if err := binary.Read(r, binary.LittleEndian, *dst); err != nil {
			return errors.New("server optimizer state: truncated")
		}
	}
	if r.Len() != 0 {
		return fmt.Errorf("server optimizer state: %d trailing bytes", r.Len())
	}
	return nil
}

func writeString(b *bytes.Buffer, s string) {
	binary.Write(b, binary.LittleEndian, uint16(len(s)))
	b.WriteString(s)
}

func readString(r *bytes.Reader) (string, error) {
	var n uint16
	if err := binary.Read(r, binary.LittleEndian, &n); err != nil || int(n) > r.Len() {
		return "", errors.New("truncated")
	}
	s := make([]byte, n)
	r.Read(s)
	return string(s), nil
}
