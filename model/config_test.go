package model

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // "" = valid
	}{
		{"logreg", Config{Kind: "logreg", Inputs: 30, Outputs: 1, Loss: "bce"}, ""},
		{"softmax", Config{Kind: "softmax", Inputs: 64, Outputs: 10, Loss: "softmax-ce"}, ""},
		{"mlp", Config{Kind: "mlp", Inputs: 64, Outputs: 10, Hidden: []int{128, 64}, Activation: "tanh", Loss: "softmax-ce"}, ""},
		{"mlp/default activation", Config{Kind: "mlp", Inputs: 4, Outputs: 3, Hidden: []int{8}, Loss: "mse"}, ""},
		{"no inputs", Config{Kind: "logreg", Outputs: 1, Loss: "bce"}, "inputs 0 out of range"},
		{"no outputs", Config{Kind: "logreg", Inputs: 3, Loss: "bce"}, "outputs 0 out of range"},
		{"bce with 3 outputs", Config{Kind: "mlp", Inputs: 3, Outputs: 3, Hidden: []int{2}, Loss: "bce"}, "needs outputs 1"},
		{"softmax-ce with 1 output", Config{Kind: "softmax", Inputs: 3, Outputs: 1, Loss: "softmax-ce"}, "needs outputs ≥ 2"},
		{"unknown loss", Config{Kind: "logreg", Inputs: 3, Outputs: 1, Loss: "hinge"}, `unknown loss "hinge"`},
		{"unknown kind", Config{Kind: "cnn", Inputs: 3, Outputs: 1, Loss: "bce"}, `unknown kind "cnn"`},
		{"logreg with mse", Config{Kind: "logreg", Inputs: 3, Outputs: 1, Loss: "mse"}, "needs loss bce"},
		{"softmax with mse", Config{Kind: "softmax", Inputs: 3, Outputs: 2, Loss: "mse"}, "needs loss softmax-ce"},
		{"mlp without hidden", Config{Kind: "mlp", Inputs: 3, Outputs: 1, Loss: "bce"}, "at least one hidden"},
		{"zero-width hidden", Config{Kind: "mlp", Inputs: 3, Outputs: 1, Hidden: []int{4, 0}, Loss: "bce"}, "hidden layer 1 width 0"},
		{"bad activation", Config{Kind: "mlp", Inputs: 3, Outputs: 1, Hidden: []int{4}, Activation: "gelu", Loss: "bce"}, `unknown activation "gelu"`},
		{"logreg with hidden", Config{Kind: "logreg", Inputs: 3, Outputs: 1, Hidden: []int{4}, Loss: "bce"}, "takes no hidden"},
		{"logreg with activation", Config{Kind: "logreg", Inputs: 3, Outputs: 1, Activation: "tanh", Loss: "bce"}, "takes no activation"},
		{"too many params", Config{Kind: "mlp", Inputs: 1 << 15, Outputs: 1, Hidden: []int{1 << 14}, Loss: "bce"}, "parameters, at most"},
		{"too many layers", Config{Kind: "mlp", Inputs: 1, Outputs: 1, Hidden: make([]int, 65), Loss: "bce"}, "65 hidden layers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, tt.cfg.Validate(), tt.want)
			_, err := New(tt.cfg, rand.New(rand.NewPCG(1, 1)))
			wantErr(t, err, tt.want)
		})
	}
}

