package he

import (
	"math"
	"testing"
)

func TestThresholdSum(t *testing.T) {
	for _, tc := range []struct {
		name    string
		precise bool
		n, thr  int
		set     []int
		addends int
		length  int
	}{
		{"precise/3-of-5/two-absent", true, 5, 3, []int{0, 2, 4}, 4, 9000},
		{"precise/3-of-3", true, 3, 3, []int{0, 1, 2}, 3, 1500},
		{"compact/3-of-5/two-absent", false, 5, 3, []int{1, 3, 4}, 4, 9000},
		{"compact/2-of-2", false, 2, 2, []int{0, 1}, 3, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testPreset(t, tc.precise)
			rand := seeded(1)
			holders, pk := federation(t, p, tc.n, tc.thr, rand)
			sum, sb, want, _ := roundTrip(t, p, pk, tc.addends, tc.length, 2)
			got, err := sum.Decrypt(decShares(t, holders, sb, tc.set, rand))
			if err != nil {
				t.Fatal(err)
			}
			// The noise model's tail bound plus DecodePublic's rounding.
			tol := tailSigmas*math.Exp2(-p.PrecisionBits(tc.addends, tc.thr)) + math.Exp2(-p.logPrecision(tc.addends, tc.thr))
			e := maxErr(t, got, want)
			t.Logf("max error 2^%.1f, bound 2^%.1f", math.Log2(e), math.Log2(tol))
			if e > tol {
				t.Errorf("max error %g > %g", e, tol)
			}
		})
	}
}
