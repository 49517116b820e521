package he

import (
	"crypto/rand"
	"fmt"
	"math"
	"testing"
)

var benchPresets = []PresetID{PresetCompact, PresetPrecise}

// go test ./he -run '^$' -bench Encrypt -cpu 1,2 -benchtime 5x
func BenchmarkEncrypt(b *testing.B) {
	for _, id := range benchPresets {
		p, err := Preset(id)
		if err != nil {
			b.Fatal(err)
		}
		const n = 1_000_000
		b.Run(fmt.Sprintf("preset=%v/params=1e6", id), func(b *testing.B) {
			_, pk := federation(b, p, 3, 2, seeded(1))
			v := uniform(seeded(2), n, p.lit.MaxAbs)
			var size int
			b.ReportAllocs()
			for b.Loop() {
				u, err := Encrypt(pk, v, rand.Reader)
				if err != nil {
					b.Fatal(err)
				}
				size = len(u)
			}
			b.ReportMetric(float64(size)/n, "bytes/param")
			b.ReportMetric(n*float64(b.N)/b.Elapsed().Seconds(), "params/s")
		})
	}
}

// go test ./he -run '^$' -bench Aggregate -cpu 1,2 -benchtime 50x
func BenchmarkAggregate(b *testing.B) {
	for _, id := range benchPresets {
		p, err := Preset(id)
		if err != nil {
			b.Fatal(err)
		}
		const n = 1_000_000
		b.Run(fmt.Sprintf("preset=%v/params=1e6", id), func(b *testing.B) {
			_, pk := federation(b, p, 3, 2, seeded(1))
			u, err := Encrypt(pk, uniform(seeded(2), n, p.lit.MaxAbs), seeded(3))
			if err != nil {
				b.Fatal(err)
			}
			sum := NewSum(p)
			if err := sum.Add(u); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if sum.Addends() == p.lit.MaxAddends {
					b.StopTimer()
					sum = NewSum(p)
					if err := sum.Add(u); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				if err := sum.Add(u); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(n*float64(b.N)/b.Elapsed().Seconds(), "params/s")
		})
	}
}

// decryptionSetup builds a federation of t key holders, all in the
// decryption set, and a sum of contributors encrypted vectors of length n.
func decryptionSetup(b *testing.B, p *Params, contributors, t, n int) (*Sum, []byte, []*KeyHolder, []int, []float64) {
	holders, pk := federation(b, p, t, t, seeded(1))
	rand := seeded(2)
	sum := NewSum(p)
	want := make([]float64, n)
	for range contributors {
		v := uniform(rand, n, 1)
		for i := range v {
			want[i] += v[i]
		}
		u, err := Encrypt(pk, v, rand)
		if err != nil {
			b.Fatal(err)
		}
		if err := sum.Add(u); err != nil {
			b.Fatal(err)
		}
	}
	sb, err := sum.MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	set := make([]int, t)
	for i := range set {
		set[i] = i
	}
	return sum, sb, holders, set, want
}

// go test ./he -run '^$' -bench DecryptionShare -cpu 1,2 -benchtime 20x
func BenchmarkDecryptionShare(b *testing.B) {
	for _, id := range benchPresets {
		p, err := Preset(id)
		if err != nil {
			b.Fatal(err)
		}
		const cts = 64
		b.Run(fmt.Sprintf("preset=%v/ciphertexts=%d", id, cts), func(b *testing.B) {
			_, sb, holders, set, _ := decryptionSetup(b, p, 2, 2, cts*p.Slots())
			h := holders[0]
			b.ReportAllocs()
			for b.Loop() {
				clear(h.decrypted) // the cap is not what is measured
				if _, err := h.DecryptionShare(sb, set, rand.Reader); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N*cts), "ms/ciphertext")
		})
	}
}

// The target scenario: 100 contributors with updates uniform in [-1, 1],
// T = 10; precision-bits is -log2 of the largest error of the mean.
//
// go test ./he -run '^$' -bench Decrypt/ -benchtime 10x
func BenchmarkDecrypt(b *testing.B) {
	for _, id := range benchPresets {
		p, err := Preset(id)
		if err != nil {
			b.Fatal(err)
		}
		const contributors, t, cts = 100, 10, 16
		b.Run(fmt.Sprintf("preset=%v/contributors=%d/T=%d", id, contributors, t), func(b *testing.B) {
			if contributors > p.lit.MaxAddends {
				b.Skipf("preset allows %d addends", p.lit.MaxAddends)
			}
			sum, sb, holders, set, want := decryptionSetup(b, p, contributors, t, cts*p.Slots())
			shares := make([][]byte, t)
			for i, h := range holders {
				if shares[i], err = h.DecryptionShare(sb, set, seeded(uint64(i))); err != nil {
					b.Fatal(err)
				}
			}
			var got []float64
			b.ReportAllocs()
			for b.Loop() {
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
}
