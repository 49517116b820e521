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
