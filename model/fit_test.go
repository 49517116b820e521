package model

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// blobs draws unit-variance Gaussian rows around one center per class: class c is shifted by ±sep
// in dimension c mod dims; with two classes, by −sep and +sep in dimension 0.
func blobs(rows, dims, classes int, sep float64, seed uint64) (*mat.Dense, []float64) {
	rng := rand.New(rand.NewPCG(seed, 11))
	x := mat.NewDense(rows, dims, nil)
	y := make([]float64, rows)
	for i := range rows {
		c := i % classes
		y[i] = float64(c)
		for j := range dims {
			x.Set(i, j, rng.NormFloat64())
		}
		dim, sign := c%dims, 1.0
		if (c/dims)%2 == 1 {
			sign = -1
		}
		if classes == 2 {
			dim, sign = 0, float64(2*c-1)
		}
		x.Set(i, dim, x.At(i, dim)+sign*sep)
	}
	return x, y
}

// xor draws points uniformly in [−1, 1]² labelled by the sign of x₀·x₁: no linear model fits it.
func xor(rows int, seed uint64) (*mat.Dense, []float64) {
	rng := rand.New(rand.NewPCG(seed, 12))
	x := mat.NewDense(rows, 2, nil)
	y := make([]float64, rows)
	for i := range rows {
		a, b := 2*rng.Float64()-1, 2*rng.Float64()-1
		x.Set(i, 0, a)
		x.Set(i, 1, b)
		if a*b > 0 {
			y[i] = 1
		}
	}
	return x, y
}

func TestFitLearns(t *testing.T) {
	n := 2000
	if testing.Short() {
		n = 600
	}
	type dataset func(rows int, seed uint64) (*mat.Dense, []float64)
	tests := []struct {
		name    string
		cfg     Config
		data    dataset
		fit     FitConfig
		minAcc  float64
		maxLoss float64
	}{
		{
			name: "logreg/blobs",
			cfg:  Config{Kind: KindLogReg, Inputs: 5, Outputs: 1, Loss: LossBCE},
			data: func(r int, s uint64) (*mat.Dense, []float64) { return blobs(r, 5, 2, 2.5, s) },
			fit:  FitConfig{Epochs: 20, BatchSize: 32, Optimizer: OptimizerConfig{Name: OptSGD, LR: 0.2, Momentum: 0.5}},
			// The Bayes accuracy of this problem is Φ(2.5) ≈ 0.994.
			minAcc: 0.97, maxLoss: 0.1,
		},
		{
			name:   "softmax/blobs",
			cfg:    Config{Kind: KindSoftmax, Inputs: 4, Outputs: 4, Loss: LossSoftmaxCE},
			data:   func(r int, s uint64) (*mat.Dense, []float64) { return blobs(r, 4, 4, 4, s) },
			fit:    FitConfig{Epochs: 20, BatchSize: 32, Optimizer: OptimizerConfig{Name: OptAdam, LR: 0.05}},
			minAcc: 0.95, maxLoss: 0.2,
		},
		{
			name:   "mlp/xor",
			cfg:    Config{Kind: KindMLP, Inputs: 2, Outputs: 1, Hidden: []int{16}, Activation: ActTanh, Loss: LossBCE},
			data:   xor,
			fit:    FitConfig{Epochs: 200, BatchSize: 32, Optimizer: OptimizerConfig{Name: OptAdam, LR: 0.02}},
			minAcc: 0.95, maxLoss: 0.2,
		},
		{
			name:   "mlp/xor/rmsprop",
			cfg:    Config{Kind: KindMLP, Inputs: 2, Outputs: 1, Hidden: []int{16, 16}, Loss: LossBCE},
			data:   xor,
			fit:    FitConfig{Epochs: 200, BatchSize: 32, Optimizer: OptimizerConfig{Name: OptRMSprop, LR: 0.005}},
			minAcc: 0.95, maxLoss: 0.2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, y := tt.data(n, 1)
			xt, yt := tt.data(n/2, 2)
			m, err := New(tt.cfg, rand.New(rand.NewPCG(5, 6)))
			if err != nil {
				t.Fatal(err)
			}
			if err := Fit(m, x, y, tt.fit); err != nil {
				t.Fatal(err)
			}
			mt := Evaluate(m, xt, yt)
			if mt.Accuracy < tt.minAcc {
				t.Errorf("held-out accuracy %.4f, want ≥ %.2f", mt.Accuracy, tt.minAcc)
			}
			if l := m.Loss(xt, yt); l > tt.maxLoss {
				t.Errorf("held-out loss %.4f, want ≤ %.2f", l, tt.maxLoss)
			}
		})
	}
}

