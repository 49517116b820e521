package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"runtime"
	"time"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/dp"
	"github.com/fedcrypt/fedcrypt/model"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// benchBatch is the expected batch of every DP-SGD measurement.
const benchBatch = 64

// DPModel is the training throughput of one model on wdbc, private
// (dp.Train: Poisson sampling, per-example clipping, fast noise, SGD step)
// and non-private (backward, summed gradient, SGD step), batch 64, both
// sides with the same parallelism: GOMAXPROCS 1, then all cores.
type DPModel struct {
	Model  string `json:"model"`
	Params int    `json:"params"`
	// Examples per second over Steps steps on all cores, best and worst
	// repetition (what plan scales a hospital's training time from).
	Private    Span `json:"private_examples_per_s"`
	NonPrivate Span `json:"nonprivate_examples_per_s"`
	// The same on one core (runtime.GOMAXPROCS(1) for both sides).
	PrivateOneCore    Span `json:"private_examples_per_s_1_core"`
	NonPrivateOneCore Span `json:"nonprivate_examples_per_s_1_core"`
	// RatioOneCore and RatioAllCores are the best private time per example
	// over the best non-private time per example at equal parallelism,
	// the two sides measured alternately in one run.
	RatioOneCore  float64 `json:"ratio_1_core"`
	RatioAllCores float64 `json:"ratio_all_cores"`
	Steps         int     `json:"steps"`
}

// NoiseCost is one DP noise sampler's cost, on all cores.
type NoiseCost struct {
	Sampler   string `json:"sampler"`
	Draws     int    `json:"draws"`
	NsPerDraw Span   `json:"ns_per_draw"` // best is the smallest
}

// dpModels are the measured models on wdbc's 30 features: logistic
// regression (31 parameters), and MLPs of 9,921 and 1,012,771 parameters.
func dpModels(quick bool) []string {
	if quick {
		return []string{"logreg", "mlp:310"}
	}
	return []string{"logreg", "mlp:310", "mlp:990,990"}
}

func measureDP(ctx context.Context, s sizes) ([]DPModel, error) {
	ds, _, err := data.LoadEmbedded("wdbc", data.Options{})
	if err != nil {
		return nil, fmt.Errorf("load wdbc: %w", err)
	}
	var out []DPModel
	for _, spec := range dpModels(s.quick) {
		r, err := measureModel(ctx, ds, spec, s)
		if err != nil {
			return nil, fmt.Errorf("dp-sgd %s: %w", spec, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func measureModel(ctx context.Context, ds *data.Dataset, spec string, s sizes) (DPModel, error) {
	cfg, err := model.ParseSpec(spec, len(ds.Features), len(ds.Classes))
	if err != nil {
		return DPModel{}, err
	}
	rng := mrand.New(mrand.NewPCG(1, 2))
	mPriv, err := model.New(cfg, rng)
	if err != nil {
		return DPModel{}, err
	}
	mPlain := mPriv.Clone()
	rows := ds.Rows()
	opt := model.OptimizerConfig{Name: "sgd", LR: 0.01}
	steps := s.dpSteps
	if mPriv.NumParams() > 100_000 {
		steps = max(1, steps/4)
	}
	sgd := dp.SGDConfig{ClipNorm: 1, NoiseMultiplier: 1.1, SampleRate: benchBatch / float64(rows), Steps: steps, Optimizer: opt}

	// Non-private: consecutive batches of 64 rows, plain mean gradient.
	ws := model.NewWorkspace(mPlain)
	grad := make([]float64, mPlain.NumParams())
	o, err := model.NewOptimizer(opt, mPlain.NumParams())
	if err != nil {
		return DPModel{}, err
	}
	var batches []*mat.Dense
	var targets [][]float64
	for lo := 0; lo+benchBatch <= rows; lo += benchBatch {
		batches = append(batches, mat.DenseCopyOf(ds.X.Slice(lo, lo+benchBatch, 0, len(ds.Features))))
		targets = append(targets, ds.Y[lo:lo+benchBatch])
	}
	plain := func() (float64, error) {
		for i := range steps {
			k := i % len(batches)
			mPlain.Backward(ws, batches[k], targets[k])
			ws.Gradient(grad, nil)
			floats.Scale(1.0/benchBatch, grad)
			o.Step(mPlain.Params(), grad)
		}
		return float64(steps * benchBatch), nil
	}
	private := func() (float64, error) {
		st, err := dp.Train(mPriv, ds.X, ds.Y, nil, sgd, rand.Reader)
		return st.MeanBatch * float64(st.Steps), err
	}
	r := DPModel{Model: spec, Params: mPriv.NumParams(), Steps: steps}
	err = atEachParallelism(func(threads int) error {
		priv, non, err := alternate(ctx, s.reps, private, plain)
		if err != nil {
			return err
		}
		if threads == 1 {
			r.PrivateOneCore, r.NonPrivateOneCore, r.RatioOneCore = priv, non, non.Best/priv.Best
		} else {
			r.Private, r.NonPrivate, r.RatioAllCores = priv, non, non.Best/priv.Best
		}
		return nil
	})
	return r, err
}

// atEachParallelism runs f with GOMAXPROCS 1, then with all the cores the
// process had, and restores GOMAXPROCS before it returns. Both sides of a
// ratio must be measured inside one call of f: the private step draws its
// noise on other cores while it computes the gradients, so with more cores
// available to it than to the non-private step the ratio says nothing.
func atEachParallelism(f func(threads int) error) error {
	procs := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(procs)
	for _, threads := range []int{1, procs} {
		runtime.GOMAXPROCS(threads)
		if err := f(threads); err != nil {
			return err
		}
	}
	return nil
}

// alternate runs a, then b, reps times, so that both see the same load, and
// returns each one's rate: the work units it reports per second, best and
// worst repetition.
func alternate(ctx context.Context, reps int, a, b func() (float64, error)) (ra, rb Span, err error) {
	for range reps {
		for _, f := range []struct {
			run  func() (float64, error)
			rate *Span
		}{{a, &ra}, {b, &rb}} {
			var work float64
			d, _, err := repeat(ctx, 1, func() (err error) { work, err = f.run(); return err })
			if err != nil {
				return Span{}, Span{}, err
			}
			*f.rate = widen(*f.rate, work/d.Seconds())
		}
	}
	return ra, rb, nil
}

// widen adds one rate (higher is better) to a Span.
func widen(s Span, r float64) Span {
	if s.Best == 0 {
		return Span{Best: r, Worst: r}
	}
	return Span{Best: max(s.Best, r), Worst: min(s.Worst, r)}
}

func measureNoise(ctx context.Context, s sizes) ([]NoiseCost, error) {
	var out []NoiseCost
	for _, c := range []struct {
		name string
		dim  int
	}{{dp.SamplerFast, s.noiseFast}, {dp.SamplerGoogle, s.noiseGoogle}} {
		n, err := dp.NewNoise(c.name, 1.1, 1, c.dim, rand.Reader)
		if err != nil {
			return nil, err
		}
		v := make([]float64, c.dim)
		fast, slow, err := repeat(ctx, s.reps, func() error { return n.Add(v) })
		if err != nil {
			return nil, fmt.Errorf("noise %s: %w", c.name, err)
		}
		out = append(out, NoiseCost{Sampler: c.name, Draws: c.dim,
			NsPerDraw: Span{Best: nsPer(fast, c.dim), Worst: nsPer(slow, c.dim)}})
	}
	return out, nil
}

func nsPer(d time.Duration, n int) float64 { return float64(d.Nanoseconds()) / float64(n) }
