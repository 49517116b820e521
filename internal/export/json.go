package export

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"
)

// JSONFormat is the value of a JSON export's "format" field. A reader
// refuses any other: a later layout gets a new version.
const JSONFormat = "fedcrypt-export/v1"

// File is a JSON export: see the package documentation for its layout and
// how to score a row with it. [DecodeJSON] returns only consistent Files,
// and a File is safe for concurrent use once decoded.
type File struct {
	Format        string     `json:"format"`
	Federation    string     `json:"federation,omitempty"`
	ModelDigest   string     `json:"model_digest"`
	Features      []string   `json:"features"`
	Label         string     `json:"label"`
	Classes       []string   `json:"classes"`
	PositiveClass string     `json:"positive_class,omitempty"`
	Missing       string     `json:"missing"`
	Transform     Preprocess `json:"transform"`
	Layers        []Layer    `json:"layers"`
}

// Preprocess is the imputation, clamping and normalization of a JSON
// export: column j's value x, or Fill[j] where x is missing, is clamped to
// Clamp[j] = [lo, hi] when that is not null, and becomes (x − Shift[j]) /
// Scale[j]. Impute and Normalize name how the constants were computed;
// they are informative, the constants are what applies.
type Preprocess struct {
	Impute    string    `json:"impute"`
	Normalize string    `json:"normalize"`
	Fill      []float64 `json:"fill"`
	// Clamp is absent when no column is clamped, else one entry per
	// column: null, or its bounds.
	Clamp []*[2]float64 `json:"clamp,omitempty"`
	Shift []float64     `json:"shift"`
	Scale []float64     `json:"scale"`
}

// missingNote is the "missing" field: how a missing cell is given.
const missingNote = "a missing cell is NaN (or null in JSON); it is replaced by transform.fill"

// JSON returns m as a JSON export (indented, one trailing newline). It fails,
// wrapping [ErrNotNumeric], for a model that is not a numeric classifier.
func JSON(m Model) ([]byte, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	tf := m.Transform
	f := File{
		Format:        JSONFormat,
		Federation:    m.Federation,
		ModelDigest:   Digest(m.Network),
		Features:      slices.Clone(m.Schema.Features),
		Label:         m.Schema.Label,
		Classes:       slices.Clone(m.Schema.Classes),
		PositiveClass: m.positive(),
		Missing:       missingNote,
		Transform: Preprocess{Impute: tf.Impute, Normalize: tf.Normalize,
			Fill: slices.Clone(tf.Fill), Shift: slices.Clone(tf.Shift), Scale: slices.Clone(tf.Scale)},
		Layers: m.layers(),
	}
	if _, _, ok := clampBounds(tf); ok {
		for _, c := range tf.Clamp {
			var b *[2]float64
			if c != nil {
				b = &[2]float64{c[0], c[1]}
			}
			f.Transform.Clamp = append(f.Transform.Clamp, b)
		}
	}
	if err := f.validate(); err != nil {
		panic("export: " + err.Error()) // m.check accepted what validate refuses
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return append(b, '\n'), nil
}

// DecodeJSON decodes a JSON export and checks it: the format, no unknown
// fields or trailing data, and that columns, transform, layers and classes
// agree in shape, with finite constants and positive scales.
func DecodeJSON(b []byte) (*File, error) {
	var f File
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("json export: %w", err)
	}
	if dec.Decode(new(json.RawMessage)) != io.EOF {
		return nil, errors.New("json export: trailing data after the JSON object")
	}
	if err := f.validate(); err != nil {
		return nil, fmt.Errorf("json export: %w", err)
	}
	return &f, nil
}

// maxLayers bounds the layers of a decoded file (the model package allows
// 64 hidden layers, plus the output layer).
const maxLayers = 65

