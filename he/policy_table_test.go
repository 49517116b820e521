package he

import (
	"fmt"
	"math"
	"testing"
)

// TestPolicyTable logs, for the real presets, the largest L of each key
// policy shape and the precision at the worst case with L = 2^16, as in the
// package documentation; and checks that the bisection is exact.
//
//	go test ./he -run PolicyTable -v
func TestPolicyTable(t *testing.T) {
	for _, id := range []PresetID{PresetCompact, PresetPrecise} {
		p, err := Preset(id)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []int{3, 10, 16} {
			for _, c := range []int{3, 10, 100, 1000} {
				if k > p.lit.MaxKeyHolders || c > p.lit.MaxAddends {
					continue
				}
				kp := KeyPolicy{KeyHolders: k, Contributors: c}
				m := p.MaxDecryptions(kp)
				prec := "—"
				kp.Decryptions = 1 << 16
				if q, err := p.WithPolicy(kp); err == nil {
					prec = fmt.Sprintf("%.1f", q.PrecisionBits(c, k))
				}
				kp.Decryptions = max(m, 1)
				sig := 0.0
				if q, err := p.WithPolicy(kp); err == nil {
					sig = math.Log2(q.FloodingSigma())
				}
				t.Logf("%-8v K=%-3d contributors=%-5d max L=%-12d (2^%.1f) σ_flood(max L)=2^%.1f precision at L=2^16: %s",
					id, k, c, m, math.Log2(float64(max(m, 1))), sig, prec)
				if m > 0 {
					kp.Decryptions = m
					if _, err := p.WithPolicy(kp); err != nil {
						t.Errorf("%v %v: the largest L %d does not fit: %v", id, kp, m, err)
					}
					kp.Decryptions = m + 1
					if _, err := p.WithPolicy(kp); err == nil {
						t.Errorf("%v %v: L = %d + 1 fits", id, kp, m)
					}
				}
			}
		}
	}
}
