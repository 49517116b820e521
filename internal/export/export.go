package export

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/model"
)

// Model is what an export writes out: a trained numeric classifier with the
// schema naming its input columns and the preprocessing fitted on its
// training rows: what a sealed model holds (internal/sealedmodel), plus
// where it came from. The functions of this package read a Model and never
// change it.
type Model struct {
	Network   *model.Model
	Schema    data.Schema
	Transform *data.Transform
	// Federation names the federation that trained the model; "" when
	// unknown. It is metadata only.
	Federation string
	// Producer is the software version recorded in the ONNX file
	// (producer_version); "" leaves it out.
	Producer string
}

// ErrNotNumeric is returned (wrapped) by [ONNX] and [JSON] for a model that
// does not score rows of numeric features into class probabilities: a
// regression model, or one whose schema does not match its network.
var ErrNotNumeric = errors.New("not a numeric classifier")

// check reports the first reason m cannot be exported, wrapping
// [ErrNotNumeric] where the model is of a kind this package does not cover.
func (m Model) check() error {
	if m.Network == nil {
		return errors.New("export: no network")
	}
	if m.Transform == nil {
		return errors.New("export: no transform")
	}
	if err := m.Schema.Validate(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if err := m.Transform.Validate(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	// The formats describe fill, clamp, shift and scale: a schema with
	// missing-value codes would score raw rows differently from fedcrypt
	// predict.
	for name := range m.Schema.MissingValues {
		return fmt.Errorf("export: feature %q has declared missing-value codes, which the export formats do not describe yet", name)
	}
	cfg := m.Network.Config()
	nf, nc := len(m.Schema.Features), len(m.Schema.Classes)
	switch {
	case cfg.Loss == model.LossMSE:
		return fmt.Errorf("export: a regression model (loss %s): %w", cfg.Loss, ErrNotNumeric)
	case cfg.Inputs != nf || m.Transform.Columns() != nf:
		return fmt.Errorf("export: network takes %d inputs and transform %d columns, schema has %d features: %w",
			cfg.Inputs, m.Transform.Columns(), nf, ErrNotNumeric)
	case !(cfg.Outputs == 1 && nc == 2) && cfg.Outputs != nc:
		return fmt.Errorf("export: network has %d outputs for %d classes: %w", cfg.Outputs, nc, ErrNotNumeric)
	}
	for i, v := range m.Network.Params() {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("export: parameter %d is %v", i, v)
		}
	}
	return nil
}

// Output activations of the last layer.
const (
	outSigmoid = "sigmoid" // one logit; p(Classes[1]) = σ(z), p(Classes[0]) = 1 − σ(z)
	outSoftmax = "softmax" // one logit per class
)

// Layer is one dense layer, z = a·W + b, then its activation.
type Layer struct {
	Inputs     int    `json:"inputs"`
	Outputs    int    `json:"outputs"`
	Activation string `json:"activation"` // relu, sigmoid or tanh; the last layer: sigmoid or softmax
	// Weights holds W row-major, Inputs × Outputs: the weight from input i
	// to output j is Weights[i*Outputs+j].
	Weights []float64 `json:"weights"`
	Bias    []float64 `json:"bias"` // Outputs values
}

// layers returns the network's layers as copies of its parameters, in the
// layout of the model package: layer by layer, W (In×Out, row-major) then b.
func (m Model) layers() []Layer {
	cfg := m.Network.Config()
	widths := append(append([]int{cfg.Inputs}, cfg.Hidden...), cfg.Outputs)
	hidden := cfg.Activation
	if hidden == "" {
		hidden = model.ActReLU
	}
	params := m.Network.Params()
	out := make([]Layer, 0, len(widths)-1)
	off := 0
	for l := 0; l+1 < len(widths); l++ {
		in, o := widths[l], widths[l+1]
		act := hidden
		if l == len(widths)-2 {
			act = outSoftmax
			if cfg.Outputs == 1 {
				act = outSigmoid
			}
		}
		out = append(out, Layer{Inputs: in, Outputs: o, Activation: act,
			Weights: slices.Clone(params[off : off+in*o]), Bias: slices.Clone(params[off+in*o : off+(in+1)*o])})
		off += (in + 1) * o
	}
	if off != len(params) {
		panic(fmt.Sprintf("export: %d parameters, layers use %d", len(params), off))
	}
	return out
}

// positive returns the positive class of a binary model with one output,
// or "".
func (m Model) positive() string {
	if m.Network.Config().Outputs == 1 {
		return m.Schema.Classes[1]
	}
	return ""
}

// Digest returns the hex SHA-256 of the network's parameters as
// little-endian float64 values, in the model package's layout: the digest
// the aggregator records in the audit log for each round's global model, so
// that an export can be matched to the run that produced it.
func Digest(net *model.Model) string {
	p := net.Params()
	b := make([]byte, 0, 8*len(p))
	for _, v := range p {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
	}
	d := sha256.Sum256(b)
	return hex.EncodeToString(d[:])
}
