package model

import (
	"fmt"
	"strconv"
	"strings"
)

// Kinds of network accepted in [Config.Kind].
const (
	KindLogReg  = "logreg"  // binary logistic regression: one sigmoid output
	KindSoftmax = "softmax" // multinomial (softmax) regression
	KindMLP     = "mlp"     // multilayer perceptron with hidden layers
)

// Losses accepted in [Config.Loss].
const (
	LossBCE       = "bce"        // binary cross-entropy on a sigmoid output, from the logit
	LossSoftmaxCE = "softmax-ce" // softmax cross-entropy, from the logits
	LossMSE       = "mse"        // mean squared error on raw outputs
)

// Hidden-layer activations accepted in [Config.Activation].
const (
	ActReLU    = "relu"
	ActSigmoid = "sigmoid"
	ActTanh    = "tanh"
)

// Limits on architectures. They keep a decoded weight file or a mistyped spec from asking for an
// absurd allocation.
const (
	MaxWidth     = 1 << 24 // largest Inputs, Outputs or hidden width
	MaxLayers    = 64      // most hidden layers
	MaxNumParams = 1 << 28 // most parameters in one model
)

// Config is a network architecture. It is a plain JSON-serializable value; [Config.Validate]
// says whether it describes a model [New] can build.
//
// Outputs is 1 for a binary classifier (a sigmoid output trained with BCE), K ≥ 2 for K classes
// (softmax output trained with softmax cross-entropy), and the number of regression targets for
// MSE.
type Config struct {
	Kind       string `json:"kind"`                 // "logreg" | "softmax" | "mlp"
	Inputs     int    `json:"inputs"`               // features per row
	Outputs    int    `json:"outputs"`              // 1 = binary; K ≥ 2 = classes; MSE: targets
	Hidden     []int  `json:"hidden,omitempty"`     // hidden widths, mlp only
	Activation string `json:"activation,omitempty"` // "relu" | "sigmoid" | "tanh", mlp only (default relu)
	Loss       string `json:"loss"`                 // "bce" | "softmax-ce" | "mse"
}

// Validate reports whether c describes a buildable model, naming the first field that does not.
func (c Config) Validate() error {
	if c.Inputs < 1 || c.Inputs > MaxWidth {
		return fmt.Errorf("model config: inputs %d out of range [1, %d]", c.Inputs, MaxWidth)
	}
	if c.Outputs < 1 || c.Outputs > MaxWidth {
		return fmt.Errorf("model config: outputs %d out of range [1, %d]", c.Outputs, MaxWidth)
	}
	switch c.Loss {
	case LossBCE:
		if c.Outputs != 1 {
			return fmt.Errorf("model config: loss %q needs outputs 1, have %d", c.Loss, c.Outputs)
		}
	case LossSoftmaxCE:
		if c.Outputs < 2 {
			return fmt.Errorf("model config: loss %q needs outputs ≥ 2, have %d", c.Loss, c.Outputs)
		}
	case LossMSE:
	default:
		return fmt.Errorf("model config: unknown loss %q (want bce, softmax-ce or mse)", c.Loss)
	}
	switch c.Kind {
	case KindLogReg:
		if c.Loss != LossBCE {
			return fmt.Errorf("model config: kind logreg needs loss bce, have %q", c.Loss)
		}
	case KindSoftmax:
		if c.Loss != LossSoftmaxCE {
			return fmt.Errorf("model config: kind softmax needs loss softmax-ce, have %q", c.Loss)
		}
	case KindMLP:
		if len(c.Hidden) == 0 {
			return fmt.Errorf("model config: kind mlp needs at least one hidden layer")
		}
		if len(c.Hidden) > MaxLayers {
			return fmt.Errorf("model config: %d hidden layers, at most %d", len(c.Hidden), MaxLayers)
		}
		for i, h := range c.Hidden {
			if h < 1 || h > MaxWidth {
				return fmt.Errorf("model config: hidden layer %d width %d out of range [1, %d]", i, h, MaxWidth)
			}
		}
		switch c.Activation {
		case "", ActReLU, ActSigmoid, ActTanh:
		default:
			return fmt.Errorf("model config: unknown activation %q (want relu, sigmoid or tanh)", c.Activation)
		}
	default:
		return fmt.Errorf("model config: unknown kind %q (want logreg, softmax or mlp)", c.Kind)
	}
	if c.Kind != KindMLP {
		if len(c.Hidden) != 0 {
			return fmt.Errorf("model config: kind %s takes no hidden layers", c.Kind)
		}
		if c.Activation != "" {
			return fmt.Errorf("model config: kind %s takes no activation", c.Kind)
		}
	}
	if n := c.numParams(); n > MaxNumParams {
		return fmt.Errorf("model config: %d parameters, at most %d", n, MaxNumParams)
	}
	return nil
}

