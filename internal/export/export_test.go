package export

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/fedcrypt/fedcrypt/model"
	"google.golang.org/protobuf/encoding/protowire"
)

// TestJSONReproducesPredict: a JSON export read back scores raw rows with
// missing cells as fedcrypt does, and names what it was exported from.
func TestJSONReproducesPredict(t *testing.T) {
	for _, tc := range []struct{ set, spec string }{
		{"wdbc", "logreg"}, {"wdbc", "mlp:16"}, {"wdbc", "mlp:6,5:sigmoid"}, {"digits", "mlp:8:tanh"}, {"digits", "softmax"},
	} {
		t.Run(tc.set+" "+tc.spec, func(t *testing.T) {
			tm := train(t, tc.set, tc.spec, 80)
			b, err := JSON(tm.m)
			if err != nil {
				t.Fatal(err)
			}
			f, err := DecodeJSON(b)
			if err != nil {
				t.Fatal(err)
			}
			got, err := f.Predict(tm.raw)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(got, reference(t, tm.m, tm.raw)); !(d <= 1e-12) {
				t.Fatalf("JSON export scores differ from fedcrypt's by %g", d)
			}
			sc := tm.m.Schema
			binary := tm.m.Network.Config().Outputs == 1
			switch {
			case !slices.Equal(f.Features, sc.Features) || f.Label != sc.Label || !slices.Equal(f.Classes, sc.Classes):
				t.Errorf("schema not carried over: %v %q %v", f.Features, f.Label, f.Classes)
			case binary && f.PositiveClass != sc.Classes[1], !binary && f.PositiveClass != "":
				t.Errorf("positive class %q for classes %v", f.PositiveClass, sc.Classes)
			case f.ModelDigest != Digest(tm.m.Network) || len(f.ModelDigest) != 64:
				t.Errorf("model digest %q", f.ModelDigest)
			case f.Federation != "test federation":
				t.Errorf("federation %q", f.Federation)
			}
		})
	}
}

