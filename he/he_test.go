package he

import (
	"fmt"
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

func TestMulInt(t *testing.T) {
	p := testPreset(t, true)
	holders, pk := federation(t, p, 3, 2, seeded(70))
	for _, c := range []int{3, -2, 1} {
		t.Run(fmt.Sprint(c), func(t *testing.T) {
			sum, _, want, _ := roundTrip(t, p, pk, 2, 50, 71)
			if err := sum.MulInt(c); err != nil {
				t.Fatal(err)
			}
			if sum.Addends() != 2*c*c {
				t.Errorf("%d addends, want %d", sum.Addends(), 2*c*c)
			}
			sb, _ := sum.MarshalBinary()
			got, err := sum.Decrypt(decShares(t, holders, sb, []int{0, 2}, seeded(72)))
			if err != nil {
				t.Fatal(err)
			}
			for i := range want {
				want[i] *= float64(c)
			}
			if e := maxErr(t, got, want); e > 1e-6 {
				t.Errorf("max error %g", e)
			}
		})
	}
	sum, _, _, _ := roundTrip(t, p, pk, 2, 50, 73)
	big := int(math.Sqrt(float64(p.lit.MaxAddends)/2)) + 1
	if err := sum.MulInt(big); err == nil {
		t.Errorf("multiplied 2 addends by %d beyond %d addends", big, p.lit.MaxAddends)
	}
	if err := sum.MulInt(0); err == nil {
		t.Error("multiplied by 0")
	}
}
