package stats

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/model"
	"gonum.org/v1/gonum/mat"
)

// multiSiteSpec declares public clinical ranges for data.MultiSite's
// features, in the federation's units.
var multiSiteSpec = Spec{EpsilonShare: 0.3, Features: []FeatureSpec{
	{Name: "age", Bounds: &[2]float64{18, 100}, Bins: 16},
	{Name: "sbp", Bounds: &[2]float64{70, 250}, Bins: 18},
	{Name: "glucose", Bounds: &[2]float64{40, 400}, Bins: 18},
	{Name: "bmi", Bounds: &[2]float64{12, 60}, Bins: 16},
}}

// harmonizedSites returns data.MultiSite's hospitals in the federation's
// units, each split into training and test rows.
func harmonizedSites(t *testing.T, rows int, seed uint64) (train, test []*data.Dataset) {
	for _, s := range data.MultiSite(rows, seed) {
		if err := s.Data.ScaleColumns(s.Scale); err != nil {
			t.Fatal(err)
		}
		tr, te, err := data.StratifiedSplit(s.Data, 0.3, seed)
		if err != nil {
			t.Fatal(err)
		}
		train, test = append(train, tr), append(test, te)
	}
	return train, test
}

// pooled stacks the rows of ds, each transformed by its own transform.
func pooled(t *testing.T, ds []*data.Dataset, tfs []*data.Transform) (*mat.Dense, []float64) {
	var x mat.Dense
	var y []float64
	for i, d := range ds {
		var xt mat.Dense
		if err := tfs[i].Apply(&xt, d.X); err != nil {
			t.Fatal(err)
		}
		if x.IsEmpty() {
			x.CloneFrom(&xt)
		} else {
			var s mat.Dense
			s.Stack(&x, &xt)
			x = s
		}
		y = append(y, d.Y...)
	}
	return &x, y
}

// centralAccuracy trains a logistic regression without privacy on the
// pooled training rows, each hospital's through its transform, and
// returns its accuracy on the pooled test rows, likewise transformed.
func centralAccuracy(t *testing.T, train, test []*data.Dataset, tfs []*data.Transform) float64 {
	x, y := pooled(t, train, tfs)
	m, err := model.New(model.Config{Kind: model.KindLogReg, Inputs: 4, Outputs: 1, Loss: model.LossBCE}, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if err := model.Fit(m, x, y, model.FitConfig{Epochs: 40, BatchSize: 32, Optimizer: model.OptimizerConfig{Name: model.OptAdam, LR: 0.05}, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	xt, yt := pooled(t, test, tfs)
	return model.Evaluate(m, xt, yt).Accuracy
}

// ownTransform is today's per-hospital preprocessing: zscore fitted on the
// hospital's own training rows; a column it never measures is set to 0,
// the mean after normalization.
func ownTransform(t *testing.T, d *data.Dataset) *data.Transform {
	x := mat.DenseCopyOf(d.X)
	r, c := x.Dims()
	for j := range c {
		absent := true
		for i := range r {
			absent = absent && math.IsNaN(x.At(i, j))
		}
		for i := range r {
			if absent {
				x.Set(i, j, 0)
			}
		}
	}
	tf, err := data.FitTransform(x, data.MissingMean, data.NormalizeZScore)
	if err != nil {
		t.Fatal(err)
	}
	return tf
}

func same(tf *data.Transform, n int) []*data.Transform {
	out := make([]*data.Transform, n)
	for i := range out {
		out[i] = tf
	}
	return out
}

// TestMultiSite is the centralized check of issue 15 on data.MultiSite:
// normalizing each hospital on its own rows loses at least 5 points
// against one normalization of the pooled, harmonized rows; the
// federation's transform from its DP statistics (ε 0.3, the share of a
// run's ε = 1) loses at most 2, and its statistics are within their
// stated errors.
func TestMultiSite(t *testing.T) {
	train, test := harmonizedSites(t, 1500, 7)
	var all *data.Dataset
	for _, d := range train {
		if all == nil {
			all = d.Subset(rangeRows(d.Rows()))
			continue
		}
		var x mat.Dense
		x.Stack(all.X, d.X)
		all.X, all.Y = &x, append(all.Y, d.Y...)
	}
	global, err := data.FitTransform(all.X, data.MissingMean, data.NormalizeZScore)
	if err != nil {
		t.Fatal(err)
	}
	ref := centralAccuracy(t, train, test, same(global, len(train)))

	own := make([]*data.Transform, len(train))
	for i, d := range train {
		own[i] = ownTransform(t, d)
	}
	perSite := centralAccuracy(t, train, test, own)

	l, err := NewLayout(multiSiteSpec, train[0].Schema())
	if err != nil {
		t.Fatal(err)
	}
	r, err := l.Calibrate(1, 1e-5)
	if err != nil {
		t.Fatal(err)
	}
	s, err := l.Decode(sumEncoded(t, l, train, &r, 7), r.TotalNoise(len(train)))
	if err != nil {
		t.Fatal(err)
	}
	fed, _, err := s.Transform(data.MissingMean, data.NormalizeZScore)
	if err != nil {
		t.Fatal(err)
	}
	federation := centralAccuracy(t, train, test, same(fed, len(train)))
	t.Logf("accuracy: pooled harmonized %.4f, per-site zscore %.4f (%+.1f points), federation's DP transform %.4f (%+.1f points)",
		ref, perSite, 100*(perSite-ref), federation, 100*(federation-ref))
	t.Logf("release: sensitivity %.3f, noise multiplier %.3f, σ %.2f per hospital, ε %.2f", r.Sensitivity, r.NoiseMultiplier, r.Sigma, r.Epsilon)
	if ref-perSite < 0.05 {
		t.Errorf("per-site normalization loses %.1f points, want ≥ 5", 100*(ref-perSite))
	}
	if ref-federation > 0.02 {
		t.Errorf("the federation's transform loses %.1f points, want ≤ 2", 100*(ref-federation))
	}
	for j, f := range s.Features {
		b := *f.Bounds
		tr := exact(train, j, b[0], b[1])
		t.Logf("%-7s mean %.2f ± %.2f (exact %.2f), sd %.2f (exact %.2f), median %.1f in [%.1f, %.1f] (exact %.1f), missing %.3f (exact %.3f)",
			f.Name, f.All.Mean.Value, f.All.Mean.SE, tr.mean, math.Sqrt(f.All.Variance.Value), math.Sqrt(tr.variance),
			f.All.Median.Value, f.All.Median.Lo, f.All.Median.Hi, tr.median, f.All.MissingFraction.Value, tr.missing/(tr.n+tr.missing))
		// Four standard errors: one run, many figures.
		if math.Abs(f.All.Mean.Value-tr.mean) > 4*f.All.Mean.SE || math.Abs(f.All.Variance.Value-tr.variance) > 4*f.All.Variance.SE {
			t.Errorf("%s: DP mean or variance beyond 4 standard errors of the exact", f.Name)
		}
	}
}

func rangeRows(n int) []int {
	r := make([]int, n)
	for i := range r {
		r[i] = i
	}
	return r
}
