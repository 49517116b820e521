package model

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/floats"
)

// Optimizer updates parameters in place from a gradient. Its state (moments, step count) can be
// saved and restored exactly: an optimizer restored from MarshalBinary continues bit for bit as
// the original would have. Optimizers are not safe for concurrent use.
type Optimizer interface {
	// Step applies one update to params from grad (same length as params; it panics otherwise).
	Step(params, grad []float64)
	MarshalBinary() ([]byte, error)
	UnmarshalBinary([]byte) error
}

// OptimizerConfig chooses and tunes an optimizer. Zero Beta1, Beta2 and Epsilon take the defaults
// below; Momentum and Decay default to 0 (off).
//
//	sgd:      v ← μv + g;  θ ← θ − η·v                          (Momentum μ)
//	adam:     m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;
//	          θ ← θ − η·m̂/(√v̂ + ε),  m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ)   (Kingma & Ba 2015; β₁ 0.9, β₂ 0.999)
//	rmsprop:  s ← ρs + (1−ρ)g²;  u ← μu + g/(√s + ε);  θ ← θ − η·u  (Tieleman & Hinton 2012; ρ = Beta2, 0.9)
//
// Decay λ is L2 weight decay, added to the gradient before the update: g ← g + λθ. Epsilon
// defaults to 1e-8.
type OptimizerConfig struct {
	Name     string  `json:"name"` // "sgd" | "adam" | "rmsprop"
	LR       float64 `json:"lr"`
	Momentum float64 `json:"momentum,omitempty"`
	Beta1    float64 `json:"beta1,omitempty"`
	Beta2    float64 `json:"beta2,omitempty"`
	Epsilon  float64 `json:"epsilon,omitempty"`
	Decay    float64 `json:"decay,omitempty"`
}

// Optimizer names accepted in [OptimizerConfig.Name].
const (
	OptSGD     = "sgd"
	OptAdam    = "adam"
	OptRMSprop = "rmsprop"
)

// withDefaults fills the zero hyperparameters with the defaults of c.Name.
func (c OptimizerConfig) withDefaults() OptimizerConfig {
	if c.Beta1 == 0 {
		c.Beta1 = 0.9
	}
	if c.Beta2 == 0 {
		c.Beta2 = 0.999
		if c.Name == OptRMSprop {
			c.Beta2 = 0.9
		}
	}
	if c.Epsilon == 0 {
		c.Epsilon = 1e-8
	}
	return c
}

// Validate reports the first setting outside its range.
func (c OptimizerConfig) Validate() error {
	switch c.Name {
	case OptSGD, OptAdam, OptRMSprop:
	default:
		return fmt.Errorf("optimizer: unknown name %q (want sgd, adam or rmsprop)", c.Name)
	}
	check := func(name string, v, lo, hi float64, hiOpen bool) error {
		if !(v >= lo && (v < hi || !hiOpen && v <= hi)) {
			bracket := "]"
			if hiOpen {
				bracket = ")"
			}
			return fmt.Errorf("optimizer %s: %s %v out of range [%v, %v%s", c.Name, name, v, lo, hi, bracket)
		}
		return nil
	}
	if !(c.LR > 0 && c.LR <= math.MaxFloat64) {
		return fmt.Errorf("optimizer %s: learning rate %v must be positive and finite", c.Name, c.LR)
	}
	return errors.Join(
		check("momentum", c.Momentum, 0, 1, true),
		check("beta1", c.Beta1, 0, 1, true),
		check("beta2", c.Beta2, 0, 1, true),
		check("epsilon", c.Epsilon, 0, math.MaxFloat64, false),
		check("decay", c.Decay, 0, math.MaxFloat64, false),
	)
}

// NewOptimizer returns a fresh optimizer for numParams parameters.
func NewOptimizer(cfg OptimizerConfig, numParams int) (Optimizer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if numParams < 1 || numParams > MaxNumParams {
		return nil, fmt.Errorf("optimizer %s: %d parameters out of range [1, %d]", cfg.Name, numParams, MaxNumParams)
	}
	o := &optimizer{cfg: cfg.withDefaults()}
	switch cfg.Name {
	case OptSGD:
		if cfg.Momentum > 0 {
			o.u = make([]float64, numParams)
		}
	case OptAdam:
		o.m, o.v = make([]float64, numParams), make([]float64, numParams)
	case OptRMSprop:
		o.v = make([]float64, numParams)
		if cfg.Momentum > 0 {
			o.u = make([]float64, numParams)
		}
	}
	o.n = numParams
	return o, nil
}

// optimizer implements the three update rules; nil buffers are unused by its rule.
type optimizer struct {
	cfg     OptimizerConfig
	n       int
	t       uint64    // steps taken
	m, v, u []float64 // first moment, second moment, momentum buffer
	g       []float64 // the gradient plus weight decay, when there is decay
}

