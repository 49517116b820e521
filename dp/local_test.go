package dp

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/fedcrypt/fedcrypt/model"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// learnerCase is one kind of model with its data, built twice alike: once
// behind the Learner interface, once to call dp and model directly.
type learnerCase struct {
	name  string
	build func() (l Learner, direct func(SGDConfig, *rand.ChaCha8) ([]float64, error), fit func(model.FitConfig) ([]float64, error), held Input, heldY []float64, other Input)
}

func learnerCases(t *testing.T) []learnerCase {
	const rows, classes = 60, 3
	rng := rand.New(rand.NewPCG(4, 5))
	y := make([]float64, rows)
	units := make([]int, rows)
	for i := range y {
		y[i] = float64(rng.IntN(classes))
		units[i] = i / 2
	}
	dense := mat.NewDense(rows, 4, nil)
	for i := range rows {
		for j := range 4 {
			dense.Set(i, j, rng.NormFloat64()+y[i]*float64(j%2))
		}
	}
	sparse := model.NewCSR(32)
	for i := range rows {
		// Repeated columns, merged by AppendRow.
		idx := []int{int(y[i]), rng.IntN(32), rng.IntN(32), int(y[i])}
		if err := sparse.AppendRow(idx, []float64{0.5, 0.5, 0.5, 0.5}); err != nil {
			t.Fatal(err)
		}
	}
	dc := model.Config{Kind: model.KindSoftmax, Inputs: 4, Outputs: classes, Loss: model.LossSoftmaxCE}
	sc := model.SparseConfig{Kind: model.KindEmbeddingBag, Inputs: 32, Dim: 4, Outputs: classes, Loss: model.LossSoftmaxCE}
	newDense := func() *model.Model {
		m, err := model.New(dc, rand.New(rand.NewPCG(1, 2)))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	newSparse := func() *model.SparseModel {
		m, err := model.NewSparse(sc, rand.New(rand.NewPCG(1, 2)))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	return []learnerCase{
		{"dense", func() (Learner, func(SGDConfig, *rand.ChaCha8) ([]float64, error), func(model.FitConfig) ([]float64, error), Input, []float64, Input) {
			direct := func(cfg SGDConfig, r *rand.ChaCha8) ([]float64, error) {
				m := newDense()
				_, err := Train(m, dense, y, units, cfg, r)
				return m.Params(), err
			}
			fit := func(cfg model.FitConfig) ([]float64, error) {
				m := newDense()
				return m.Params(), model.Fit(m, dense, y, cfg)
			}
			return NewDense(newDense(), dense, y, units), direct, fit, dense, y, sparse
		}},
		{"sparse", func() (Learner, func(SGDConfig, *rand.ChaCha8) ([]float64, error), func(model.FitConfig) ([]float64, error), Input, []float64, Input) {
			direct := func(cfg SGDConfig, r *rand.ChaCha8) ([]float64, error) {
				m := newSparse()
				_, err := TrainSparse(m, sparse, y, units, cfg, r)
				return m.Params(), err
			}
			fit := func(cfg model.FitConfig) ([]float64, error) {
				m := newSparse()
				return m.Params(), model.FitSparse(m, sparse, y, cfg)
			}
			return NewSparse(newSparse(), sparse, y, units), direct, fit, sparse, y, dense
		}},
	}
}

// TestLearners runs both kinds of model through the same Learner calls:
// DP-SGD and plain training give the very parameters of calling dp and
// model directly with the same seed, and prediction, evaluation and
// parameter setting behave alike.
func TestLearners(t *testing.T) {
	cfg := SGDConfig{ClipNorm: 1, NoiseMultiplier: 1.1, SampleRate: 0.2, Steps: 15, Optimizer: model.OptimizerConfig{Name: model.OptAdam, LR: 0.05}}
	fitCfg := model.FitConfig{Epochs: 3, BatchSize: 8, Seed: 9, Optimizer: model.OptimizerConfig{Name: model.OptSGD, LR: 0.1}}
	for _, tc := range learnerCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			l, direct, fit, x, y, other := tc.build()
			start := slices.Clone(l.Params())
			if l.Rows() != 60 || l.NumParams() != len(start) {
				t.Fatalf("%d rows, %d parameters", l.Rows(), l.NumParams())
			}
			seed := [32]byte{7}
			if _, err := l.Train(cfg, rand.NewChaCha8(seed)); err != nil {
				t.Fatal(err)
			}
			want, err := direct(cfg, rand.NewChaCha8(seed))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(l.Params(), want) {
				t.Error("DP-SGD through the learner differs from calling dp directly")
			}
			if slices.Equal(l.Params(), start) {
				t.Fatal("DP-SGD left the parameters unchanged")
			}
			// Back to the start, then plain training.
			if err := l.SetParams(start); err != nil {
				t.Fatal(err)
			}
			if err := l.Fit(fitCfg); err != nil {
				t.Fatal(err)
			}
			if want, err := fit(fitCfg); err != nil || !slices.Equal(l.Params(), want) {
				t.Errorf("training through the learner differs from calling model directly (%v)", err)
			}
			p := mat.NewDense(60, 3, nil)
			if err := l.Predict(p, x); err != nil {
				t.Fatal(err)
			}
			met, err := l.Evaluate(x, y)
			if err != nil {
				t.Fatal(err)
			}
			correct := 0
			for i := range 60 {
				if floats.MaxIdx(p.RawRowView(i)) == int(y[i]) {
					correct++
				}
			}
			if got := float64(correct) / 60; got != met.Accuracy || got < 0.5 {
				t.Errorf("accuracy %v from Evaluate, %v from Predict (want both, and above 0.5 on these separable rows)", met.Accuracy, got)
			}
			for _, bad := range []struct {
				name string
				err  error
				want string
			}{
				{"short params", l.SetParams(start[1:]), "parameters for a model of"},
				{"other input", l.Predict(p, other), "model takes"},
				{"small dst", l.Predict(mat.NewDense(59, 3, nil), x), "predictions of 59×3"},
				{"targets", func() error { _, err := l.Evaluate(x, y[1:]); return err }(), "targets for 60 rows"},
				{"class out of range", func() error { _, err := l.Evaluate(x, slices.Repeat([]float64{7}, 60)); return err }(), "not a class index"},
			} {
				if bad.err == nil || !strings.Contains(bad.err.Error(), bad.want) {
					t.Errorf("%s: error %v, want %q", bad.name, bad.err, bad.want)
				}
			}
		})
	}
}
