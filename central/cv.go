package central

import (
	"context"
	"fmt"
	"math"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/dp"
	"github.com/fedcrypt/fedcrypt/model"
)

// Summary is the mean and standard deviation of each metric over folds;
// under DP its Privacy is the first fold's, with Epsilon composed over the
// K−1 trainings each row takes part in, and FoldEpsilon one fold's.
type Summary struct {
	Privacy
	FoldEpsilon  float64 `json:"fold_epsilon,omitempty"`
	Folds        int     `json:"folds"`
	Accuracy     float64 `json:"accuracy"`
	AccuracyStd  float64 `json:"accuracy_std"`
	Precision    float64 `json:"precision"`
	PrecisionStd float64 `json:"precision_std"`
	Recall       float64 `json:"recall"`
	RecallStd    float64 `json:"recall_std"`
	F1           float64 `json:"f1"`
	F1Std        float64 `json:"f1_std"`
	AUC          float64 `json:"auc"`
	AUCStd       float64 `json:"auc_std"`
	Brier        float64 `json:"brier"`
	BrierStd     float64 `json:"brier_std"`
	ECE          float64 `json:"ece"`
	ECEStd       float64 `json:"ece_std"`
}

// CrossValidate trains on each of k stratified folds of ds with train
// ([Train], or a wrapper of it) and summarizes the folds' metrics. It stops
// between folds when ctx is done. The folds are drawn with seed.
func CrossValidate(ctx context.Context, ds *data.Dataset, k int, seed uint64, s Settings, train func(train, test *data.Dataset, s Settings) (Result, error)) (Summary, error) {
	folds, err := data.StratifiedKFold(ds, k, seed)
	if err != nil {
		return Summary{}, err
	}
	var runs []Result
	for i, f := range folds {
		if err := ctx.Err(); err != nil {
			return Summary{}, err
		}
		r, err := train(f.Train, f.Test, s)
		if err != nil {
			return Summary{}, fmt.Errorf("fold %d: %w", i+1, err)
		}
		runs = append(runs, r)
	}
	metrics := make([]model.Metrics, len(runs))
	for i, r := range runs {
		metrics[i] = r.Metrics
	}
	sum := summarize(metrics)
	if s.DP {
		// Every row trains in K−1 folds: compose those runs' steps.
		var events []dp.Event
		for _, r := range runs[:len(runs)-1] {
			events = append(events, dp.Event{SampleRate: r.SampleRate, NoiseMultiplier: r.NoiseMultiplier, Steps: r.Steps})
		}
		eps, err := dp.Epsilon(dp.AccountantConfig{Kind: s.Accountant}, s.Delta, events...)
		if err != nil {
			return Summary{}, err
		}
		sum.Privacy = runs[0].Privacy
		sum.FoldEpsilon, sum.Epsilon = runs[0].Epsilon, eps
	}
	return sum, nil
}

func summarize(runs []model.Metrics) Summary {
	stat := func(get func(model.Metrics) float64) (mean, std float64) {
		for _, r := range runs {
			mean += get(r)
		}
		mean /= float64(len(runs))
		for _, r := range runs {
			d := get(r) - mean
			std += d * d
		}
		return mean, math.Sqrt(std / float64(len(runs)))
	}
	var s Summary
	s.Folds = len(runs)
	s.Accuracy, s.AccuracyStd = stat(func(m model.Metrics) float64 { return m.Accuracy })
	s.Precision, s.PrecisionStd = stat(func(m model.Metrics) float64 { return m.Precision })
	s.Recall, s.RecallStd = stat(func(m model.Metrics) float64 { return m.Recall })
	s.F1, s.F1Std = stat(func(m model.Metrics) float64 { return m.F1 })
	s.AUC, s.AUCStd = stat(func(m model.Metrics) float64 { return m.AUC })
	s.Brier, s.BrierStd = stat(func(m model.Metrics) float64 { return m.Brier })
	s.ECE, s.ECEStd = stat(func(m model.Metrics) float64 { return m.ECE })
	return s
}
