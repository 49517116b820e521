package he

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/he/hefloat"
	"github.com/tuneinsight/lattigo/v5/ring"
)

// TestCRT2Lift compares the two-prime lift with big.Int arithmetic and
// big.Float's rounding on random residues, at the edges of the centred range
// and at the ties and near-ties of rounding to float64.
func TestCRT2Lift(t *testing.T) {
	p, err := Preset(PresetPrecise)
	if err != nil {
		t.Fatal(err)
	}
	q := p.params.Q()
	c := newCRT2(q)
	Q := new(big.Int).Mul(new(big.Int).SetUint64(q[0]), new(big.Int).SetUint64(q[1]))
	half := new(big.Int).Rsh(Q, 1)
	rng := rand.New(rand.NewPCG(1, 2))
	xs := []*big.Int{big.NewInt(0), big.NewInt(1), new(big.Int).Sub(half, big.NewInt(1)), new(big.Int).Set(half),
		new(big.Int).Add(half, big.NewInt(1)), new(big.Int).Sub(Q, big.NewInt(1))}
	// Ties and near-ties of the rounding to 53 bits, at every magnitude.
	for k := 64; k < Q.BitLen()-1; k++ {
		for _, low := range []int64{0, 1, 2, 3} {
			x := new(big.Int).Lsh(big.NewInt(1), uint(k))
			x.Add(x, new(big.Int).Lsh(big.NewInt(low), uint(k-53)))
			for _, e := range []int64{-1, 0, 1} {
				y := new(big.Int).Add(x, big.NewInt(e))
				xs = append(xs, y, new(big.Int).Sub(Q, y))
			}
		}
	}
	for range 20000 {
		x := new(big.Int).Lsh(new(big.Int).SetUint64(rng.Uint64()), 64)
		x.Add(x, new(big.Int).SetUint64(rng.Uint64()))
		xs = append(xs, x.Mod(x, Q))
	}
	for _, x := range xs {
		a := new(big.Int).Mod(x, new(big.Int).SetUint64(q[0])).Uint64()
		b := new(big.Int).Mod(x, new(big.Int).SetUint64(q[1])).Uint64()
		centred := new(big.Int).Set(x)
		if x.Cmp(half) >= 0 {
			centred.Sub(centred, Q)
		}
		want, _ := new(big.Float).SetInt(centred).Float64()
		got := c.lift(a, b)
		if got != want {
			t.Fatalf("lift of %v: %v, want %v", x, got, want)
		}
	}
	if newCRT2(q[:1]) != nil {
		t.Error("lift built for one prime")
	}
}

// TestDecodeMatchesLattigo checks that the two-prime decoder gives exactly
// what Lattigo's DecodePublic gives, on plaintexts of the size a sum of
// updates has, and beyond.
func TestDecodeMatchesLattigo(t *testing.T) {
	for _, id := range []PresetID{PresetInsecureTestPrecise, PresetPrecise} {
		p, err := Preset(id)
		if err != nil {
			t.Fatal(err)
		}
		if newCRT2(p.params.Q()) == nil {
			t.Fatalf("%v: not a two-prime preset", id)
		}
		rng := rand.New(rand.NewPCG(3, uint64(id)))
		q := p.params.Q()
		const logPrec = 30
		// |m| below 2^logMag: the scale, a sum of updates (Δ·2⁴), and the
		// largest message the parameters allow (Q/8).
		for _, logMag := range []int{p.lit.LogScale, p.lit.LogScale + 4, int(p.logQ) - 3} {
			pt := p.ringQ.NewPoly()
			for j := range pt.Coeffs[0] {
				m := new(big.Int).Lsh(new(big.Int).SetUint64(rng.Uint64()), 64)
				m.Add(m, new(big.Int).SetUint64(rng.Uint64()))
				m.Rsh(m, uint(128-logMag))
				if rng.IntN(2) == 0 {
					m.Neg(m)
				}
				for i, qi := range q {
					pt.Coeffs[i][j] = new(big.Int).Mod(m, new(big.Int).SetUint64(qi)).Uint64()
				}
			}
			p.ringQ.NTT(pt, pt)
			got := p.decode([]ring.Poly{pt}, p.Slots(), logPrec)

			enc := hefloat.NewEncoder(p.params)
			lp := hefloat.NewPlaintext(p.params, p.params.MaxLevel())
			lp.Value = pt
			lp.Scale = rlwe.NewScale(math.Exp2(float64(p.lit.LogScale)))
			want := make([]float64, p.Slots())
			if err := enc.DecodePublic(lp, want, logPrec); err != nil {
				t.Fatal(err)
			}
			for j := range want {
				if got[j] != want[j] {
					t.Fatalf("%v, |m| < 2^%d: slot %d: %v, Lattigo %v", id, logMag, j, got[j], want[j])
				}
			}
		}
	}
}
