package export

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/model"
	"gonum.org/v1/gonum/mat"
)

// trained is a model trained on part of an embedded data set, and raw
// held-out rows of it with missing cells injected.
type trained struct {
	m   Model
	raw *mat.Dense
}

// train fits spec on 75% of the embedded set name, with the transform fitted
// on those rows (clamping every other column), and returns it with up to rows held-out raw rows.
func train(t testing.TB, name, spec string, rows int) trained {
	t.Helper()
	ds, _, err := data.LoadEmbedded(name, data.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tr, te, err := data.StratifiedSplit(ds, 0.25, 7)
	if err != nil {
		t.Fatal(err)
	}
	tf, err := data.FitTransform(tr.X, data.MissingMean, data.NormalizeZScore)
	if err != nil {
		t.Fatal(err)
	}
	// Every other column clamped to within half a standard deviation of
	// its mean, as a federation clamps to declared bounds: most values
	// of those columns hit a bound.
	tf.Clamp = make([]*[2]float64, tf.Columns())
	for j := 0; j < tf.Columns(); j += 2 {
		tf.Clamp[j] = &[2]float64{tf.Shift[j] - tf.Scale[j]/2, tf.Shift[j] + tf.Scale[j]/2}
	}
	x := mat.NewDense(tr.Rows(), len(tr.Features), nil)
	if err := tf.Apply(x, tr.X); err != nil {
		t.Fatal(err)
	}
	cfg, err := model.ParseSpec(spec, len(tr.Features), len(tr.Classes))
	if err != nil {
		t.Fatal(err)
	}
	net, err := model.New(cfg, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	if err := model.Fit(net, x, tr.Y, model.FitConfig{Epochs: 10, BatchSize: 32, Seed: 1,
		Optimizer: model.OptimizerConfig{Name: model.OptAdam, LR: 0.01}}); err != nil {
		t.Fatal(err)
	}
	n := min(rows, te.Rows())
	raw := mat.DenseCopyOf(te.X.Slice(0, n, 0, len(te.Features)))
	injectMissing(raw)
	return trained{m: Model{Network: net, Schema: tr.Schema(), Transform: tf, Federation: "test federation"}, raw: raw}
}

// injectMissing makes about one cell in five of x missing, and all of its
// first row.
func injectMissing(x *mat.Dense) {
	r, c := x.Dims()
	for i := range r {
		for j := range c {
			if i == 0 || (i*31+j*7)%5 == 0 {
				x.Set(i, j, math.NaN())
			}
		}
	}
}

// reference returns fedcrypt's own class probabilities for the raw rows x:
// the transform applied, then the network, as `fedcrypt predict` scores;
// a binary model's one output p becomes the columns 1 − p, p.
func reference(t testing.TB, m Model, x *mat.Dense) *mat.Dense {
	t.Helper()
	r, c := x.Dims()
	xt := mat.NewDense(r, c, nil)
	if err := m.Transform.Apply(xt, x); err != nil {
		t.Fatal(err)
	}
	k := m.Network.Config().Outputs
	p := mat.NewDense(r, k, nil)
	m.Network.Predict(p, xt)
	if k > 1 {
		return p
	}
	out := mat.NewDense(r, 2, nil)
	for i := range r {
		out.Set(i, 0, 1-p.At(i, 0))
		out.Set(i, 1, p.At(i, 0))
	}
	return out
}

// maxAbsDiff returns max |a − b| over the cells, +Inf when the shapes
// differ or a cell is NaN in either.
func maxAbsDiff(a, b *mat.Dense) float64 {
	ar, ac := a.Dims()
	br, bc := b.Dims()
	if ar != br || ac != bc {
		return math.Inf(1)
	}
	d := 0.0
	for i := range ar {
		for j := range ac {
			x, y := a.At(i, j), b.At(i, j)
			if math.IsNaN(x) || math.IsNaN(y) {
				return math.Inf(1)
			}
			d = max(d, math.Abs(x-y))
		}
	}
	return d
}
