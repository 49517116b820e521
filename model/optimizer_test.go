package model

import (
	"bytes"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestOptimizerHandComputedSteps(t *testing.T) {
	const eps = 1e-8
	tests := []struct {
		name   string
		cfg    OptimizerConfig
		params []float64
		grads  [][]float64
		want   [][]float64 // params after each step
	}{
		{
			name:   "sgd",
			cfg:    OptimizerConfig{Name: OptSGD, LR: 0.1},
			params: []float64{1, -2},
			grads:  [][]float64{{0.5, 1}, {0.5, 1}},
			want:   [][]float64{{0.95, -2.1}, {0.9, -2.2}},
		},
		{
			name:   "sgd/momentum",
			cfg:    OptimizerConfig{Name: OptSGD, LR: 0.1, Momentum: 0.9},
			params: []float64{1, -2},
			grads:  [][]float64{{0.5, 1}, {0.5, 1}},
			// v₁ = (0.5, 1); v₂ = 0.9·v₁ + g = (0.95, 1.9).
			want: [][]float64{{0.95, -2.1}, {0.95 - 0.095, -2.1 - 0.19}},
		},
		{
			name:   "sgd/decay",
			cfg:    OptimizerConfig{Name: OptSGD, LR: 0.1, Decay: 0.1},
			params: []float64{1},
			grads:  [][]float64{{0.5}},
			want:   [][]float64{{1 - 0.1*(0.5+0.1)}},
		},
		{
			name:   "adam",
			cfg:    OptimizerConfig{Name: OptAdam, LR: 0.1},
			params: []float64{1},
			grads:  [][]float64{{0.5}, {0.25}},
			// Step 1: m = 0.05, v = 0.00025, m̂ = 0.5, v̂ = 0.25.
			// Step 2: m = 0.045 + 0.025 = 0.07, v = 0.999·0.00025 + 0.001·0.0625 = 0.00031225,
			// bias corrections 1 − 0.9² = 0.19 and 1 − 0.999² = 0.001999.
			want: [][]float64{
				{1 - 0.1*0.5/(0.5+eps)},
				{1 - 0.1*0.5/(0.5+eps) - 0.1*(0.07/0.19)/(math.Sqrt(0.00031225/0.001999)+eps)},
			},
		},
		{
			name:   "adam/betas",
			cfg:    OptimizerConfig{Name: OptAdam, LR: 0.01, Beta1: 0.5, Beta2: 0.75, Epsilon: 1e-3},
			params: []float64{2},
			grads:  [][]float64{{-1}, {3}},
			// Step 1: m̂ = −1, v̂ = 1. Step 2: m = −0.25 + 1.5 = 1.25, v = 0.1875 + 2.25 = 2.4375,
			// corrections 0.75 and 1 − 0.5625 = 0.4375.
			want: [][]float64{
				{2 + 0.01/(1+1e-3)},
				{2 + 0.01/(1+1e-3) - 0.01*(1.25/0.75)/(math.Sqrt(2.4375/0.4375)+1e-3)},
			},
		},
		{
			name:   "rmsprop",
			cfg:    OptimizerConfig{Name: OptRMSprop, LR: 0.01},
			params: []float64{1},
			grads:  [][]float64{{2}, {1}},
			// s₁ = 0.1·4 = 0.4; s₂ = 0.9·0.4 + 0.1·1 = 0.46.
			want: [][]float64{
				{1 - 0.01*2/(math.Sqrt(0.4)+eps)},
				{1 - 0.01*2/(math.Sqrt(0.4)+eps) - 0.01*1/(math.Sqrt(0.46)+eps)},
			},
		},
		{
			name:   "rmsprop/momentum",
			cfg:    OptimizerConfig{Name: OptRMSprop, LR: 0.01, Momentum: 0.5},
			params: []float64{1},
			grads:  [][]float64{{2}, {1}},
			want: [][]float64{
				{1 - 0.01*2/(math.Sqrt(0.4)+eps)},
				{1 - 0.01*2/(math.Sqrt(0.4)+eps) - 0.01*(0.5*2/(math.Sqrt(0.4)+eps)+1/(math.Sqrt(0.46)+eps))},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := NewOptimizer(tt.cfg, len(tt.params))
			if err != nil {
				t.Fatal(err)
			}
			p := slices.Clone(tt.params)
			for s, g := range tt.grads {
				o.Step(p, g)
				for i := range p {
					if math.Abs(p[i]-tt.want[s][i]) > 1e-14 {
						t.Errorf("step %d param %d: got %.17g, want %.17g", s+1, i, p[i], tt.want[s][i])
					}
				}
			}
		})
	}
}

var restoreConfigs = []OptimizerConfig{
	{Name: OptSGD, LR: 0.05},
	{Name: OptSGD, LR: 0.05, Momentum: 0.9, Decay: 1e-3},
	{Name: OptAdam, LR: 0.01},
	{Name: OptRMSprop, LR: 0.01},
	{Name: OptRMSprop, LR: 0.01, Momentum: 0.3},
}

func TestOptimizerRestoreContinuesExactly(t *testing.T) {
	const n = 50
	for _, cfg := range restoreConfigs {
		t.Run(cfg.Name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(5, 5))
			grads := make([][]float64, 12)
			for s := range grads {
				grads[s] = make([]float64, n)
				for i := range grads[s] {
					grads[s][i] = rng.NormFloat64()
				}
			}
			p := make([]float64, n)
			orig, _ := NewOptimizer(cfg, n)
			for _, g := range grads[:6] {
				orig.Step(p, g)
			}
			state, err := orig.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			restored, _ := NewOptimizer(cfg, n)
			if err := restored.UnmarshalBinary(state); err != nil {
				t.Fatal(err)
			}
			q := slices.Clone(p)
			for _, g := range grads[6:] {
				orig.Step(p, g)
				restored.Step(q, g)
			}
			for i := range p {
				if math.Float64bits(p[i]) != math.Float64bits(q[i]) {
					t.Fatalf("param %d: original %.17g, restored %.17g", i, p[i], q[i])
				}
			}
			// A fresh optimizer (no restore) drifts: the test would notice a restore that did nothing.
			fresh, _ := NewOptimizer(cfg, n)
			r := slices.Clone(q)
			fresh.Step(r, grads[0])
			again, _ := NewOptimizer(cfg, n)
			if err := again.UnmarshalBinary(state); err != nil {
				t.Fatal(err)
			}
			s := slices.Clone(q)
			again.Step(s, grads[0])
			if cfg.Name != OptSGD || cfg.Momentum > 0 {
				if slices.Equal(r, s) {
					t.Errorf("a restored and a fresh optimizer take the same step")
				}
			}
		})
	}
}

