package he

import (
	"math"
	"testing"
)

func TestThresholdSum(t *testing.T) {
	for _, tc := range []struct {
		name      string
		precise   bool
		n, thr    int
		set       []int
		addends   int
		length    int
		tolerance float64
	}{
		{"precise/3-of-5/two-absent", true, 5, 3, []int{0, 2, 4}, 4, 3000, 1e-9},
		{"precise/3-of-3", true, 3, 3, []int{0, 1, 2}, 3, 1500, 1e-9},
		{"compact/3-of-5/two-absent", false, 5, 3, []int{1, 3, 4}, 4, 3000, 1e-2},
		{"compact/2-of-2", false, 2, 2, []int{0, 1}, 3, 100, 1e-2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testPreset(t, tc.precise)
			rand := seeded(1)
			holders, pk := federation(t, p, tc.n, tc.thr, rand)
			sum := NewSum(p)
			want := make([]float64, tc.length)
			for range tc.addends {
				v := uniform(rand, tc.length, 1)
				for i := range v {
					want[i] += v[i]
				}
				u, err := Encrypt(pk, v, rand)
				if err != nil {
					t.Fatal(err)
				}
				if err := sum.Add(u); err != nil {
					t.Fatal(err)
				}
			}
			sb, err := sum.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			got, err := sum.Decrypt(decShares(t, holders, sb, tc.set, rand))
			if err != nil {
				t.Fatal(err)
			}
			e := maxErr(t, got, want)
			t.Logf("max error %.3g (2^%.1f), predicted precision %.1f bits", e, math.Log2(e), p.PrecisionBits(tc.addends, tc.thr))
			if e > tc.tolerance {
				t.Errorf("max error %g > %g", e, tc.tolerance)
			}
		})
	}
}
