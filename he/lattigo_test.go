package he

import (
	"math"
	"testing"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/he/hefloat"
)

// TestLattigoDecryptsFedcryptCiphertexts runs a real T-of-N key ceremony,
// reconstructs the collective secret twice — as Σᵢ sᵢ over all key holders
// and as the sum of T additive shares from Lattigo's mhe.Combiner — and
// decrypts a fedcrypt upload and a sum of uploads with Lattigo's own
// rlwe.Decryptor and hefloat.Encoder: the custom encryption, wire format and
// key ceremony must agree with the library they build on. The full test
// uses the real presets.
func TestLattigoDecryptsFedcryptCiphertexts(t *testing.T) {
	for _, precise := range []bool{true, false} {
		p := testPreset(t, precise)
		t.Run(p.ID().String(), func(t *testing.T) {
			holders, pk := federation(t, p, 5, 3, seeded(100))
			r := p.ringQ
			s := r.NewPoly()
			for _, h := range holders {
				r.Add(s, h.sk, s)
			}
			set := []int{0, 2, 4}
			sT := r.NewPoly()
			for _, j := range set {
				a := holders[j].additiveShare(set)
				r.Add(sT, a.Value.Q, sT)
			}
			if !s.Equal(&sT) {
				t.Fatal("the T additive shares do not add up to Σ sᵢ")
			}
			// Lattigo keeps secret keys in NTT and Montgomery form, as he does.
			sk := rlwe.NewSecretKey(p.params)
			sk.Value.Q.Copy(s)
			dec := rlwe.NewDecryptor(p.params, sk)
			enc := hefloat.NewEncoder(p.params)

			const addends = 3
			length := 2*p.Slots() + 7
			sum, sb, want, uploads := roundTrip(t, p, pk, addends, length, 101)
			_ = sum
			first := uniform(seeded(101), length, p.lit.MaxAbs) // roundTrip's first vector
			n := float64(p.params.N())
			for _, tc := range []struct {
				name    string
				b       []byte
				want    []float64
				addends int
			}{
				{"one upload", uploads[0], first, 1},
				{"sum of 3 uploads", sb, want, addends},
			} {
				// The fresh errors' 2^-30 tail in one slot, plus float64
				// rounding. Under one fixed key a slot's error is
				// u(ζ)·e_pk(ζ) + e₁(ζ)·s(ζ) + e₀(ζ), whose variance follows
				// |e_pk(ζ)|² and |s(ζ)|²: up to about 16 times the average
				// 2n·v_fresh over the slots, hence the factor 4 on σ.
				tol := 4*tailSigmas*math.Sqrt(2*n*float64(tc.addends)*p.freshVar)/math.Exp2(float64(p.lit.LogScale)) + 1e-12
				got := lattigoDecrypt(t, p, dec, enc, tc.b)
				e := maxErr(t, got, tc.want)
				t.Logf("%s: Lattigo decrypts with max error 2^%.1f (bound 2^%.1f)", tc.name, math.Log2(e), math.Log2(tol))
				if e > tol {
					t.Errorf("%s: max error %g > %g", tc.name, e, tol)
				}
			}
		})
	}
}

// lattigoDecrypt decrypts an encrypted vector ciphertext by ciphertext with
// Lattigo's decryptor and decoder.
func lattigoDecrypt(t *testing.T, p *Params, dec *rlwe.Decryptor, enc *hefloat.Encoder, b []byte) []float64 {
	t.Helper()
	uh, err := p.parseUpdateHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	pl, slots := p.polyLen(), p.Slots()
	out := make([]float64, 0, uh.count*slots)
	vals := make([]float64, slots)
	for c := range uh.count {
		ct := hefloat.NewCiphertext(p.params, 1, p.params.MaxLevel())
		for k := range 2 {
			off := updateHeaderLen + (2*c+k)*pl
			if err := p.unpackPoly(b[off:off+pl], ct.Value[k], false); err != nil {
				t.Fatal(err)
			}
		}
		ct.IsNTT = true
		ct.Scale = rlwe.NewScale(math.Exp2(float64(p.lit.LogScale)))
		pt := dec.DecryptNew(ct)
		if err := enc.Decode(pt, vals); err != nil {
			t.Fatal(err)
		}
		out = append(out, vals...)
	}
	return out[:uh.length]
}