// validate reports the first inconsistency in f.
func (f *File) validate() error {
	if f.Format != JSONFormat {
		return fmt.Errorf("format %q, want %q", f.Format, JSONFormat)
	}
	nf, nc := len(f.Features), len(f.Classes)
	if nf == 0 {
		return errors.New("no features")
	}
	if nc < 2 {
		return fmt.Errorf("%d classes, need at least 2", nc)
	}
	for name, list := range map[string][]string{"feature": f.Features, "class": f.Classes} {
		for i, s := range list {
			if s == "" || slices.Index(list, s) != i {
				return fmt.Errorf("%s %d is empty or repeated", name, i)
			}
		}
	}
	t := f.Transform
	if len(t.Fill) != nf || len(t.Shift) != nf || len(t.Scale) != nf {
		return fmt.Errorf("transform has %d fill, %d shift and %d scale values for %d features", len(t.Fill), len(t.Shift), len(t.Scale), nf)
	}
	for j := range nf {
		if !finite(t.Fill[j]) || !finite(t.Shift[j]) || !finite(t.Scale[j]) || !(t.Scale[j] > 0) {
			return fmt.Errorf("transform, column %d: fill, shift and scale must be finite and scale > 0", j)
		}
	}
	if t.Clamp != nil && len(t.Clamp) != nf {
		return fmt.Errorf("transform has %d clamp entries for %d features", len(t.Clamp), nf)
	}
	for j, c := range t.Clamp {
		if c != nil && !(finite(c[0]) && finite(c[1]) && c[0] <= c[1]) {
			return fmt.Errorf("transform, column %d: clamp [%v, %v]: want finite lo ≤ hi", j, c[0], c[1])
		}
	}
	if len(f.Layers) == 0 || len(f.Layers) > maxLayers {
		return fmt.Errorf("%d layers, want 1 to %d", len(f.Layers), maxLayers)
	}
	in := nf
	for l, ly := range f.Layers {
		last := l == len(f.Layers)-1
		switch {
		case ly.Inputs != in:
			return fmt.Errorf("layer %d takes %d inputs, the previous layer gives %d", l, ly.Inputs, in)
		case ly.Outputs < 1 || len(ly.Bias) != ly.Outputs:
			return fmt.Errorf("layer %d: %d outputs, %d biases", l, ly.Outputs, len(ly.Bias))
		case len(ly.Weights)/ly.Inputs != ly.Outputs || len(ly.Weights)%ly.Inputs != 0:
			return fmt.Errorf("layer %d: %d weights for %d×%d", l, len(ly.Weights), ly.Inputs, ly.Outputs)
		}
		for _, v := range ly.Weights {
			if !finite(v) {
				return fmt.Errorf("layer %d: a weight is not finite", l)
			}
		}
		for _, v := range ly.Bias {
			if !finite(v) {
				return fmt.Errorf("layer %d: a bias is not finite", l)
			}
		}
		switch {
		case !last && ly.Activation != "relu" && ly.Activation != "sigmoid" && ly.Activation != "tanh":
			return fmt.Errorf("layer %d: activation %q, want relu, sigmoid or tanh", l, ly.Activation)
		case last && ly.Activation == outSigmoid && (ly.Outputs != 1 || nc != 2):
			return fmt.Errorf("output layer: sigmoid needs 1 output and 2 classes, have %d and %d", ly.Outputs, nc)
		case last && ly.Activation == outSoftmax && ly.Outputs != nc:
			return fmt.Errorf("output layer: softmax with %d outputs for %d classes", ly.Outputs, nc)
		case last && ly.Activation != outSigmoid && ly.Activation != outSoftmax:
			return fmt.Errorf("output layer: activation %q, want sigmoid or softmax", ly.Activation)
		}
		in = ly.Outputs
	}
	if pc := f.PositiveClass; pc != "" && (nc != 2 || pc != f.Classes[1]) {
		return fmt.Errorf("positive class %q is not the second of 2 classes", pc)
	}
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// Predict returns the class probabilities (rows × classes, in the order of
// f.Classes) of the raw rows x, whose columns are f.Features in order and
// whose missing cells are NaN. It is the reference for the formulas in the
// package documentation, written as plain loops. It fails on an infinite
// cell or a column count that is not the file's.
func (f *File) Predict(x *mat.Dense) (*mat.Dense, error) {
	r, c := x.Dims()
	if c != len(f.Features) {
		return nil, fmt.Errorf("json export: %d columns, the model takes %d features", c, len(f.Features))
	}
	out := mat.NewDense(r, len(f.Classes), nil)
	t := f.Transform
	for i := range r {
		a := make([]float64, c)
		for j, v := range x.RawRowView(i) {
			if math.IsInf(v, 0) {
				return nil, fmt.Errorf("json export: row %d, column %d: infinite value", i, j)
			}
			if math.IsNaN(v) {
				v = t.Fill[j]
			}
			if t.Clamp != nil && t.Clamp[j] != nil {
				v = min(max(v, t.Clamp[j][0]), t.Clamp[j][1])
			}
			a[j] = (v - t.Shift[j]) / t.Scale[j]
		}
		for _, ly := range f.Layers {
			z := slices.Clone(ly.Bias)
			for k, av := range a {
				for j := range z {
					z[j] += av * ly.Weights[k*ly.Outputs+j]
				}
			}
			activate(ly.Activation, z)
			a = z
		}
		row := out.RawRowView(i)
		if len(a) == 1 {
			row[0], row[1] = 1-a[0], a[0]
		} else {
			copy(row, a)
		}
	}
	return out, nil
}

// activate applies a layer's activation to z in place.
func activate(name string, z []float64) {
	switch name {
	case "relu":
		for j, v := range z {
			z[j] = max(v, 0)
		}
	case "sigmoid":
		for j, v := range z {
			z[j] = 1 / (1 + math.Exp(-v))
		}
	case "tanh":
		for j, v := range z {
			z[j] = math.Tanh(v)
		}
	case outSoftmax:
		mx := slices.Max(z)
		var sum float64
		for j, v := range z {
			z[j] = math.Exp(v - mx)
			sum += z[j]
		}
		for j := range z {
			z[j] /= sum
		}
	default:
		panic("export: unknown activation " + name) // validate refuses it
	}
}
