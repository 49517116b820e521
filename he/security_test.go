package he

import (
	"math"
	"testing"

	"github.com/tuneinsight/lattigo/v5/ring"
)

// precisionBits returns -log2 of the mean absolute error: the number of
// correct bits a decryption gives on average.
func precisionBits(got, want []float64) float64 {
	s := 0.0
	for i := range got {
		s += math.Abs(got[i] - want[i])
	}
	return -math.Log2(s / float64(len(got)))
}

// roundTrip encrypts addends vectors of length values under pk, sums them
// and returns the sum, its bytes, the plaintext sum and the uploads.
func roundTrip(t testing.TB, p *Params, pk *PublicKey, addends, length int, seed uint64) (*Sum, []byte, []float64, [][]byte) {
	t.Helper()
	rand := seeded(seed)
	sum := NewSum(p)
	want := make([]float64, length)
	var uploads [][]byte
	for range addends {
		v := uniform(rand, length, p.lit.MaxAbs)
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
		uploads = append(uploads, u)
	}
	sb, err := sum.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return sum, sb, want, uploads
}

func TestFewerThanTSharesDecryptToNoise(t *testing.T) {
	for _, precise := range []bool{false, true} {
		p := testPreset(t, precise)
		t.Run(p.ID().String(), func(t *testing.T) {
			holders, pk := federation(t, p, 5, 3, seeded(2))
			sum, sb, want, _ := roundTrip(t, p, pk, 3, 2*p.Slots(), 3)
			set := []int{0, 2, 3}
			shares := decShares(t, holders, sb, set, seeded(4))

			full, err := sum.combine(shares)
			if err != nil {
				t.Fatal(err)
			}
			if b := precisionBits(full, want); b < 3 {
				t.Fatalf("T shares give %.1f bits of precision, want at least 3", b)
			}
			for drop := range shares {
				partial := append(append([][]byte(nil), shares[:drop]...), shares[drop+1:]...)
				got, err := sum.combine(partial)
				if err != nil {
					t.Fatal(err)
				}
				if b := precisionBits(got, want); b >= 1 {
					t.Errorf("without key holder %d's share: %.2f bits of precision, want < 1", set[drop], b)
				}
			}
		})
	}
}

// TestAggregatorAndTMinus1CannotDecryptAnUpload gives the adversary
// everything the aggregator receives (uploads, sum, the T decryption shares of
// the sum) plus the whole state of T−1 key holders, and tries to decrypt one
// upload: with the colluders' shares of the upload alone, and with the honest
// key holder's share of the sum in place of its missing share.
func TestAggregatorAndTMinus1CannotDecryptAnUpload(t *testing.T) {
	p := testPreset(t, true)
	holders, pk := federation(t, p, 5, 3, seeded(5))
	_, sb, _, uploads := roundTrip(t, p, pk, 4, p.Slots(), 6)
	set := []int{1, 2, 4}
	sumShares := decShares(t, holders, sb, set, seeded(7))
	honest := 2 // index in set of the key holder outside the coalition

	// The colluders' states, as the adversary would hold them.
	var colluders []*KeyHolder
	for i, j := range set {
		if i == honest {
			continue
		}
		b, err := holders[j].MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		h, err := UnmarshalKeyHolder(p, b)
		if err != nil {
			t.Fatal(err)
		}
		colluders = append(colluders, h)
	}
	target := uploads[0]
	rand := seeded(8)
	want := make([]float64, p.Slots())
	{
		// The plaintext of the target upload, for scoring only.
		v := uniform(seeded(6), p.Slots(), p.lit.MaxAbs)
		copy(want, v)
	}
	var colluderShares [][]byte
	for _, h := range colluders {
		b, err := h.DecryptionShare(target, set, rand)
		if err != nil {
			t.Fatal(err)
		}
		colluderShares = append(colluderShares, b)
	}
	for _, attempt := range []struct {
		name   string
		shares [][]byte
	}{
		{"colluders only", colluderShares},
		{"colluders and the honest share of the sum", append(append([][]byte(nil), colluderShares...), sumShares[honest])},
	} {
		t.Run(attempt.name, func(t *testing.T) {
			got := rawCombine(t, p, target, attempt.shares)
			if b := precisionBits(got, want); b >= 1 {
				t.Errorf("upload decrypts to %.2f bits of precision, want < 1", b)
			}
		})
	}
	// Control: the same path with the honest key holder's share of the upload works.
	hb, err := holders[set[honest]].DecryptionShare(target, set, rand)
	if err != nil {
		t.Fatal(err)
	}
	if b := precisionBits(rawCombine(t, p, target, append(colluderShares, hb)), want); b < 5 {
		t.Errorf("control: T genuine shares give %.1f bits, want at least 5", b)
	}
}

// rawCombine adds the polynomials of decryption shares to the c0 parts of an
// encrypted vector and decodes, without checking that the shares belong to it.
func rawCombine(t *testing.T, p *Params, update []byte, shares [][]byte) []float64 {
	t.Helper()
	uh, err := p.parseUpdateHeader(update)
	if err != nil {
		t.Fatal(err)
	}
	pl := p.polyLen()
	acc := make([]ring.Poly, uh.count)
	for i := range acc {
		acc[i] = p.ringQ.NewPoly()
		off := updateHeaderLen + 2*i*pl
		if err := p.unpackPoly(update[off:off+pl], acc[i], false); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range shares {
		h, err := p.parseDecShareHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		base := decShareHeaderLen + 2*len(h.set)
		for i := range acc {
			if err := p.unpackPoly(b[base+i*pl:base+(i+1)*pl], acc[i], true); err != nil {
				t.Fatal(err)
			}
		}
	}
	return p.decode(acc, uh.length, p.logPrecision(1, 3))
}
