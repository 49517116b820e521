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
// again every round.
func BenchmarkCalibrateRepeated(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := CalibrateNoise(AccountantConfig{Kind: KindRDP}, 1, 1e-5, 0.2, 100); err != nil {
			b.Fatal(err)
		}
	}
}