// TestDigest is the aggregator's digest of the global model (SHA-256 of the
// parameters as little-endian float64s), checked against a value computed
// by hand for two parameters.
func TestDigest(t *testing.T) {
	cfg := model.Config{Kind: model.KindLogReg, Inputs: 1, Outputs: 1, Loss: model.LossBCE}
	net, err := model.New(cfg, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	copy(net.Params(), []float64{1, -2})
	// printf '\x00\x00\x00\x00\x00\x00\xf0\x3f\x00\x00\x00\x00\x00\x00\x00\xc0' | sha256sum
	const want = "7886fe67ba4484d889aa8ec41f0b242f914fbf6bae1be2ed23f56a007e3547b0"
	if got := Digest(net); got != want {
		t.Fatalf("digest %s, want %s", got, want)
	}
}

func TestExportRefuses(t *testing.T) {
	tm := train(t, "wdbc", "logreg", 1)
	mse, err := model.New(model.Config{Kind: model.KindMLP, Inputs: 30, Outputs: 2, Hidden: []int{3}, Loss: model.LossMSE},
		rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	wide := tm.m.Schema
	wide.Features = append(slices.Clone(wide.Features), "extra")
	three := tm.m.Schema
	three.Classes = []string{"B", "M", "X"}
	coded := tm.m.Schema
	coded.MissingValues = map[string][]float64{coded.Features[0]: {0}}
	for _, tc := range []struct {
		name       string
		m          Model
		notNumeric bool
	}{
		{"regression", Model{Network: mse, Schema: tm.m.Schema, Transform: tm.m.Transform}, true},
		{"features", Model{Network: tm.m.Network, Schema: wide, Transform: tm.m.Transform}, true},
		{"classes", Model{Network: tm.m.Network, Schema: three, Transform: tm.m.Transform}, true},
		{"no transform", Model{Network: tm.m.Network, Schema: tm.m.Schema}, false},
		{"missing-value codes", Model{Network: tm.m.Network, Schema: coded, Transform: tm.m.Transform}, false},
		{"no network", Model{Schema: tm.m.Schema, Transform: tm.m.Transform}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for name, f := range map[string]func(Model) ([]byte, error){"onnx": ONNX, "json": JSON} {
				_, err := f(tc.m)
				if err == nil {
					t.Fatalf("%s: exported", name)
				}
				if errors.Is(err, ErrNotNumeric) != tc.notNumeric {
					t.Errorf("%s: %v: ErrNotNumeric %v, want %v", name, err, !tc.notNumeric, tc.notNumeric)
				}
			}
		})
	}
}

// TestDecodeJSONRejects: every inconsistency of a JSON export is refused
// with an error naming it.
func TestDecodeJSONRejects(t *testing.T) {
	tm := train(t, "wdbc", "mlp:4", 1)
	good, err := JSON(tm.m)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(*File)) []byte {
		var v File
		if err := json.Unmarshal(good, &v); err != nil {
			t.Fatal(err)
		}
		f(&v)
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name, frag string
		b          []byte
	}{
		{"format", "format", edit(func(f *File) { f.Format = "fedcrypt-export/v2" })},
		{"unknown field", "unknown field", []byte(strings.Replace(string(good), `"format"`, `"extra": 1, "format"`, 1))},
		{"trailing data", "trailing", append(append([]byte{}, good...), "{}"...)},
		{"repeated feature", "feature 1", edit(func(f *File) { f.Features[1] = f.Features[0] })},
		{"one class", "classes", edit(func(f *File) { f.Classes = f.Classes[:1] })},
		{"short fill", "fill", edit(func(f *File) { f.Transform.Fill = f.Transform.Fill[1:] })},
		{"zero scale", "scale > 0", edit(func(f *File) { f.Transform.Scale[3] = 0 })},
		{"layer inputs", "inputs", edit(func(f *File) { f.Layers[1].Inputs++ })},
		{"weights", "weights", edit(func(f *File) { f.Layers[0].Weights = f.Layers[0].Weights[1:] })},
		{"bias", "biases", edit(func(f *File) { f.Layers[1].Bias = append(f.Layers[1].Bias, 0) })},
		{"hidden activation", "activation", edit(func(f *File) { f.Layers[0].Activation = "softmax" })},
		{"output activation", "output layer", edit(func(f *File) { f.Layers[1].Activation = "relu" })},
		{"positive class", "positive class", edit(func(f *File) { f.PositiveClass = f.Classes[0] })},
		{"no layers", "layers", edit(func(f *File) { f.Layers = nil })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeJSON(tc.b)
			if err == nil || !strings.Contains(err.Error(), tc.frag) || !strings.HasPrefix(err.Error(), "json export: ") {
				t.Fatalf("error %v, want one naming %q", err, tc.frag)
			}
		})
	}
}

// pbFields decodes one protobuf message into its fields: varints as
// uint64, length-delimited fields as []byte. It fails on anything else,
// which this package never writes.
func pbFields(t *testing.T, b []byte) map[protowire.Number][]any {
	t.Helper()
	out := map[protowire.Number][]any{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("bad tag: %v", protowire.ParseError(n))
		}
		b = b[n:]
		switch typ {
		case protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				t.Fatal(protowire.ParseError(n))
			}
			out[num], b = append(out[num], v), b[n:]
		case protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				t.Fatal(protowire.ParseError(n))
			}
			out[num], b = append(out[num], v), b[n:]
		default:
			t.Fatalf("field %d: wire type %d", num, typ)
		}
	}
	return out
}

func pbStrings(v []any) []string {
	var s []string
	for _, x := range v {
		s = append(s, string(x.([]byte)))
	}
	return s
}