func TestParseSpec(t *testing.T) {
	tests := []struct {
		spec    string
		classes int
		want    Config
		err     string
	}{
		{"logreg", 2, Config{Kind: "logreg", Inputs: 30, Outputs: 1, Loss: "bce"}, ""},
		{"logreg", 10, Config{Kind: "softmax", Inputs: 30, Outputs: 10, Loss: "softmax-ce"}, ""},
		{"softmax", 3, Config{Kind: "softmax", Inputs: 30, Outputs: 3, Loss: "softmax-ce"}, ""},
		{"softmax", 2, Config{Kind: "softmax", Inputs: 30, Outputs: 2, Loss: "softmax-ce"}, ""},
		{"mlp:64", 2, Config{Kind: "mlp", Inputs: 30, Outputs: 1, Hidden: []int{64}, Loss: "bce"}, ""},
		{"mlp:64,32", 10, Config{Kind: "mlp", Inputs: 30, Outputs: 10, Hidden: []int{64, 32}, Loss: "softmax-ce"}, ""},
		{"mlp:64:tanh", 2, Config{Kind: "mlp", Inputs: 30, Outputs: 1, Hidden: []int{64}, Activation: "tanh", Loss: "bce"}, ""},
		{"mlp:16, 8:sigmoid", 4, Config{Kind: "mlp", Inputs: 30, Outputs: 4, Hidden: []int{16, 8}, Activation: "sigmoid", Loss: "softmax-ce"}, ""},
		{"mlp", 2, Config{}, "want mlp:H1"},
		{"mlp:", 2, Config{}, "want mlp:H1"},
		{"mlp:64,", 2, Config{}, `hidden width ""`},
		{"mlp:-3", 2, Config{}, `hidden width "-3"`},
		{"mlp:x", 2, Config{}, `hidden width "x"`},
		{"mlp:64:swish", 2, Config{}, `unknown activation "swish"`},
		{"logreg:5", 2, Config{}, "takes no options"},
		{"svm", 2, Config{}, "unknown model"},
		{"logreg", 1, Config{}, "at least 2 classes"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			got, err := ParseSpec(tt.spec, 30, tt.classes)
			if tt.err != "" {
				wantErr(t, err, tt.err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	_, err := ParseSpec("logreg", 0, 2)
	wantErr(t, err, "inputs 0")
}

func TestNewInitialization(t *testing.T) {
	// He normal for ReLU layers: weight variance 2/fan_in; Glorot normal at the output: 2/(in+out).
	cfg := Config{Kind: KindMLP, Inputs: 400, Outputs: 100, Hidden: []int{300}, Loss: LossSoftmaxCE}
	m, err := New(cfg, rand.New(rand.NewPCG(3, 4)))
	if err != nil {
		t.Fatal(err)
	}
	for l, want := range []float64{2.0 / 400, 2.0 / 400} {
		ly := m.layers[l]
		if l == 1 {
			want = 2.0 / (300 + 100)
		}
		s := 0.0
		for _, v := range ly.w.Data {
			s += v * v
		}
		if got := s / float64(len(ly.w.Data)); got < 0.95*want || got > 1.05*want {
			t.Errorf("layer %d weight variance %.5g, want %.5g", l, got, want)
		}
		for _, v := range ly.b {
			if v != 0 {
				t.Fatalf("layer %d bias %v, want 0", l, v)
			}
		}
	}
	if _, err := New(cfg, nil); err == nil {
		t.Errorf("New accepted a nil random source")
	}
	c := m.Clone()
	c.Params()[0]++
	if c.Params()[0] == m.Params()[0] {
		t.Errorf("Clone shares parameters with the original")
	}
	if &m.layers[0].w.Data[0] != &m.Params()[0] || &m.layers[1].b[99] != &m.Params()[m.NumParams()-1] {
		t.Errorf("layer views are not onto the flat parameter vector")
	}
}

func FuzzParseSpec(f *testing.F) {
	seeds := []string{"logreg", "softmax", "mlp:64", "mlp:64,32", "mlp:64:tanh", "mlp:1,2,3:sigmoid", "mlp::", "mlp:99999999999999999999"}
	for _, s := range seeds {
		f.Add(s, 30, 2)
		f.Add(s, 8, 10)
	}
	if len(seeds) == 0 {
		f.Fatal("empty seed corpus")
	}
	f.Fuzz(func(t *testing.T, spec string, inputs, classes int) {
		c, err := ParseSpec(spec, inputs, classes)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "model spec ") {
				t.Errorf("error %q does not name the spec", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("ParseSpec(%q) gave an invalid config: %v", spec, err)
		}
		if c.Inputs != inputs {
			t.Errorf("inputs %d, want %d", c.Inputs, inputs)
		}
		if classes > 2 && c.Outputs != classes || classes == 2 && c.Outputs != 1 && c.Kind != KindSoftmax {
			t.Errorf("%d classes gave %d outputs", classes, c.Outputs)
		}
	})
}

// TestConfigNumParams checks the count of parameters a config declares, by hand and against the
// model built from it, for dense and sparse models.
func TestConfigNumParams(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name string
		cfg  interface{ NumParams() int }
		want int
	}{
		{"logreg", Config{Kind: KindLogReg, Inputs: 30, Outputs: 1, Loss: LossBCE}, 31},
		{"mlp", Config{Kind: KindMLP, Inputs: 4, Outputs: 3, Hidden: []int{5, 2}, Loss: LossSoftmaxCE}, 5*5 + 6*2 + 3*3},
		{"sparse-linear", SparseConfig{Kind: KindSparseLinear, Inputs: 2048, Outputs: 5, Loss: LossSoftmaxCE}, 2048*5 + 5},
		{"embedding bag", SparseConfig{Kind: KindEmbeddingBag, Inputs: 100, Dim: 8, Hidden: []int{4}, Outputs: 1, Loss: LossBCE}, 100*8 + 9*4 + 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.cfg.NumParams(); got != tc.want {
				t.Errorf("NumParams = %d, want %d", got, tc.want)
			}
			var built int
			switch c := tc.cfg.(type) {
			case Config:
				m, err := New(c, rng)
				if err != nil {
					t.Fatal(err)
				}
				built = m.NumParams()
			case SparseConfig:
				m, err := NewSparse(c, rng)
				if err != nil {
					t.Fatal(err)
				}
				built = m.NumParams()
			}
			if built != tc.want {
				t.Errorf("the built model has %d parameters, want %d", built, tc.want)
			}
		})
	}
	if got := (Config{Kind: KindMLP, Inputs: MaxWidth, Outputs: 1, Hidden: []int{MaxWidth}, Loss: LossBCE}).NumParams(); got != MaxNumParams+1 {
		t.Errorf("a config too large counts %d, want the saturated %d", got, MaxNumParams+1)
	}
}
