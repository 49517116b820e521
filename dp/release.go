package dp

import (
	"context"
	"fmt"
	"io"
	"math"

	"github.com/google/differential-privacy/go/v2/noise"
)

// ReleaseCounts releases counts to which every privacy unit contributes at
// most 1 in total (a histogram or a confusion matrix: each record falls in
// one cell), each with Gaussian noise of standard deviation at least
// noiseMultiplier, drawn by Google's noise.Gaussian() and rounded to an
// integer. It is the Gaussian mechanism with L2 sensitivity 1, so it is
// charged to the ledger as one unsampled step with that noise multiplier,
// durably and before any count is noised; it refuses with an error wrapping
// [ErrBudgetExhausted] when that would exceed the cap. The noisy counts may
// be negative: clamp them at the point of use if needed (post-processing).
func (l *Ledger) ReleaseCounts(ctx context.Context, store Store, run, unit string, counts []int64, noiseMultiplier float64) ([]int64, error) {
	return l.ReleaseVector(ctx, store, run, unit, counts, 1, noiseMultiplier)
}

// ReleaseVector is [Ledger.ReleaseCounts] for counts of L2 sensitivity
// sensitivity: one privacy unit changes several of them (a confusion
// matrix with score histograms, where a row falls in one cell of each), so
// that the noise's standard deviation is noiseMultiplier·sensitivity. The
// ledger's entry, one unsampled step with that noise multiplier, is the
// same: the Gaussian mechanism's guarantee depends on their ratio alone.
func (l *Ledger) ReleaseVector(ctx context.Context, store Store, run, unit string, counts []int64, sensitivity, noiseMultiplier float64) ([]int64, error) {
	return l.ReleaseVectorFrom(ctx, store, run, unit, counts, sensitivity, noiseMultiplier, nil)
}

// ReleaseVectorFrom is [Ledger.ReleaseVector] with the noise drawn from rng
// when rng is not nil: by the package's own secure sampler ([NewNoise],
// [SamplerFast]) keyed from rng, each count is moved by a discrete Gaussian
// on a power-of-two grid of standard deviation at least
// noiseMultiplier·sensitivity, then rounded to an integer. The ledger's
// entry is the same. rng is crypto/rand.Reader for real data; a seeded
// stream makes a simulation's release repeat. With rng nil the noise is
// Google's noise.Gaussian(), as ReleaseVector draws it.
func (l *Ledger) ReleaseVectorFrom(ctx context.Context, store Store, run, unit string, counts []int64, sensitivity, noiseMultiplier float64, rng io.Reader) ([]int64, error) {
	if !(noiseMultiplier > 0) || math.IsInf(noiseMultiplier, 0) {
		return nil, fmt.Errorf("dp: release %q: noise multiplier %v: must be a finite number > 0", run, noiseMultiplier)
	}
	if !(sensitivity >= 1) || math.IsInf(sensitivity, 0) {
		return nil, fmt.Errorf("dp: release %q: sensitivity %v: must be a finite number ≥ 1", run, sensitivity)
	}
	var fast *Noise
	if rng != nil && len(counts) > 0 {
		var err error
		if fast, err = NewNoise(SamplerFast, noiseMultiplier, sensitivity, len(counts), rng); err != nil {
			return nil, fmt.Errorf("dp: release %q: %w", run, err)
		}
	}
	e := Entry{Run: run, Kind: EntryRelease, PrivacyUnit: unit,
		Event: Event{SampleRate: 1, NoiseMultiplier: noiseMultiplier, Steps: 1}}
	if _, err := l.Reserve(ctx, store, e); err != nil {
		return nil, err
	}
	out := make([]int64, len(counts))
	if fast != nil {
		v := make([]float64, len(counts))
		for i, c := range counts {
			v[i] = float64(c)
		}
		if err := fast.Add(v); err != nil {
			return nil, fmt.Errorf("dp: release %q: %w", run, err)
		}
		for i, x := range v {
			out[i] = int64(math.Round(x))
		}
		return out, nil
	}
	g := noise.Gaussian()
	for i, c := range counts {
		v, err := g.AddNoiseFloat64(float64(c), 1, noiseMultiplier*sensitivity, 1, googleDelta)
		if err != nil {
			return nil, fmt.Errorf("dp: release %q: count %d: %w", run, i, err)
		}
		out[i] = int64(math.Round(v))
	}
	return out, nil
}