func TestOptimizerStateErrors(t *testing.T) {
	adam, _ := NewOptimizer(OptimizerConfig{Name: OptAdam, LR: 0.1}, 4)
	good, _ := adam.MarshalBinary()
	sgdm, _ := NewOptimizer(OptimizerConfig{Name: OptSGD, LR: 0.1, Momentum: 0.5}, 4)
	sgdmState, _ := sgdm.MarshalBinary()
	tests := []struct {
		name  string
		into  OptimizerConfig
		n     int
		state []byte
		want  string
	}{
		{"empty", OptimizerConfig{Name: OptAdam, LR: 0.1}, 4, nil, "bad magic"},
		{"magic", OptimizerConfig{Name: OptAdam, LR: 0.1}, 4, append([]byte("XXXX"), good[4:]...), "bad magic"},
		{"version", OptimizerConfig{Name: OptAdam, LR: 0.1}, 4, append(append([]byte("FCOS"), 9), good[5:]...), "version 9"},
		{"truncated header", OptimizerConfig{Name: OptAdam, LR: 0.1}, 4, good[:12], "truncated"},
		{"truncated buffers", OptimizerConfig{Name: OptAdam, LR: 0.1}, 4, good[:len(good)-1], "bytes of buffers"},
		{"trailing", OptimizerConfig{Name: OptAdam, LR: 0.1}, 4, append(slices.Clone(good), 0), "bytes of buffers"},
		{"name", OptimizerConfig{Name: OptRMSprop, LR: 0.1}, 4, good, `saved by optimizer "adam"`},
		{"size", OptimizerConfig{Name: OptAdam, LR: 0.1}, 5, good, "saved for 4 parameters"},
		{"momentum", OptimizerConfig{Name: OptSGD, LR: 0.1}, 4, sgdmState, "momentum"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := NewOptimizer(tt.into, tt.n)
			if err != nil {
				t.Fatal(err)
			}
			err = o.UnmarshalBinary(tt.state)
			wantErr(t, err, tt.want)
		})
	}
}

func TestOptimizerConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  OptimizerConfig
		want string // "" = valid
	}{
		{"sgd", OptimizerConfig{Name: "sgd", LR: 0.1}, ""},
		{"adam", OptimizerConfig{Name: "adam", LR: 1e-3, Beta1: 0.8, Beta2: 0.99, Epsilon: 1e-7}, ""},
		{"rmsprop", OptimizerConfig{Name: "rmsprop", LR: 1e-3, Momentum: 0.9, Decay: 1e-4}, ""},
		{"unknown", OptimizerConfig{Name: "adagrad", LR: 0.1}, `unknown name "adagrad"`},
		{"zero lr", OptimizerConfig{Name: "sgd"}, "learning rate 0"},
		{"inf lr", OptimizerConfig{Name: "sgd", LR: math.Inf(1)}, "learning rate +Inf"},
		{"NaN lr", OptimizerConfig{Name: "sgd", LR: math.NaN()}, "learning rate NaN"},
		{"momentum 1", OptimizerConfig{Name: "sgd", LR: 0.1, Momentum: 1}, "momentum 1 out of range"},
		{"beta1", OptimizerConfig{Name: "adam", LR: 0.1, Beta1: -0.1}, "beta1 -0.1"},
		{"beta2", OptimizerConfig{Name: "adam", LR: 0.1, Beta2: 1}, "beta2 1"},
		{"epsilon", OptimizerConfig{Name: "adam", LR: 0.1, Epsilon: -1}, "epsilon -1"},
		{"decay", OptimizerConfig{Name: "adam", LR: 0.1, Decay: math.NaN()}, "decay NaN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, tt.cfg.Validate(), tt.want)
			_, err := NewOptimizer(tt.cfg, 3)
			wantErr(t, err, tt.want)
		})
	}
	_, err := NewOptimizer(OptimizerConfig{Name: "sgd", LR: 0.1}, 0)
	wantErr(t, err, "0 parameters out of range")
}

func FuzzOptimizerUnmarshal(f *testing.F) {
	seeded := 0
	for _, cfg := range restoreConfigs {
		o, _ := NewOptimizer(cfg, 3)
		o.Step([]float64{1, 2, 3}, []float64{0.1, -0.2, 0.3})
		b, _ := o.MarshalBinary()
		f.Add(b)
		f.Add(b[:len(b)/2])
		seeded++
	}
	f.Add([]byte("FCOS"))
	if seeded == 0 {
		f.Fatal("empty seed corpus")
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, cfg := range restoreConfigs {
			o, _ := NewOptimizer(cfg, 3)
			if err := o.UnmarshalBinary(b); err != nil {
				continue
			}
			out, err := o.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, b) {
				t.Fatalf("%s: state does not round-trip:\n in  %x\n out %x", cfg.Name, b, out)
			}
		}
	})
}
