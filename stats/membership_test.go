package stats

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/dp"
	"github.com/fedcrypt/fedcrypt/model"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distuv"
)

// The membership test of issue 15: does the final model of DP-SGD tell
// whether one outlier row was in the training data? DP-SGD at q = 0.25,
// σ = 4, 10 steps, C = 1 allows no test an accuracy above
// (e^ε + δ)/(1 + e^ε) at the ε its accountant states.
var membershipSGD = dp.SGDConfig{ClipNorm: 1, NoiseMultiplier: 4, SampleRate: 0.25, Steps: 10,
	Optimizer: model.OptimizerConfig{Name: model.OptSGD, LR: 2}}

const (
	membershipRows  = 400
	membershipDelta = 1e-5
	outlierValue    = 1e4
)

// membershipData returns the 400 rows everyone knows (3 features, two
// classes) and the outlier: an ordinary row of class 1 but for its first
// feature, at 1e4.
func membershipData() (*data.Dataset, []float64) {
	d := data.Synthetic(membershipRows, 3, 2, 11)
	outlier := slices.Clone(d.X.RawRowView(0))
	outlier[0] = outlierValue
	return d, outlier
}

// withRow returns d with one more row of class 1.
func withRow(d *data.Dataset, row []float64) (*mat.Dense, []float64) {
	r, c := d.X.Dims()
	x := mat.NewDense(r+1, c, nil)
	x.Copy(d.X)
	x.SetRow(r, row)
	return x, append(slices.Clone(d.Y), 1)
}

// preprocess is how a hospital turns its training rows into model input.
type preprocess func(x *mat.Dense) (*mat.Dense, error)

// fitted is today's per-hospital preprocessing: a transform fitted on the
// very rows DP-SGD trains on.
func fitted(normalize string) preprocess {
	return func(x *mat.Dense) (*mat.Dense, error) {
		tf, err := data.FitTransform(x, data.MissingMean, normalize)
		if err != nil {
			return nil, err
		}
		var out mat.Dense
		return &out, tf.Apply(&out, x)
	}
}

// declared is the federation's transform: minmax from declared bounds,
// values clamped into them, the same whatever the rows.
func declared(bounds [][2]float64) preprocess {
	tf := &data.Transform{Impute: data.MissingMean, Normalize: data.NormalizeMinMax}
	for _, b := range bounds {
		tf.Fill = append(tf.Fill, (b[0]+b[1])/2)
		tf.Shift = append(tf.Shift, b[0])
		tf.Scale = append(tf.Scale, b[1]-b[0])
		tf.Clamp = append(tf.Clamp, &[2]float64{b[0], b[1]})
	}
	return func(x *mat.Dense) (*mat.Dense, error) {
		var out mat.Dense
		return &out, tf.Apply(&out, x)
	}
}

// trainScore trains from a fixed start on x, y and returns the attacker's
// score: the weight of the outlier's feature in the final model.
func trainScore(t testing.TB, prep preprocess, x *mat.Dense, y []float64, seed uint64) float64 {
	xt, err := prep(x)
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.New(model.Config{Kind: model.KindLogReg, Inputs: 3, Outputs: 1, Loss: model.LossBCE}, rand.New(rand.NewPCG(0, 0)))
	if err != nil {
		t.Fatal(err)
	}
	var key [32]byte
	key[0], key[1], key[2] = byte(seed), byte(seed>>8), byte(seed>>16)
	if _, err := dp.Train(m, xt, y, nil, membershipSGD, rand.NewChaCha8(key)); err != nil {
		t.Fatal(err)
	}
	return m.Params()[0]
}

// membershipResult is one attack: its accuracy on the scored runs and the
// one-sided 99% Clopper–Pearson lower bound of that accuracy.
type membershipResult struct {
	accuracy, lower float64
	correct, runs   int
}