// TestONNXLayout reads the ONNX file back by onnx.proto's field numbers:
// the IR version and opset, the input and output types, the operators in
// order (preprocessing first) and the metadata.
func TestONNXLayout(t *testing.T) {
	for _, tc := range []struct {
		set, spec string
		ops       []string
		classes   int
	}{
		{"wdbc", "logreg", []string{"IsNaN", "Where", "Max", "Min", "Sub", "Div", "Gemm", "Sigmoid", "Sub", "Concat"}, 2},
		{"wdbc", "mlp:3,2:tanh", []string{"IsNaN", "Where", "Max", "Min", "Sub", "Div", "Gemm", "Tanh", "Gemm", "Tanh", "Gemm", "Sigmoid", "Sub", "Concat"}, 2},
		{"digits", "mlp:3", []string{"IsNaN", "Where", "Max", "Min", "Sub", "Div", "Gemm", "Relu", "Gemm", "Softmax"}, 10},
	} {
		t.Run(tc.set+" "+tc.spec, func(t *testing.T) {
			tm := train(t, tc.set, tc.spec, 1)
			tm.m.Producer = "9.9.9"
			b, err := ONNX(tm.m)
			if err != nil {
				t.Fatal(err)
			}
			m := pbFields(t, b)
			if got := m[modelIRVersion]; len(got) != 1 || got[0].(uint64) != onnxIRVersion {
				t.Errorf("ir_version %v", got)
			}
			if got := pbStrings(m[modelProducerVers]); !slices.Equal(got, []string{"9.9.9"}) {
				t.Errorf("producer_version %v", got)
			}
			opset := pbFields(t, m[modelOpsetImport][0].([]byte))
			if string(opset[opsetDomain][0].([]byte)) != "" || opset[opsetVersion][0].(uint64) != onnxOpset {
				t.Errorf("opset_import %v", opset)
			}
			meta := map[string]string{}
			for _, e := range m[modelMetadataProps] {
				kv := pbFields(t, e.([]byte))
				meta[string(kv[entryKey][0].([]byte))] = string(kv[entryValue][0].([]byte))
			}
			features, _ := json.Marshal(tm.m.Schema.Features)
			classes, _ := json.Marshal(tm.m.Schema.Classes)
			for k, want := range map[string]string{"features": string(features), "classes": string(classes),
				"label": tm.m.Schema.Label, "federation": "test federation", "model_digest": Digest(tm.m.Network)} {
				if meta[k] != want {
					t.Errorf("metadata %s = %q, want %q", k, meta[k], want)
				}
			}
			if pc, ok := meta["positive_class"]; (tc.classes == 2) != ok || ok && pc != tm.m.Schema.Classes[1] {
				t.Errorf("metadata positive_class %q (present %v)", pc, ok)
			}

			g := pbFields(t, m[modelGraph][0].([]byte))
			var ops []string
			for _, n := range g[graphNode] {
				ops = append(ops, pbStrings(pbFields(t, n.([]byte))[nodeOpType])...)
			}
			if !slices.Equal(ops, tc.ops) {
				t.Errorf("operators %v, want %v", ops, tc.ops)
			}
			for name, io := range map[string]struct {
				v    []any
				cols int
			}{InputName: {g[graphInput], len(tm.m.Schema.Features)}, OutputName: {g[graphOutput], tc.classes}} {
				if len(io.v) != 1 {
					t.Fatalf("%s: %d values", name, len(io.v))
				}
				vi := pbFields(t, io.v[0].([]byte))
				tt := pbFields(t, pbFields(t, vi[valueType][0].([]byte))[typeTensor][0].([]byte))
				dims := pbFields(t, tt[tensorTypeShape][0].([]byte))[shapeDim]
				switch {
				case string(vi[valueName][0].([]byte)) != name:
					t.Errorf("graph value %q, want %q", vi[valueName][0], name)
				case tt[tensorTypeElem][0].(uint64) != dataTypeDouble:
					t.Errorf("%s: element type %v, want DOUBLE", name, tt[tensorTypeElem])
				case len(dims) != 2 || string(pbFields(t, dims[0].([]byte))[dimParam][0].([]byte)) != "N" ||
					pbFields(t, dims[1].([]byte))[dimValue][0].(uint64) != uint64(io.cols):
					t.Errorf("%s: shape is not [N, %d]", name, io.cols)
				}
			}
			// The imputation constants are the transform's, bit for bit.
			for _, init := range g[graphInitializer] {
				tf := pbFields(t, init.([]byte))
				if string(tf[tensorName][0].([]byte)) != "fill" {
					continue
				}
				raw := tf[tensorRawData][0].([]byte)
				if tf[tensorDataType][0].(uint64) != dataTypeDouble || len(raw) != 8*len(tm.m.Transform.Fill) {
					t.Fatalf("fill tensor: type %v, %d bytes", tf[tensorDataType], len(raw))
				}
				for j, want := range tm.m.Transform.Fill {
					if got := doubleAt(raw, j); got != want {
						t.Fatalf("fill[%d] = %v, want %v", j, got, want)
					}
				}
			}
			again, err := ONNX(tm.m)
			if err != nil || string(again) != string(b) {
				t.Error("two exports of one model differ")
			}
		})
	}
}

func doubleAt(raw []byte, j int) float64 {
	return math.Float64frombits(binary.LittleEndian.Uint64(raw[8*j:]))
}