func TestFitDeterministic(t *testing.T) {
	x, y := blobs(200, 3, 2, 1, 3)
	cfg := Config{Kind: KindMLP, Inputs: 3, Outputs: 1, Hidden: []int{5}, Loss: LossBCE}
	fc := FitConfig{Epochs: 3, BatchSize: 16, Optimizer: OptimizerConfig{Name: OptAdam, LR: 0.01}, Seed: 9}
	run := func(seed uint64) []float64 {
		m, _ := New(cfg, rand.New(rand.NewPCG(1, 1)))
		fc.Seed = seed
		if err := Fit(m, x, y, fc); err != nil {
			t.Fatal(err)
		}
		return m.Params()
	}
	a, b, c := run(9), run(9), run(10)
	if !slices.Equal(a, b) {
		t.Errorf("two runs with seed 9 differ")
	}
	if slices.Equal(a, c) {
		t.Errorf("seeds 9 and 10 give identical models")
	}
}

func TestFitErrors(t *testing.T) {
	logreg := Config{Kind: KindLogReg, Inputs: 2, Outputs: 1, Loss: LossBCE}
	ok := FitConfig{Epochs: 1, BatchSize: 4, Optimizer: OptimizerConfig{Name: OptSGD, LR: 0.1}}
	x := mat.NewDense(4, 2, []float64{1, 2, 3, 4, 5, 6, 7, 8})
	nanX := mat.NewDense(4, 2, []float64{1, 2, 3, math.NaN(), 5, 6, 7, 8})
	tests := []struct {
		name string
		cfg  Config
		x    *mat.Dense
		y    []float64
		fit  FitConfig
		want string
	}{
		{"epochs", logreg, x, []float64{0, 1, 0, 1}, FitConfig{BatchSize: 4, Optimizer: ok.Optimizer}, "epochs 0"},
		{"batch", logreg, x, []float64{0, 1, 0, 1}, FitConfig{Epochs: 1, Optimizer: ok.Optimizer}, "batch size 0"},
		{"optimizer", logreg, x, []float64{0, 1, 0, 1}, FitConfig{Epochs: 1, BatchSize: 4}, "unknown name"},
		{"columns", Config{Kind: KindLogReg, Inputs: 3, Outputs: 1, Loss: LossBCE}, x, []float64{0, 1, 0, 1}, ok, "2 columns, model takes 3"},
		{"targets", logreg, x, []float64{0, 1, 0}, ok, "3 targets for 4 rows"},
		{"label", logreg, x, []float64{0, 1, 2, 1}, ok, "target at row 2 is not a binary label"},
		{"NaN", logreg, nanX, []float64{0, 1, 0, 1}, ok, "feature 1 of row 1 is NaN"},
		{"divergence", Config{Kind: KindMLP, Inputs: 2, Outputs: 1, Hidden: []int{3}, Activation: ActTanh, Loss: LossMSE}, x, []float64{1e3, -1e3, 1e3, -1e3},
			FitConfig{Epochs: 50, BatchSize: 2, Optimizer: OptimizerConfig{Name: OptSGD, LR: 10}}, "loss became"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, Fit(modelWith(t, tt.cfg, nil), tt.x, tt.y, tt.fit), tt.want)
		})
	}
}
