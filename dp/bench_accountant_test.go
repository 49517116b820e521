package dp

import (
	"fmt"
	"testing"
)

// BenchmarkPLD measures the PLD accountant's ε for n steps (both directions,
// default discretization).
func BenchmarkPLD(b *testing.B) {
	for _, c := range []Event{{0.001, 1.5, 100000}, {0.05, 1.5, 1000}} {
		b.Run(fmt.Sprintf("q=%g/sigma=%g/steps=%d", c.SampleRate, c.NoiseMultiplier, c.Steps), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Epsilon(AccountantConfig{Kind: KindPLD}, 1e-6, c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRDP measures the RDP accountant's ε over Opacus's 151 orders.
func BenchmarkRDP(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Epsilon(AccountantConfig{Kind: KindRDP}, 1e-5, Event{0.04, 1.5, 2250}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCalibrateRepeated is the calibration every hospital of a
// simulated federation runs with the same settings (sim's defaults: q 0.2,
// 5 rounds of 20 steps), as each client does when it opens its ledger and
// again every round. "computed" forgets the remembered results first, so
// it measures the search itself (with the per-step RDP memo warm).
func BenchmarkCalibrateRepeated(b *testing.B) {
	for _, forget := range []bool{false, true} {
		name := "remembered"
		if forget {
			name = "computed"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if forget {
					calibrated.Lock()
					calibrated.m = nil
					calibrated.Unlock()
				}
				if _, err := CalibrateNoise(AccountantConfig{Kind: KindRDP}, 1, 1e-5, 0.2, 100); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
