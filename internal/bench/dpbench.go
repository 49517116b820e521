package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
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
// and non-private (backward, summed gradient, SGD step), batch 64.
type DPModel struct {
	Model  string `json:"model"`
	Params int    `json:"params"`
	// Examples per second over Steps steps, best and worst repetition.
	Private    Span `json:"private_examples_per_s"`
	NonPrivate Span `json:"nonprivate_examples_per_s"`
	// Ratio is the best private time per example over the best
	// non-private time per example, measured alternately in one run.
	Ratio float64 `json:"ratio"`
	Steps int     `json:"steps"`
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
	plain := func() error {
		for i := range steps {
			k := i % len(batches)
			mPlain.Backward(ws, batches[k], targets[k])
			ws.Gradient(grad, nil)
			floats.Scale(1.0/benchBatch, grad)
			o.Step(mPlain.Params(), grad)
		}
		return nil
	}
	var examples float64
	private := func() error {
		st, err := dp.Train(mPriv, ds.X, ds.Y, nil, sgd, rand.Reader)
		examples = st.MeanBatch * float64(st.Steps)
		return err
	}
	// Alternate so both see the same load; keep the best time per example.
	bestPriv, bestPlain := Span{}, Span{}
	for range s.reps {
		pf, _, err := repeat(ctx, 1, private)
		if err != nil {
			return DPModel{}, err
		}
		qf, _, err := repeat(ctx, 1, plain)
		if err != nil {
			return DPModel{}, err
		}
		bestPriv = widen(bestPriv, examples/pf.Seconds())
		bestPlain = widen(bestPlain, float64(steps*benchBatch)/qf.Seconds())
	}
	return DPModel{Model: spec, Params: mPriv.NumParams(), Private: bestPriv, NonPrivate: bestPlain,
		Ratio: bestPlain.Best / bestPriv.Best, Steps: steps}, nil
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
