package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"

	"github.com/fedcrypt/fedcrypt/dp"
	"github.com/fedcrypt/fedcrypt/model"
	"gonum.org/v1/gonum/floats"
)

// Shape of the text measurements: a training fold of the medical abstracts (1,600 documents of
// about 100 distinct tokens, 5 classes), batch 32 as `train --text` uses.
const (
	textDocs   = 1600
	textTokens = 100
	textBatch  = 32
)

// TextModel is the training time of one epoch of a text model on sparse input shaped like the
// medical abstracts, private (dp.TrainSparse: Poisson sampling at 32/1600 for 50 steps, exact
// per-example clipping, dense noise on every parameter) and non-private (model.FitSparse, one
// epoch of batches of 32), both with the same number of threads: GOMAXPROCS 1, then all cores.
type TextModel struct {
	Model   string `json:"model"`
	Buckets int    `json:"buckets"`
	Params  int    `json:"params"`
	// Seconds per epoch, best and worst repetition; Best is the smallest.
	PrivateOneCore     Span `json:"private_s_per_epoch_1_core"`
	NonPrivateOneCore  Span `json:"nonprivate_s_per_epoch_1_core"`
	PrivateAllCores    Span `json:"private_s_per_epoch_all_cores"`
	NonPrivateAllCores Span `json:"nonprivate_s_per_epoch_all_cores"`
	// Ratios of the best private to the best non-private epoch at equal threads.
	RatioOneCore  float64 `json:"ratio_1_core"`
	RatioAllCores float64 `json:"ratio_all_cores"`
}

// textModels are the measured text models: softmax regression on 2¹¹ buckets (the default under
// DP) and 2¹⁸ (without), and an embedding bag; smaller with quick.
func textModels(quick bool) []struct {
	spec    string
	buckets int
} {
	if quick {
		return []struct {
			spec    string
			buckets int
		}{{"softmax", 1 << 11}, {"embag:16", 1 << 11}}
	}
	return []struct {
		spec    string
		buckets int
	}{{"softmax", 1 << 11}, {"softmax", 1 << 18}, {"embag:64", 1 << 16}}
}

// syntheticText returns textDocs documents of textTokens Zipf-like token ids over buckets,
// l2-normalized as the featurizer leaves them, and labels 0..4.
func syntheticText(buckets int) (*model.CSR, []float64) {
	r := mrand.New(mrand.NewPCG(18, 1))
	x := model.NewCSR(buckets)
	y := make([]float64, textDocs)
	idx, val := make([]int, textTokens), make([]float64, textTokens)
	for i := range textDocs {
		y[i] = float64(i % 5)
		for k := range idx {
			idx[k] = int(float64(buckets) * r.Float64() * r.Float64() * r.Float64())
			val[k] = 1
		}
		if err := x.AppendRow(idx, val); err != nil {
			panic("bench: " + err.Error()) // ids are in range by construction
		}
		_, v := x.Row(i)
		floats.Scale(1/floats.Norm(v, 2), v)
	}
	return x, y
}

func measureText(ctx context.Context, s sizes) ([]TextModel, error) {
	var out []TextModel
	for _, c := range textModels(s.quick) {
		r, err := measureTextModel(ctx, c.spec, c.buckets, s)
		if err != nil {
			return nil, fmt.Errorf("text %s: %w", c.spec, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func measureTextModel(ctx context.Context, spec string, buckets int, s sizes) (TextModel, error) {
	x, y := syntheticText(buckets)
	cfg, err := model.ParseSparseSpec(spec, buckets, 5)
	if err != nil {
		return TextModel{}, err
	}
	m0, err := model.NewSparse(cfg, mrand.New(mrand.NewPCG(1, 2)))
	if err != nil {
		return TextModel{}, err
	}
	opt := model.OptimizerConfig{Name: model.OptSGD, LR: 0.1}
	sgd := dp.SGDConfig{ClipNorm: 1, NoiseMultiplier: 1.1, SampleRate: textBatch / float64(textDocs), Steps: textDocs / textBatch, Optimizer: opt}
	private := func() (float64, error) {
		_, err := dp.TrainSparse(m0.Clone(), x, y, nil, sgd, rand.Reader)
		return 1, err
	}
	plain := func() (float64, error) {
		return 1, model.FitSparse(m0.Clone(), x, y, model.FitConfig{Epochs: 1, BatchSize: textBatch, Seed: 1, Optimizer: opt})
	}
	reps := s.reps
	if m0.NumParams() > 1_000_000 {
		reps = min(reps, 2)
	}
	r := TextModel{Model: spec, Buckets: buckets, Params: m0.NumParams()}
	err = atEachParallelism(func(threads int) error {
		pr, nr, err := alternate(ctx, reps, private, plain)
		if err != nil {
			return err
		}
		priv, non := perUnit(pr), perUnit(nr) // seconds per epoch
		if threads == 1 {
			r.PrivateOneCore, r.NonPrivateOneCore, r.RatioOneCore = priv, non, priv.Best/non.Best
		} else {
			r.PrivateAllCores, r.NonPrivateAllCores, r.RatioAllCores = priv, non, priv.Best/non.Best
		}
		return nil
	})
	return r, err
}

// perUnit turns a rate (units per second) into seconds per unit; the best
// is the smallest.
func perUnit(r Span) Span { return Span{Best: 1 / r.Best, Worst: 1 / r.Worst} }
