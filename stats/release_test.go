package stats

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/fedcrypt/fedcrypt/dp"
	"gonum.org/v1/gonum/stat/distuv"
)

// analyticDelta is the exact δ(ε) of the Gaussian mechanism with noise
// multiplier z (Balle and Wang 2018, Theorem 8).
func analyticDelta(eps, z float64) float64 {
	phi := distuv.UnitNormal.CDF
	return phi(1/(2*z)-eps*z) - math.Exp(eps)*phi(-1/(2*z)-eps*z)
}

// TestCalibrate checks that the release costs its share of the budget
// under dp's accountants, that this agrees with the exact analytic
// Gaussian, and that the ledger composes it with training.
func TestCalibrate(t *testing.T) {
	spec, schema := testSpec()
	const total, delta = 1.0, 1e-5
	// Shares 0.2 and 0.1: at ε = 0.1 RDP's conversion over Opacus's orders
	// cannot be met by any noise, the PLD accountant can.
	for _, share := range []float64{0.2, 0.1} {
		spec.EpsilonShare = share
		l, err := NewLayout(spec, schema)
		if err != nil {
			t.Fatal(err)
		}
		r, err := l.Calibrate(total, delta)
		if err != nil {
			t.Fatal(err)
		}
		if r.Sigma != r.NoiseMultiplier*l.Sensitivity() || r.Dim != l.Len() || r.PrivacyUnit != "record" || r.Epsilon != share*total {
			t.Errorf("release %+v", r)
		}
		// PLD is exact to 1e-8 for one step: the calibrated noise
		// multiplier meets the analytic Gaussian's δ at the share's ε
		// within the calibration's tolerance.
		if got := analyticDelta(share*total, r.NoiseMultiplier); math.Abs(got-delta) > 1e-3*delta {
			t.Errorf("share %v: analytic Gaussian δ(%v) at z = %v is %v, want %v", share, share*total, r.NoiseMultiplier, got, delta)
		}
		for _, kind := range []string{dp.KindPLD, dp.KindRDP} {
			acc := dp.AccountantConfig{Kind: kind}
			eps, err := dp.Epsilon(acc, delta, r.Event())
			if err != nil {
				t.Fatal(err)
			}
			if !(eps >= share*total*(1-1e-4)) || kind == dp.KindPLD && eps > share*total {
				t.Errorf("share %v, %s: the release costs ε %v, want %v (at least, under RDP)", share, kind, eps, share*total)
			}
			// The ledger records the release under the run's accountant,
			// then training calibrated with it spent brings the run to its
			// total.
			ledger, err := dp.NewLedger(strings.Repeat("ab", 32), 100, dp.LedgerConfig{EpsilonCap: total, Delta: delta, Accountant: acc})
			if err != nil {
				t.Fatal(err)
			}
			e, err := ledger.Reserve(context.Background(), memStore{}, r.Entry("fed/stats"))
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(e-eps) > 1e-12 {
				t.Errorf("ledger ε %v after the release, accountant %v", e, eps)
			}
			train := dp.Event{SampleRate: 0.1, Steps: 50}
			if train.NoiseMultiplier, err = dp.CalibrateNoise(acc, total, delta, train.SampleRate, train.Steps, r.Event()); err != nil {
				t.Fatal(err)
			}
			after, err := ledger.Reserve(context.Background(), memStore{}, dp.Entry{Run: "fed/train", Kind: dp.EntryTraining, Event: train, PrivacyUnit: "record"})
			if err != nil || !(after <= total && after > 0.999*total) {
				t.Errorf("share %v, %s: ε after training %v (%v), want just under %v", share, kind, after, err, total)
			}
		}
	}
}

type memStore struct{}

func (memStore) Load(context.Context) ([]byte, error) { return nil, errors.New("empty") }
func (memStore) Save(context.Context, []byte) error   { return nil }

// TestAddNoise checks that the noise is dp's secure sampler's, of the
// calibrated standard deviation, on its grid.
func TestAddNoise(t *testing.T) {
	r := Release{Sensitivity: 3, NoiseMultiplier: 2.5, Sigma: 7.5, Dim: 40000}
	v := make([]float64, r.Dim)
	for i := range v {
		v[i] = float64(i % 7)
	}
	if err := r.AddNoise(v, rand.NewChaCha8([32]byte{1})); err != nil {
		t.Fatal(err)
	}
	var s, ss float64
	for i, x := range v {
		e := x - float64(i%7)
		s += e
		ss += e * e
	}
	n := float64(r.Dim)
	mean, sd := s/n, math.Sqrt(ss/n-(s/n)*(s/n))
	if math.Abs(mean) > 4*7.5/math.Sqrt(n) || math.Abs(sd/7.5-1) > 0.02 {
		t.Errorf("noise mean %v, sd %v: want 0 and 7.5", mean, sd)
	}
	lambda := math.Ldexp(1, math.Ilogb(7.5)-27)
	for _, x := range v[:100] {
		if x/lambda != math.Trunc(x/lambda) {
			t.Fatalf("%v is not on the sampler's grid of %v", x, lambda)
		}
	}
	if err := r.AddNoise(v[:5], rand.NewChaCha8([32]byte{})); err == nil {
		t.Error("noised a vector of the wrong length")
	}
	v[3] = math.NaN()
	if err := r.AddNoise(v, rand.NewChaCha8([32]byte{})); err == nil {
		t.Error("noised a NaN")
	}
}
