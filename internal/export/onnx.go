package export

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/fedcrypt/fedcrypt/data"
)

// The ONNX versions written: IR version 7 (IR_VERSION_2020_5_8) with the
// default ai.onnx operator set 13, which every operator used here has had
// since, and which ONNX runtimes of 2021 onward load.
const (
	onnxIRVersion = 7
	onnxOpset     = 13
)

// Names of the ONNX graph's input and output.
const (
	InputName  = "features"
	OutputName = "probabilities"
)

// ONNX returns m as an ONNX model (a serialized ModelProto): see the package
// documentation for the graph. It fails, wrapping [ErrNotNumeric], for a
// model that is not a numeric classifier.
func ONNX(m Model) ([]byte, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	nf, nc := len(m.Schema.Features), len(m.Schema.Classes)
	tf := m.Transform
	var g pb
	g = g.str(graphName, "fedcrypt")
	// Preprocessing: x' = (clamp(where(isnan(x), fill, x), lo, hi) − shift) / scale,
	// the clamp by Max and Min against per-column bounds (±∞ where a
	// column is not clamped), present when the transform clamps.
	g = g.msg(graphNode, node("IsNaN", "missing", []string{InputName}, []string{"missing"}))
	g = g.msg(graphNode, node("Where", "impute", []string{"missing", "fill", InputName}, []string{"imputed"}))
	inits := []pb{
		doubleTensor("fill", []int{nf}, tf.Fill),
		doubleTensor("shift", []int{nf}, tf.Shift),
		doubleTensor("scale", []int{nf}, tf.Scale),
	}
	x := "imputed"
	if lo, hi, ok := clampBounds(tf); ok {
		g = g.msg(graphNode, node("Max", "clamp_low", []string{"imputed", "low"}, []string{"raised"}))
		g = g.msg(graphNode, node("Min", "clamp_high", []string{"raised", "high"}, []string{"clamped"}))
		inits = append(inits, doubleTensor("low", []int{nf}, lo), doubleTensor("high", []int{nf}, hi))
		x = "clamped"
	}
	g = g.msg(graphNode, node("Sub", "center", []string{x, "shift"}, []string{"centered"}))
	g = g.msg(graphNode, node("Div", "scale", []string{"centered", "scale"}, []string{"normalized"}))
	a := "normalized"
	layers := m.layers()
	for l, ly := range layers {
		w, b, z := fmt.Sprintf("W%d", l), fmt.Sprintf("b%d", l), fmt.Sprintf("z%d", l)
		inits = append(inits, doubleTensor(w, []int{ly.Inputs, ly.Outputs}, ly.Weights), doubleTensor(b, []int{ly.Outputs}, ly.Bias))
		g = g.msg(graphNode, node("Gemm", fmt.Sprintf("dense%d", l), []string{a, w, b}, []string{z}))
		if l < len(layers)-1 {
			h := fmt.Sprintf("h%d", l)
			g = g.msg(graphNode, node(onnxActivation[ly.Activation], fmt.Sprintf("act%d", l), []string{z}, []string{h}))
			a = h
			continue
		}
		if ly.Activation == outSoftmax {
			g = g.msg(graphNode, node("Softmax", "softmax", []string{z}, []string{OutputName}, intAttr{"axis", 1}))
			break
		}
		// Binary: columns p(Classes[0]) = 1 − σ(z), p(Classes[1]) = σ(z).
		inits = append(inits, doubleTensor("one", nil, []float64{1}))
		g = g.msg(graphNode, node("Sigmoid", "sigmoid", []string{z}, []string{"p1"}))
		g = g.msg(graphNode, node("Sub", "complement", []string{"one", "p1"}, []string{"p0"}))
		g = g.msg(graphNode, node("Concat", "columns", []string{"p0", "p1"}, []string{OutputName}, intAttr{"axis", 1}))
	}
	for _, t := range inits {
		g = g.msg(graphInitializer, t)
	}
	g = g.str(graphDocString, "fedcrypt model: raw feature values in, class probabilities out; "+
		"the federation's imputation, clamping and normalization are the nodes before the first Gemm")
	g = g.msg(graphInput, doubleValue(InputName,
		"raw feature values, one row per patient, columns in the order of metadata 'features'; NaN = missing", "N", nf))
	g = g.msg(graphOutput, doubleValue(OutputName,
		"class probabilities, columns in the order of metadata 'classes'", "N", nc))

	var out pb
	out = out.varint(modelIRVersion, onnxIRVersion)
	out = out.str(modelProducerName, "fedcrypt")
	if m.Producer != "" {
		out = out.str(modelProducerVers, m.Producer)
	}
	out = out.str(modelDomain, "org.fedcrypt")
	out = out.str(modelDocString, "Exported by fedcrypt model export. Plaintext: the weights and the "+
		"per-column statistics of the training rows are readable by anyone holding this file.")
	out = out.msg(modelGraph, g)
	out = out.msg(modelOpsetImport, pb(nil).str(opsetDomain, "").varint(opsetVersion, onnxOpset))
	meta, err := m.metadata()
	if err != nil {
		return nil, err
	}
	for _, kv := range meta {
		out = out.msg(modelMetadataProps, entry(kv[0], kv[1]))
	}
	return out, nil
}

// clampBounds returns the per-column bounds of tf's clamp, −∞ and +∞
// for a column it does not clamp, and whether it clamps any.
func clampBounds(tf *data.Transform) (lo, hi []float64, ok bool) {
	if tf.Clamp == nil {
		return nil, nil, false
	}
	lo, hi = make([]float64, len(tf.Clamp)), make([]float64, len(tf.Clamp))
	for j, c := range tf.Clamp {
		lo[j], hi[j] = math.Inf(-1), math.Inf(1)
		if c != nil {
			lo[j], hi[j], ok = c[0], c[1], true
		}
	}
	return lo, hi, ok
}

// onnxActivation maps hidden activations to ONNX operators.
var onnxActivation = map[string]string{"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh"}

// metadata returns the ONNX model's metadata_props, in a fixed order; lists
// are JSON arrays of strings.
func (m Model) metadata() ([][2]string, error) {
	features, err := json.Marshal(m.Schema.Features)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	classes, err := json.Marshal(m.Schema.Classes)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	meta := [][2]string{
		{"features", string(features)},
		{"label", m.Schema.Label},
		{"classes", string(classes)},
	}
	if p := m.positive(); p != "" {
		meta = append(meta, [2]string{"positive_class", p})
	}
	if m.Federation != "" {
		meta = append(meta, [2]string{"federation", m.Federation})
	}
	return append(meta,
		[2]string{"model_digest", Digest(m.Network)},
		[2]string{"missing", "NaN"},
		[2]string{"impute", m.Transform.Impute},
		[2]string{"normalize", m.Transform.Normalize},
	), nil
}