func (o *optimizer) Step(params, grad []float64) {
	if len(params) != o.n || len(grad) != o.n {
		panic(fmt.Sprintf("model: optimizer for %d parameters stepped with %d parameters and %d gradients", o.n, len(params), len(grad)))
	}
	o.t++
	c := o.cfg
	if c.Decay != 0 {
		// The gradient of the L2 penalty, added into a scratch copy so
		// that the caller's gradient is left as it was.
		o.g = append(o.g[:0], grad...)
		floats.AddScaled(o.g, c.Decay, params)
		grad = o.g
	}
	switch c.Name {
	case OptSGD:
		if o.u == nil {
			floats.AddScaled(params, -c.LR, grad)
			return
		}
		for i, g := range grad {
			u := c.Momentum*o.u[i] + g
			o.u[i] = u
			params[i] -= c.LR * u
		}
	case OptAdam:
		bc1 := 1 - math.Pow(c.Beta1, float64(o.t))
		bc2 := 1 - math.Pow(c.Beta2, float64(o.t))
		for i, g := range grad {
			m := c.Beta1*o.m[i] + (1-c.Beta1)*g
			v := c.Beta2*o.v[i] + (1-c.Beta2)*g*g
			o.m[i], o.v[i] = m, v
			params[i] -= c.LR * (m / bc1) / (math.Sqrt(v/bc2) + c.Epsilon)
		}
	case OptRMSprop:
		for i, g := range grad {
			v := c.Beta2*o.v[i] + (1-c.Beta2)*g*g
			o.v[i] = v
			g /= math.Sqrt(v) + c.Epsilon
			if o.u != nil {
				o.u[i] = c.Momentum*o.u[i] + g
				g = o.u[i]
			}
			params[i] -= c.LR * g
		}
	}
}

// Optimizer state format, little-endian:
//
//	"FCOS"  magic, 4 bytes
//	1       version, 1 byte
//	len(name) 1 byte, then name
//	n       parameters, uint64
//	t       steps taken, uint64
//	k       buffers, 1 byte, then k × n float64 (IEEE 754 bits): m, v, u in that order, those in use
const (
	optMagic   = "FCOS"
	optVersion = 1
)

func (o *optimizer) buffers() [][]float64 {
	var bs [][]float64
	for _, b := range [][]float64{o.m, o.v, o.u} {
		if b != nil {
			bs = append(bs, b)
		}
	}
	return bs
}

func (o *optimizer) MarshalBinary() ([]byte, error) {
	bs := o.buffers()
	out := make([]byte, 0, 4+1+1+len(o.cfg.Name)+8+8+1+8*o.n*len(bs))
	out = append(out, optMagic...)
	out = append(out, optVersion, byte(len(o.cfg.Name)))
	out = append(out, o.cfg.Name...)
	out = binary.LittleEndian.AppendUint64(out, uint64(o.n))
	out = binary.LittleEndian.AppendUint64(out, o.t)
	out = append(out, byte(len(bs)))
	for _, b := range bs {
		for _, v := range b {
			out = binary.LittleEndian.AppendUint64(out, math.Float64bits(v))
		}
	}
	return out, nil
}

// UnmarshalBinary restores state saved by MarshalBinary from an optimizer of the same name and
// number of parameters (and, for sgd and rmsprop, momentum on or off alike).
func (o *optimizer) UnmarshalBinary(b []byte) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("optimizer %s state: "+format, append([]any{o.cfg.Name}, args...)...)
	}
	if len(b) < 6 || string(b[:4]) != optMagic {
		return fail("not optimizer state (bad magic)")
	}
	if b[4] != optVersion {
		return fail("unsupported version %d (want %d)", b[4], optVersion)
	}
	nl := int(b[5])
	b = b[6:]
	if len(b) < nl+17 {
		return fail("truncated header")
	}
	if name := string(b[:nl]); name != o.cfg.Name {
		return fail("saved by optimizer %q", name)
	}
	b = b[nl:]
	n, t, k := binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:]), int(b[16])
	b = b[17:]
	bs := o.buffers()
	if n != uint64(o.n) {
		return fail("saved for %d parameters, optimizer has %d", n, o.n)
	}
	if k != len(bs) {
		return fail("has %d buffers, optimizer keeps %d (momentum setting differs?)", k, len(bs))
	}
	if uint64(len(b)) != uint64(k)*8*n {
		return fail("%d bytes of buffers, want %d", len(b), uint64(k)*8*n)
	}
	for _, buf := range bs {
		for i := range buf {
			buf[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
		}
		b = b[8*len(buf):]
	}
	o.t = t
	return nil
}
