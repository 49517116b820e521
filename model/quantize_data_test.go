package model_test

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/model"
	"github.com/fedcrypt/fedcrypt/text"
	"gonum.org/v1/gonum/mat"
)

// TestQuantizedOnData quantizes models trained as `fedcrypt train` trains them (Adam, lr 0.01,
// decay 1e-4, batches of 32) on wdbc, digits and the medical abstracts, and checks what issue 18
// asks of a model for deployment: its weights take at least 4 times fewer bytes than in float64
// (the whole file too, for models of 1,000 parameters or more: below that the config weighs as
// much as the weights), and on the held-out rows at least 99% of its classes are the float
// model's, with no probability more than 0.01 away. With -short, digits' MLP is left out and the
// abstracts' model is smaller (2¹⁴ buckets, 5 epochs): the full test trains for about 12 s.
func TestQuantizedOnData(t *testing.T) {
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
			m := newModel(t, c.spec, ds)
			if err := model.Fit(m, xtr, train.Y, model.FitConfig{Epochs: 30, BatchSize: 32, Seed: 1, Optimizer: opt}); err != nil {
				t.Fatal(err)
			}
			compareDense(t, m, xte, test.Y)
		})
	}
	t.Run("abstracts", func(t *testing.T) {
		buckets, epochs := 1<<18, 20
		if testing.Short() {
			buckets, epochs = 1<<14, 5
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
		// The featurization of `train --text`: unigrams in 2¹⁸ buckets (2¹⁴ with -short),
		// sublinear tf-idf.
		tt, err := text.New(text.Config{Buckets: buckets, NGrams: 1, Sublinear: true, IDF: true, Norm: text.NormL2})
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
		cfg, err := model.ParseSparseSpec("softmax", buckets, len(ds.Classes))
		if err != nil {
			t.Fatal(err)
		}
		m, err := model.NewSparse(cfg, rand.New(rand.NewPCG(1, 2)))
		if err != nil {
			t.Fatal(err)
		}
		if err := model.FitSparse(m, xtr, train.Y, model.FitConfig{Epochs: epochs, BatchSize: 32, Seed: 1, Optimizer: opt}); err != nil {
			t.Fatal(err)
		}
		q, err := model.UnmarshalSparse(quantizedOf(t, m))
		if err != nil {
			t.Fatal(err)
		}
		compareOn(t, m, m.Predict, q.Predict, xte, test.Rows(), cfg.Outputs, model.EvaluateSparse(m, xte, test.Y).Accuracy)
	})
}

// TestQuantizedSimModels quantizes models of the default federation on wdbc (testdata: `sim` at
// ε = 1, logistic regression and mlp:32, trained with DP-SGD and FedAvg) and checks them as
// TestQuantizedOnData does, on all 569 rows of wdbc (a run's held-out rows are among them). On an
// int8 grid (format version 2) five of these eight models moved a probability by more than 0.01,
// up to 0.034.
func TestQuantizedSimModels(t *testing.T) {
	b, err := os.ReadFile("testdata/wdbc-sim-models.json")
	if err != nil {
		t.Fatal(err)
	}
	var fx struct {
		Transform data.Transform
		Models    []struct {
			Run, Spec string
			Params    []float64
		}
	}
	if err := json.Unmarshal(b, &fx); err != nil {
		t.Fatal(err)
	}
	ds, _, err := data.LoadEmbedded("wdbc", data.Options{})
	if err != nil {
		t.Fatal(err)
	}
	x := apply(t, &fx.Transform, ds)
	for _, c := range fx.Models {
		t.Run(c.Run, func(t *testing.T) {
			m := newModel(t, c.Spec, ds)
			if len(c.Params) != m.NumParams() {
				t.Fatalf("%d parameters for %s, want %d", len(c.Params), c.Spec, m.NumParams())
			}
			copy(m.Params(), c.Params)
			compareDense(t, m, x, ds.Y)
		})
	}
}

// newModel returns a model of the spec for the data set's features and classes.
func newModel(t *testing.T, spec string, ds *data.Dataset) *model.Model {
	t.Helper()
	cfg, err := model.ParseSpec(spec, len(ds.Features), len(ds.Classes))
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.New(cfg, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// compareDense quantizes m and compares it with m on the rows x (labels y) with compareOn.
func compareDense(t *testing.T, m *model.Model, x *mat.Dense, y []float64) {
	t.Helper()
	q, err := model.Unmarshal(quantizedOf(t, m))
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := x.Dims()
	compareOn[mat.Matrix](t, m, m.Predict, q.Predict, x, rows, m.Config().Outputs, model.Evaluate(m, x, y).Accuracy)
}

// quantizable is a model of either kind.
type quantizable interface {
	NumParams() int
	MarshalBinary() ([]byte, error)
	MarshalQuantized() ([]byte, error)
}

// quantizedOf returns m's quantized weights.
func quantizedOf(t *testing.T, m quantizable) []byte {
	t.Helper()
	b, err := m.MarshalQuantized()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// compareOn predicts the rows x with the float model (pf) and the quantized one (pq) and checks
// them with checkQuantized.
func compareOn[X any](t *testing.T, m quantizable, pf, pq func(*mat.Dense, X), x X, rows, k int, accuracy float64) {
	t.Helper()
	fb, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	a, b := mat.NewDense(rows, k, nil), mat.NewDense(rows, k, nil)
	pf(a, x)
	pq(b, x)
	checkQuantized(t, m.NumParams(), len(fb), len(quantizedOf(t, m)), a, b, accuracy)
}

func apply(t *testing.T, tf *data.Transform, d *data.Dataset) *mat.Dense {
	t.Helper()
	x := mat.NewDense(d.Rows(), len(d.Features), nil)
	if err := tf.Apply(x, d.X); err != nil {
		t.Fatal(err)
	}
	return x
}

func checkQuantized(t *testing.T, params, floatBytes, quantBytes int, pf, pq *mat.Dense, accuracy float64) {
	t.Helper()
	same, diff := model.Agreement(pf, pq)
	rows, _ := pf.Dims()
	// Both files share the header, the config, the parameter count and the checksum; the rest is
	// 8 bytes a parameter in float64, and the packed values and their scales when quantized.
	shared := floatBytes - 8*params
	file, weights := float64(floatBytes)/float64(quantBytes), float64(8*params)/float64(quantBytes-shared)
	t.Logf("%d parameters: float64 %d B, quantized %d B (%.2f× smaller; the weights %.2f×); on %d rows: %.2f%% same class, largest |Δp| %.5f; float accuracy %.4f",
		params, floatBytes, quantBytes, file, weights, rows, 100*same, diff, accuracy)
	if weights < 4 || params >= 1000 && file < 4 {
		t.Errorf("quantized file %.2f× smaller than float64, its weights %.2f×: want 4", file, weights)
	}
	if same < 0.99 || diff > 0.01 {
		t.Errorf("quantized model: %.2f%% of classes agree (want ≥ 99%%), largest probability difference %.4f (want ≤ 0.01)", 100*same, diff)
	}
}
