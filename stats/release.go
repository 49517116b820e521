package stats

import (
	"fmt"
	"io"
	"math"

	"github.com/fedcrypt/fedcrypt/dp"
)

// A Release is the noise of one hospital's statistics: the Gaussian
// mechanism on a vector of L2 sensitivity Sensitivity with standard
// deviation Sigma = NoiseMultiplier · Sensitivity per coordinate, which on
// its own is (Epsilon, Delta)-DP for the hospital's rows. Every hospital
// adds its own full noise: the guarantee does not depend on the others
// adding theirs, nor on how many take part.
type Release struct {
	Sensitivity     float64 `json:"sensitivity"`
	NoiseMultiplier float64 `json:"noise_multiplier"`
	Sigma           float64 `json:"sigma"`
	Epsilon         float64 `json:"epsilon"` // the target the noise was calibrated to
	Delta           float64 `json:"delta"`
	Dim             int     `json:"dim"`          // the vector's length
	PrivacyUnit     string  `json:"privacy_unit"` // "record" or the privacy-unit column
}

// Calibrate returns the release of l's statistics in a run whose total
// budget is totalEpsilon at delta: the smallest noise multiplier (to a
// relative 1e-6, by [dp.CalibrateNoise]) for which the release alone costs
// at most EpsilonShare · totalEpsilon under the PLD accountant, as one
// unsampled step of the Gaussian mechanism. Training then calibrates to
// totalEpsilon with [Release.Entry]'s event already spent.
func (l *Layout) Calibrate(totalEpsilon, delta float64) (Release, error) {
	if !(totalEpsilon > 0) || math.IsInf(totalEpsilon, 0) {
		return Release{}, fmt.Errorf("stats calibrate: total epsilon %v: must be a finite number > 0", totalEpsilon)
	}
	eps := l.share * totalEpsilon
	// One unsampled Gaussian release is calibrated with the PLD
	// accountant, tight for it (Balle and Wang's analytic Gaussian
	// mechanism up to the grid), whatever the run's accountant: RDP's
	// conversion over Opacus's orders cannot go below ε ≈ 0.1 at δ = 1e-5
	// for any noise. The ledger composes the event under the run's
	// accountant, and training is calibrated with it already spent, so
	// the run's total stays within its ε either way.
	z, err := dp.CalibrateNoise(dp.AccountantConfig{Kind: dp.KindPLD}, eps, delta, 1, 1)
	if err != nil {
		return Release{}, fmt.Errorf("stats calibrate: ε %v of %v at δ %v: %w", eps, totalEpsilon, delta, err)
	}
	d := l.Sensitivity()
	return Release{Sensitivity: d, NoiseMultiplier: z, Sigma: z * d, Epsilon: eps, Delta: delta,
		Dim: l.Len(), PrivacyUnit: l.PrivacyUnit()}, nil
}

// Event returns the accountant event of the release: one step at sampling
// rate 1 with its noise multiplier.
func (r Release) Event() dp.Event {
	return dp.Event{SampleRate: 1, NoiseMultiplier: r.NoiseMultiplier, Steps: 1}
}

// Entry returns the ledger entry to reserve, under run, before the noisy
// vector leaves the hospital.
func (r Release) Entry(run string) dp.Entry {
	return dp.Entry{Run: run, Kind: dp.EntryRelease, Event: r.Event(), ClipNorm: r.Sensitivity, PrivacyUnit: r.PrivacyUnit}
}

// AddNoise adds the release's noise to v in place with dp's secure
// sampler ([dp.NewNoise], [dp.SamplerFast]): every coordinate is snapped
// to a power-of-two grid and moved by a discrete Gaussian of standard
// deviation at least Sigma, keyed from rng (crypto/rand.Reader in
// production). It fails if v's length is not Dim or a coordinate is not
// finite.
func (r Release) AddNoise(v []float64, rng io.Reader) error {
	if len(v) != r.Dim {
		return fmt.Errorf("stats noise: vector of %d values, release of %d", len(v), r.Dim)
	}
	n, err := dp.NewNoise(dp.SamplerFast, r.NoiseMultiplier, r.Sensitivity, r.Dim, rng)
	if err != nil {
		return fmt.Errorf("stats noise: %w", err)
	}
	if err := n.Add(v); err != nil {
		return fmt.Errorf("stats noise: %w", err)
	}
	return nil
}

// TotalNoise returns the standard deviation of the noise in each
// coordinate of the sum of the vectors of hospitals hospitals, each noised
// by r: Sigma·√hospitals. [Layout.Decode] takes it.
func (r Release) TotalNoise(hospitals int) float64 {
	return r.Sigma * math.Sqrt(float64(hospitals))
}
