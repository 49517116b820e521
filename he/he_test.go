package he

import (
	"bytes"
	"fmt"
	"math"
	"testing"

	"github.com/tuneinsight/lattigo/v5/ring"
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
		{"compact/3-of-5/two-absent", false, 5, 3, []int{1, 3, 4}, 4, 8000}, // 2 ciphertexts: the compact key admits 2 decryptions
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
			tol := errorBound(p, tc.addends, tc.thr)
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

func TestReadTernaryIsUniform(t *testing.T) {
	p := testPreset(t, true)
	const polys = 8
	n := p.params.N()
	counts := map[int]int{}
	pol := p.ringQ.NewPoly()
	prng := keyedPRNG(make([]byte, 32))
	for range polys {
		p.readTernary(prng, pol, make([]byte, 100))
		for j := range n {
			v := map[uint64]int{0: 0, 1: 1, p.params.Q()[0] - 1: -1}
			c, ok := v[pol.Coeffs[0][j]]
			if !ok {
				t.Fatalf("coefficient %d is %d", j, pol.Coeffs[0][j])
			}
			for i, qi := range p.params.Q() {
				if want := (uint64(c) + qi) % qi; pol.Coeffs[i][j] != want {
					t.Fatalf("coefficient %d differs between primes", j)
				}
			}
			counts[c]++
		}
	}
	total := float64(polys * n)
	sigma := math.Sqrt(total * 2 / 9)
	for _, c := range []int{-1, 0, 1} {
		if d := math.Abs(float64(counts[c]) - total/3); d > 5*sigma {
			t.Errorf("%d appears %d times in %g, more than 5σ from a third", c, counts[c], total)
		}
	}
}

// TestReadErrorMatchesLattigo compares the moments and the support of the
// fresh-error sampler with Lattigo's GaussianSampler for the same
// distribution.
func TestReadErrorMatchesLattigo(t *testing.T) {
	p := testPreset(t, true)
	const polys = 64
	n := p.params.N()
	moments := func(read func(ring.Poly)) (mean, variance, maxAbs float64) {
		pol := p.ringQ.NewPoly()
		q0 := p.params.Q()[0]
		var s, s2 float64
		for range polys {
			read(pol)
			for j := range n {
				// Lattigo's sampler may write q for a zero: reduce first.
				c0 := pol.Coeffs[0][j] % q0
				v := float64(c0)
				if c0 > q0/2 {
					v = -float64(q0 - c0)
				}
				for i, qi := range p.params.Q()[1:] {
					if got := pol.Coeffs[i+1][j] % qi; got != uint64(int64(v)+int64(qi))%qi {
						t.Fatalf("coefficient %d differs between primes", j)
					}
				}
				s += v
				s2 += v * v
				maxAbs = math.Max(maxAbs, math.Abs(v))
			}
		}
		m := float64(polys * n)
		return s / m, s2/m - (s/m)*(s/m), maxAbs
	}
	prng := keyedPRNG(make([]byte, 32))
	buf := make([]byte, 800)
	m1, v1, a1 := moments(func(pol ring.Poly) { p.readError(prng, pol, buf) })
	gs := p.gaussian(keyedPRNG(make([]byte, 32)), errSigma)
	m2, v2, a2 := moments(gs.Read)
	t.Logf("readError: mean %.4f variance %.3f max %g; Lattigo: mean %.4f variance %.3f max %g", m1, v1, a1, m2, v2, a2)
	// The variance of a sample variance is about 2σ⁴/m.
	tol := 5 * math.Sqrt(2/float64(polys*n)) * v2
	if math.Abs(v1-v2) > 2*tol || math.Abs(m1) > 5*math.Sqrt(v2/float64(polys*n)) {
		t.Errorf("moments differ: mean %g vs %g, variance %g vs %g (tolerance %g)", m1, m2, v1, v2, 2*tol)
	}
	if a1 > 19 || math.Abs(a1-a2) > 3 {
		t.Errorf("largest |error| %g, want at most the 6σ bound 19.2 and near Lattigo's %g", a1, a2)
	}
}

// TestSetupIsReproducible: the same seed gives the same keys, Shamir shares
// and decryption shares, as a seeded simulation needs.
func TestSetupIsReproducible(t *testing.T) {
	p := testPreset(t, false)
	run := func(seed uint64) (pk, state, share []byte) {
		holders, key := federation(t, p, 3, 2, seeded(seed))
		pk, _ = key.MarshalBinary()
		state, _ = holders[1].MarshalBinary()
		_, sb, _, _ := roundTrip(t, p, key, 1, 10, seed)
		share, err := holders[1].DecryptionShare(sb, []int{1, 2}, seeded(seed))
		if err != nil {
			t.Fatal(err)
		}
		return pk, state, share
	}
	pk1, st1, sh1 := run(80)
	pk2, st2, sh2 := run(80)
	pk3, st3, _ := run(81)
	if !bytes.Equal(pk1, pk2) || !bytes.Equal(st1, st2) || !bytes.Equal(sh1, sh2) {
		t.Error("same seed, different keys, states or decryption shares")
	}
	if bytes.Equal(pk1, pk3) || bytes.Equal(st1, st3) {
		t.Error("different seeds, same keys or states")
	}
}