// widths returns the layer widths from input to output: Inputs, Hidden..., Outputs.
func (c Config) widths() []int {
	w := make([]int, 0, len(c.Hidden)+2)
	w = append(w, c.Inputs)
	w = append(w, c.Hidden...)
	return append(w, c.Outputs)
}

// NumParams returns the number of parameters (weights and biases) of a model of c, without
// building it: [Model.NumParams] of [New]'s model. Past MaxNumParams it saturates at
// MaxNumParams+1 (Validate then fails).
func (c Config) NumParams() int { return c.numParams() }

// numParams counts weights and biases; it saturates rather than overflows for huge widths.
func (c Config) numParams() int {
	w := c.widths()
	n := 0
	for l := 0; l+1 < len(w); l++ {
		n += (w[l] + 1) * w[l+1] // each width ≤ MaxWidth, so one layer fits in int
		if n > MaxNumParams {
			return MaxNumParams + 1
		}
	}
	return n
}

// activation returns the hidden activation with the default applied.
func (c Config) activation() string {
	if c.Activation == "" {
		return ActReLU
	}
	return c.Activation
}

// ParseSpec turns a command-line model spec into a Config for inputs features and classes label
// classes. Specs:
//
//	logreg               logistic regression (softmax regression when classes > 2)
//	softmax              softmax regression (also for 2 classes, with 2 outputs)
//	mlp:H1[,H2...]       MLP with ReLU hidden layers of widths H1, H2, ...
//	mlp:H1[,H2...]:ACT   the same with ACT = relu, sigmoid or tanh
//
// With 2 classes the output is one sigmoid unit trained with BCE; with K > 2 it is K softmax
// units trained with softmax cross-entropy.
func ParseSpec(spec string, inputs, classes int) (Config, error) {
	if classes < 2 {
		return Config{}, fmt.Errorf("model spec %q: need at least 2 classes, have %d", spec, classes)
	}
	out, loss := 1, LossBCE
	if classes > 2 {
		out, loss = classes, LossSoftmaxCE
	}
	var c Config
	name, rest, hasRest := strings.Cut(spec, ":")
	switch name {
	case KindLogReg:
		c = Config{Kind: KindLogReg, Inputs: inputs, Outputs: out, Loss: loss}
		if classes > 2 {
			c.Kind = KindSoftmax
		}
	case KindSoftmax:
		c = Config{Kind: KindSoftmax, Inputs: inputs, Outputs: classes, Loss: LossSoftmaxCE}
	case KindMLP:
		if !hasRest || rest == "" {
			return Config{}, fmt.Errorf("model spec %q: want mlp:H1[,H2...][:relu|sigmoid|tanh]", spec)
		}
		widths, act, _ := strings.Cut(rest, ":")
		c = Config{Kind: KindMLP, Inputs: inputs, Outputs: out, Loss: loss, Activation: act}
		for f := range strings.SplitSeq(widths, ",") {
			h, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || h < 1 {
				return Config{}, fmt.Errorf("model spec %q: hidden width %q is not a positive integer", spec, f)
			}
			c.Hidden = append(c.Hidden, h)
		}
		hasRest = false
	default:
		return Config{}, fmt.Errorf("model spec %q: unknown model (want logreg, softmax or mlp:H1,H2)", spec)
	}
	if hasRest {
		return Config{}, fmt.Errorf("model spec %q: %s takes no options", spec, name)
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("model spec %q: %w", spec, err)
	}
	return c, nil
}
