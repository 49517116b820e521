package he

import (
	"math"
	"testing"
)

// TestSizeTarget checks the bytes per parameter of an encrypted 1M-parameter
// upload, headers included: at most 33 with the precise preset, at most 16
// with the compact one. The full test encrypts for real.
func TestSizeTarget(t *testing.T) {
	const n = 1_000_000
	for _, tc := range []struct {
		id    PresetID
		limit float64
	}{
		{PresetPrecise, 33},
		{PresetCompact, 16},
	} {
		t.Run(tc.id.String(), func(t *testing.T) {
			p, err := Preset(tc.id)
			if err != nil {
				t.Fatal(err)
			}
			p = testPolicy(t, p, 2, 1)
			size := p.UpdateSize(n)
			if !testing.Short() {
				_, pk := federation(t, p, 2, 2, seeded(50))
				u, err := Encrypt(pk, uniform(seeded(51), n, p.lit.MaxAbs), seeded(52))
				if err != nil {
					t.Fatal(err)
				}
				if len(u) != size {
					t.Fatalf("encrypted %d bytes, UpdateSize says %d", len(u), size)
				}
			}
			perParam := float64(size) / n
			t.Logf("%.3f bytes/param", perParam)
			if perParam > tc.limit {
				t.Errorf("%.3f bytes/param > %g", perParam, tc.limit)
			}
		})
	}
}

// TestPrecisionTarget runs the target scenario: 100 contributors with
// updates uniform in [-1, 1], 12 key holders, a decryption set of T = 10,
// flooding for a key policy of L = 2^16 decryptions (for the compact preset
// the most it admits, 2 with 10 key holders, 4 with 12 under -short). The decrypted mean must be within 2^-16 with the precise
// preset and within 2^-7 with the compact one (its documented figure).
// Under -short the small presets run 20 contributors and T = 3 against the
// same bounds.
func TestPrecisionTarget(t *testing.T) {
	contributors, n, thr := 100, 12, 10
	if testing.Short() {
		contributors, n, thr = 20, 5, 3
	}
	for _, tc := range []struct {
		precise  bool
		wantBits float64
		l        uint64 // the key's decryptions
	}{
		{true, 16, 1 << 16},
		{false, 7, 4}, // more than the compact preset admits: its largest L
	} {
		p := testPreset(t, tc.precise)
		kp := p.Policy()
		kp.Decryptions = min(tc.l, p.MaxDecryptions(kp))
		p, err := p.WithPolicy(kp)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(p.ID().String(), func(t *testing.T) {
			n := min(n, kp.KeyHolders)
			holders, pk := federation(t, p, n, thr, seeded(60))
			cts := int(min(4, kp.Decryptions)) // the compact key admits 2
			sum, sb, want, _ := roundTrip(t, p, pk, contributors, cts*p.Slots(), 61)
			var set []int // skips n − T odd-numbered key holders
			for i := range n {
				if i%2 == 1 && i/2 < n-thr {
					continue
				}
				set = append(set, i)
			}
			got, err := sum.Decrypt(decShares(t, holders, sb, set, seeded(62)))
			if err != nil {
				t.Fatal(err)
			}
			worst := maxErr(t, got, want) / float64(contributors)
			bits := -math.Log2(worst)
			t.Logf("mean of %d contributors, T = %d: worst error 2^-%.1f, predicted σ 2^-%.1f",
				contributors, thr, bits, p.PrecisionBits(contributors, thr)+math.Log2(float64(contributors)))
			if bits < tc.wantBits {
				t.Errorf("worst error of the mean 2^-%.1f, want at most 2^-%g", bits, tc.wantBits)
			}
		})
	}
}
