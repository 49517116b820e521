package model_test

import (
	"bytes"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/model"
	"github.com/fedcrypt/fedcrypt/text"
	"gonum.org/v1/gonum/mat"
)

// TestInt8OnData quantizes models trained as `fedcrypt train` trains them (Adam, lr 0.01, decay
// 1e-4, batches of 32) on wdbc, digits and the medical abstracts, and checks what issue 18 asks
// of a model for deployment: its weights take at least 4 times fewer bytes than in float64 (the
// whole file too, for models of 1,000 parameters or more: below that the config and the scales
// weigh as much as the weights), and on the held-out rows at least 99% of its classes are the
// float model's, with no probability more than 0.01 away.
func TestInt8OnData(t *testing.T) {
	opt := model.OptimizerConfig{Name: model.OptAdam, LR: 0.01, Decay: 1e-4}
	for _, c := range []struct{ data, spec string }{
		{"wdbc", "logreg"}, {"wdbc", "mlp:310"}, {"digits", "softmax"}, {"digits", "mlp:256,256"},
	} {
		t.Run(c.data+"/"+c.spec, func(t *testing.T) {
			if testing.Short() && c.spec == "mlp:256,256" {
				t.Skip("85,002 parameters, 30 epochs")
			}
			ds, _, err := data.LoadEmbedded(c.data, data.Options{})
			if err != nil {
				t.Fatal(err)
			}
			train, test, err := data.StratifiedSplit(ds, 0.2, 1)
			if err != nil {
				t.Fatal(err)
			}
			tf, err := data.FitTransform(train.X, train.Options().Imputation(), "zscore")
			if err != nil {
				t.Fatal(err)
			}
			xtr, xte := apply(t, tf, train), apply(t, tf, test)
			cfg, err := model.ParseSpec(c.spec, len(ds.Features), len(ds.Classes))
			if err != nil {
				t.Fatal(err)
			}
			m, err := model.New(cfg, rand.New(rand.NewPCG(1, 2)))
			if err != nil {
				t.Fatal(err)
			}
			if err := model.Fit(m, xtr, train.Y, model.FitConfig{Epochs: 30, BatchSize: 32, Seed: 1, Optimizer: opt}); err != nil {
				t.Fatal(err)
			}
			q, err := model.Unmarshal(int8Of(t, m))
			if err != nil {
				t.Fatal(err)
			}
			compareOn[mat.Matrix](t, m, m.Predict, q.Predict, xte, test.Rows(), cfg.Outputs, model.Evaluate(m, xte, test.Y).Accuracy)
		})
	}
	t.Run("abstracts", func(t *testing.T) {
		if testing.Short() {
			t.Skip("1,310,725 parameters, 20 epochs")
		}
		b, err := os.ReadFile("../examples/clinicaltext/medical-abstracts.csv")
		if err != nil {
			t.Fatal(err)
		}
		ds, _, err := data.Load(bytes.NewReader(b), "medical-abstracts.csv", data.Options{Label: "condition", Text: "abstract"})
		if err != nil {
			t.Fatal(err)
		}
		train, test, err := data.StratifiedSplit(ds, 0.2, 1)
		if err != nil {
			t.Fatal(err)
		}
		// The featurization of `train --text`: unigrams in 2¹⁸ buckets, sublinear tf-idf.
		tt, err := text.New(text.Config{Buckets: 1 << 18, NGrams: 1, Sublinear: true, IDF: true, Norm: text.NormL2})
		if err != nil {
			t.Fatal(err)
		}
		xtr, err := tt.Counts(train.Text)
		if err != nil {
			t.Fatal(err)
		}
		if err := tt.FitIDF(xtr); err != nil {
			t.Fatal(err)
		}
		if err := tt.Weight(xtr); err != nil {
			t.Fatal(err)
		}
		xte, err := tt.Apply(test.Text)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := model.ParseSparseSpec("softmax", 1<<18, len(ds.Classes))
		if err != nil {
			t.Fatal(err)
		}
		m, err := model.NewSparse(cfg, rand.New(rand.NewPCG(1, 2)))
		if err != nil {
			t.Fatal(err)
		}
		if err := model.FitSparse(m, xtr, train.Y, model.FitConfig{Epochs: 20, BatchSize: 32, Seed: 1, Optimizer: opt}); err != nil {
			t.Fatal(err)
		}
		q, err := model.UnmarshalSparse(int8Of(t, m))
		if err != nil {
			t.Fatal(err)
		}
		compareOn(t, m, m.Predict, q.Predict, xte, test.Rows(), cfg.Outputs, model.EvaluateSparse(m, xte, test.Y).Accuracy)
	})
}

// quantizable is a model of either kind.
type quantizable interface {
	NumParams() int
	MarshalBinary() ([]byte, error)
	MarshalInt8() ([]byte, error)
}

// int8Of returns m's int8 weights.
func int8Of(t *testing.T, m quantizable) []byte {
	t.Helper()
	b, err := m.MarshalInt8()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// compareOn predicts the rows x with the float model (pf) and the int8 one (pq) and checks them
// with checkInt8.
func compareOn[X any](t *testing.T, m quantizable, pf, pq func(*mat.Dense, X), x X, rows, k int, accuracy float64) {
	t.Helper()
	fb, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	a, b := mat.NewDense(rows, k, nil), mat.NewDense(rows, k, nil)
	pf(a, x)
	pq(b, x)
	checkInt8(t, m.NumParams(), len(fb), len(int8Of(t, m)), a, b, accuracy)
}

func apply(t *testing.T, tf *data.Transform, d *data.Dataset) *mat.Dense {
	t.Helper()
	x := mat.NewDense(d.Rows(), len(d.Features), nil)
	if err := tf.Apply(x, d.X); err != nil {
		t.Fatal(err)
	}
	return x
}

func checkInt8(t *testing.T, params, floatBytes, int8Bytes int, pf, pq *mat.Dense, accuracy float64) {
	t.Helper()
	same, diff := model.Agreement(pf, pq)
	rows, _ := pf.Dims()
	// Both files share the header, the config and the checksum; the rest is 8 bytes a parameter
	// in float64, and the parameters, scales and row factors in int8.
	shared := floatBytes - 8*params
	file, weights := float64(floatBytes)/float64(int8Bytes), float64(8*params)/float64(int8Bytes-shared)
	t.Logf("%d parameters: float64 %d B, int8 %d B (%.2f× smaller; the weights %.2f×); %d held-out rows: %.2f%% same class, largest |Δp| %.5f; float accuracy %.4f",
		params, floatBytes, int8Bytes, file, weights, rows, 100*same, diff, accuracy)
	if weights < 4 || params >= 1000 && file < 4 {
		t.Errorf("int8 file %.2f× smaller than float64, its weights %.2f×: want 4", file, weights)
	}
	if same < 0.99 || diff > 0.01 {
		t.Errorf("int8 model: %.2f%% of classes agree (want ≥ 99%%), largest probability difference %.4f (want ≤ 0.01)", 100*same, diff)
	}
}
