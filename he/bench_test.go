package he

import (
	"crypto/rand"
	"fmt"
	"math"
	"testing"
)

// forPresets runs f as the sub-benchmark preset=<preset>/<name> for each
// real preset, with a key policy of k key holders and c contributors.
func forPresets(b *testing.B, name string, k, c int, f func(b *testing.B, p *Params)) {
	for _, id := range []PresetID{PresetCompact, PresetPrecise} {
		p, err := Preset(id)
		if err != nil {
			b.Fatal(err)
		}
		p = testPolicy(b, p, k, c)
		b.Run(fmt.Sprintf("preset=%v/%s", id, name), func(b *testing.B) { f(b, p) })
	}
}

const benchParams = 1_000_000

// go test ./he -run '^$' -bench Encrypt -cpu 1,2 -benchtime 5x
func BenchmarkEncrypt(b *testing.B) {
	forPresets(b, "params=1e6", 3, 1, func(b *testing.B, p *Params) {
		_, pk := federation(b, p, 3, 2, seeded(1))
		v := uniform(seeded(2), benchParams, p.lit.MaxAbs)
		var size int
		b.ReportAllocs()
		for b.Loop() {
			u, err := Encrypt(pk, v, rand.Reader)
			if err != nil {
				b.Fatal(err)
			}
			size = len(u)
		}
		b.ReportMetric(float64(size)/benchParams, "bytes/param")
		b.ReportMetric(benchParams*float64(b.N)/b.Elapsed().Seconds(), "params/s")
	})
}

// go test ./he -run '^$' -bench Aggregate -cpu 1,2 -benchtime 50x
func BenchmarkAggregate(b *testing.B) {
	forPresets(b, "params=1e6", 3, 100, func(b *testing.B, p *Params) {
		_, pk := federation(b, p, 3, 2, seeded(1))
		u, err := Encrypt(pk, uniform(seeded(2), benchParams, p.lit.MaxAbs), seeded(3))
		if err != nil {
			b.Fatal(err)
		}
		sum := NewSum(p)
		b.ReportAllocs()
		for b.Loop() {
			if sum.Addends() == p.maxAddends() {
				b.StopTimer()
				sum = NewSum(p)
				b.StartTimer()
			}
			if err := sum.Add(u); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(benchParams*float64(b.N)/b.Elapsed().Seconds(), "params/s")
	})
}

// decryptionSetup builds a federation of t key holders, all in the
// decryption set, and a sum of contributors encrypted vectors of length n.
func decryptionSetup(b *testing.B, p *Params, contributors, t, n int) (*Sum, []byte, []*KeyHolder, []int, []float64) {
	holders, pk := federation(b, p, t, t, seeded(1))
	sum, sb, want, _ := roundTrip(b, p, pk, contributors, n, 2)
	set := make([]int, t)
	for i := range set {
		set[i] = i
	}
	return sum, sb, holders, set, want
}

// go test ./he -run '^$' -bench DecryptionShare -cpu 1,2 -benchtime 20x
func BenchmarkDecryptionShare(b *testing.B) {
	const cts = 64
	forPresets(b, fmt.Sprintf("ciphertexts=%d", cts), 2, 2, func(b *testing.B, p *Params) {
		_, sb, holders, set, _ := decryptionSetup(b, p, 2, 2, cts*p.Slots())
		h := holders[0]
		b.ReportAllocs()
		for b.Loop() {
			h.decryptions = 0 // the budget is not what is measured
			if _, err := h.DecryptionShare(sb, set, rand.Reader); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N*cts), "ms/ciphertext")
	})
}

// The target scenario: 100 contributors with updates uniform in [-1, 1],
// T = 10 of K = 10 key holders, L = 2^16 or the largest L that fits (4 for
// the compact preset, whose sum is then 4 ciphertexts, not 16);
// precision-bits is -log2 of the largest error of the mean.
//
// go test ./he -run '^$' -bench Decrypt/ -benchtime 10x
func BenchmarkDecrypt(b *testing.B) {
	const contributors, t = 100, 10
	forPresets(b, fmt.Sprintf("contributors=%d/T=%d", contributors, t), t, contributors, func(b *testing.B, p *Params) {
		cts := int(min(16, p.Policy().Decryptions))
		sum, sb, holders, set, want := decryptionSetup(b, p, contributors, t, cts*p.Slots())
		shares := make([][]byte, t)
		for i, h := range holders {
			var err error
			if shares[i], err = h.DecryptionShare(sb, set, seeded(uint64(i))); err != nil {
				b.Fatal(err)
			}
		}
		var got []float64
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if got, err = sum.combine(shares); err != nil {
				b.Fatal(err)
			}
		}
		worst := 0.0
		for i := range got {
			worst = math.Max(worst, math.Abs(got[i]-want[i])/contributors)
		}
		b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N*cts), "ms/ciphertext")
		b.ReportMetric(-math.Log2(worst), "precision-bits")
	})
}

// BenchmarkPreset is what every caller of Preset pays (the federation
// looks its parameters up for each message it encodes or checks).
//
// go test ./he -run '^$' -bench Preset -benchtime 200x
func BenchmarkPreset(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Preset(PresetPrecise); err != nil {
			b.Fatal(err)
		}
	}
}

// A key holder's check of a 1M-parameter sum: its fingerprint, which
// validates and reads every coefficient of the vector.
//
// go test ./he -run '^$' -bench Fingerprint -cpu 1,2 -benchtime 20x
func BenchmarkFingerprint(b *testing.B) {
	forPresets(b, "params=1e6", 3, 1, func(b *testing.B, p *Params) {
		_, pk := federation(b, p, 3, 2, seeded(1))
		u, err := Encrypt(pk, uniform(seeded(2), benchParams, p.lit.MaxAbs), seeded(3))
		if err != nil {
			b.Fatal(err)
		}
		seed := [32]byte{1}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.Fingerprint(u, seed); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(benchParams*float64(b.N)/b.Elapsed().Seconds(), "params/s")
		b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/op")
	})
}