// attack runs the membership game with runs runs per arm to choose the
// threshold and as many others, with other seeds, to score it.
func attack(t testing.TB, prep preprocess, runs int) membershipResult {
	d, outlier := membershipData()
	xIn, yIn := withRow(d, outlier)
	scores := func(first uint64) (out, in []float64) {
		for r := range runs {
			out = append(out, trainScore(t, prep, d.X, d.Y, first+uint64(2*r)))
			in = append(in, trainScore(t, prep, xIn, yIn, first+uint64(2*r+1)))
		}
		return out, in
	}
	calOut, calIn := scores(1)
	threshold, above := chooseThreshold(calOut, calIn)
	testOut, testIn := scores(1 + uint64(2*runs))
	correct := guessedRight(testOut, testIn, threshold, above)
	n := 2 * runs
	return membershipResult{accuracy: float64(correct) / float64(n), lower: clopperPearsonLower(correct, n, 0.01), correct: correct, runs: n}
}

// chooseThreshold returns the threshold and direction ("in" when the
// score is above it, or below) with the best accuracy on the given runs.
func chooseThreshold(out, in []float64) (threshold float64, above bool) {
	all := slices.Sorted(slices.Values(append(slices.Clone(out), in...)))
	best := -1
	for i := range all {
		th := all[i]
		if i+1 < len(all) {
			th = (all[i] + all[i+1]) / 2
		}
		for _, a := range []bool{true, false} {
			if c := guessedRight(out, in, th, a); c > best {
				best, threshold, above = c, th, a
			}
		}
	}
	return threshold, above
}

// guessedRight counts the runs the attacker places in the right arm: "in"
// when the score is above the threshold (below, if not above).
func guessedRight(out, in []float64, threshold float64, above bool) int {
	c := 0
	for _, s := range out {
		if (s > threshold) != above {
			c++
		}
	}
	for _, s := range in {
		if (s > threshold) == above {
			c++
		}
	}
	return c
}

// clopperPearsonLower is the one-sided 1−α lower confidence bound of a
// binomial proportion after k successes in n trials.
func clopperPearsonLower(k, n int, alpha float64) float64 {
	if k == 0 {
		return 0
	}
	return distuv.Beta{Alpha: float64(k), Beta: float64(n - k + 1)}.Quantile(alpha)
}

// TestMembershipOutlier is the empirical privacy test: fitting the
// normalization on the training rows lets the attacker tell whether the
// outlier was there far beyond what the stated ε allows (the test has
// teeth), and the federation's transform keeps it within the bound.
func TestMembershipOutlier(t *testing.T) {
	eps, err := dp.Epsilon(dp.AccountantConfig{Kind: dp.KindPLD}, membershipDelta, membershipSGD.Event())
	if err != nil {
		t.Fatal(err)
	}
	epsRDP, err := dp.Epsilon(dp.AccountantConfig{Kind: dp.KindRDP}, membershipDelta, membershipSGD.Event())
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(epsRDP-0.9) > 0.01 || !(eps <= epsRDP) {
		t.Fatalf("ε %v (PLD), %v (RDP): want about 0.9 from RDP and no more from PLD", eps, epsRDP)
	}
	limit := (math.Exp(eps) + membershipDelta) / (1 + math.Exp(eps))
	runs := 100
	if testing.Short() {
		runs = 80
	}
	bounds := [][2]float64{{-4, 4}, {-4, 4}, {-4, 4}}
	tests := []struct {
		name     string
		prep     preprocess
		succeeds bool
	}{
		{"per-hospital zscore", fitted(data.NormalizeZScore), true},
		{"per-hospital minmax", fitted(data.NormalizeMinMax), true},
		{"federation transform", declared(bounds), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := attack(t, tt.prep, runs)
			t.Logf("ε %.3f (PLD; RDP %.3f) at δ %g: limit %.4f; attack accuracy %.3f (%d of %d), 99%% lower bound %.4f",
				eps, epsRDP, membershipDelta, limit, r.accuracy, r.correct, r.runs, r.lower)
			if exceeds := r.lower > limit; exceeds != tt.succeeds {
				t.Errorf("lower bound %.4f against the limit %.4f: the attack should %s", r.lower, limit,
					map[bool]string{true: "succeed", false: "stay within it"}[tt.succeeds])
			}
		})
	}
}
