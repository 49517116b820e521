package bench

import (
	"context"
	"testing"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/sim"
)

// BenchmarkSimDefault is `fedcrypt sim` with no flags (wdbc, 3 hospitals,
// CKKS and DP on, 5 rounds), seeded. Profile with
//
//	go test ./bench -run '^$' -bench SimDefault -benchtime 3x -cpuprofile /tmp/sim.cpu
func BenchmarkSimDefault(b *testing.B) {
	ds, _, err := data.LoadEmbedded("wdbc", data.Options{})
	if err != nil {
		b.Fatal(err)
	}
	cfg := sim.Defaults()
	seed := uint64(1)
	cfg.Seed = &seed
	b.ReportAllocs()
	var secs float64
	for b.Loop() {
		res, err := sim.Run(context.Background(), ds, cfg)
		if err != nil {
			b.Fatal(err)
		}
		secs = res.Seconds
	}
	b.ReportMetric(secs, "run-s")
}

// BenchmarkRound1M is one encrypted round of 10 hospitals training the
// 1,012,771-parameter MLP (5 DP-SGD steps of 64 rows each), and its
// plaintext twin. Profile with
//
//	go test ./bench -run '^$' -bench Round1M/encrypted -benchtime 1x -cpuprofile /tmp/round.cpu
func BenchmarkRound1M(b *testing.B) {
	s := Config{}.sizes()
	s.roundCount = 1
	ds := roundData(10, s.roundRows)
	for _, enc := range []bool{true, false} {
		name := "plaintext"
		if enc {
			name = "encrypted"
		}
		b.Run(name, func(b *testing.B) {
			cfg := roundConfig(10, "mlp:990,990", s, enc)
			b.ReportAllocs()
			var secs float64
			for b.Loop() {
				res, err := sim.Run(context.Background(), ds, cfg)
				if err != nil {
					b.Fatal(err)
				}
				secs = res.History[len(res.History)-1].Seconds
			}
			b.ReportMetric(secs, "round-s")
		})
	}
}
