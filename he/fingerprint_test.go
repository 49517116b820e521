package he

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math/big"
	"runtime"
	"testing"

	"github.com/tuneinsight/lattigo/v5/ring"
)

// fingerprintSetup returns a federation's public key and nUploads real
// uploads of length values, their Sum and its bytes.
func fingerprintSetup(t testing.TB, p *Params, uploads, length int) (*PublicKey, [][]byte, *Sum, []byte) {
	t.Helper()
	_, pk := federation(t, p, 3, 2, seeded(90))
	sum, sb, _, us := roundTrip(t, p, pk, uploads, length, 91)
	return pk, us, sum, sb
}

func sumOfFingerprints(t testing.TB, p *Params, us [][]byte, seed [32]byte) Fingerprint {
	t.Helper()
	var acc Fingerprint
	for i, u := range us {
		f, err := p.Fingerprint(u, seed)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			acc = f
		} else if acc, err = acc.Add(f); err != nil {
			t.Fatal(err)
		}
	}
	return acc
}

// setC1 rewrites the c1 part of ciphertext c of an encrypted vector.
func setC1(p *Params, update []byte, c int, f func(c1 ring.Poly)) []byte {
	b := bytes.Clone(update)
	pl := p.polyLen()
	off := updateHeaderLen + (2*c+1)*pl
	pol := p.ringQ.NewPoly()
	if err := p.unpackPoly(b[off:off+pl], pol, false); err != nil {
		panic(err)
	}
	f(pol)
	p.packPoly(b[off:], pol)
	return b
}

func TestFingerprintLinearAndSound(t *testing.T) {
	for _, precise := range []bool{false, true} {
		p := testPreset(t, precise)
		t.Run(p.ID().String(), func(t *testing.T) {
			pk, us, _, sb := fingerprintSetup(t, p, 4, 2*p.Slots()+5)
			seed := [32]byte{7}
			want := sumOfFingerprints(t, p, us, seed)
			got, err := p.Fingerprint(sb, seed)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(want) {
				t.Fatal("the sum's fingerprint is not the sum of the uploads' fingerprints")
			}
			other, _ := p.Fingerprint(sb, [32]byte{8})
			if other.Equal(got) {
				t.Error("two seeds give the same fingerprint")
			}

			last := len(p.params.Q()) - 1
			zero, err := Encrypt(pk, make([]float64, 2*p.Slots()+5), seeded(92))
			if err != nil {
				t.Fatal(err)
			}
			withZero := NewSum(p)
			if err := withZero.Add(sb); err != nil {
				t.Fatal(err)
			}
			if err := withZero.Add(zero); err != nil {
				t.Fatal(err)
			}
			wz, _ := withZero.MarshalBinary()
			for name, forged := range map[string][]byte{
				"one coefficient of one prime": setC1(p, sb, 1, func(c1 ring.Poly) {
					c1.Coeffs[last][100] = (c1.Coeffs[last][100] + 1) % p.params.Q()[last]
				}),
				"constant c1 = 2^50": setC1(p, sb, 0, func(c1 ring.Poly) {
					// The constant polynomial 2^50 is 2^50 in every NTT slot.
					for i, qi := range p.params.Q() {
						for j := range c1.Coeffs[i] {
							c1.Coeffs[i][j] = (1 << 50) % qi
						}
					}
				}),
				"an extra encryption of zero": wz,
			} {
				f, err := p.Fingerprint(forged, seed)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if f.Equal(want) {
					t.Errorf("%s: the forged sum's fingerprint matches the uploads'", name)
				}
			}
			// The extra encryption is accounted for exactly by linearity.
			fz, _ := p.Fingerprint(zero, seed)
			wantZ, _ := want.Add(fz)
			if gz, _ := p.Fingerprint(wz, seed); !gz.Equal(wantZ) {
				t.Error("fingerprint of sum + Enc(0) is not the sum of the fingerprints")
			}
		})
	}
}

// TestFingerprintMatchesReference recomputes a fingerprint with big.Int
// arithmetic and one sequential keystream per check over all ciphertexts.
func TestFingerprintMatchesReference(t *testing.T) {
	p := testPreset(t, true)
	_, us, _, _ := fingerprintSetup(t, p, 1, 3*p.Slots())
	seed := [32]byte{1, 2, 3}
	got, err := p.Fingerprint(us[0], seed)
	if err != nil {
		t.Fatal(err)
	}
	prev := runtime.GOMAXPROCS(1)
	one, _ := p.Fingerprint(us[0], seed)
	runtime.GOMAXPROCS(prev)
	if !one.Equal(got) {
		t.Error("the fingerprint depends on GOMAXPROCS")
	}
	n, pl, q := p.params.N(), p.polyLen(), p.params.Q()
	for k := range FingerprintChecks {
		key := sha256.Sum256(append(append([]byte(fingerprintDomain), byte(p.ID())), append(seed[:], byte(k))...))
		block, _ := aes.NewCipher(key[:])
		stream := cipher.NewCTR(block, make([]byte, 16))
		acc := make([]*big.Int, len(q))
		for i := range acc {
			acc[i] = new(big.Int)
		}
		for c := range 3 {
			r := make([]byte, 8*n)
			stream.XORKeyStream(r, r)
			pol := p.ringQ.NewPoly()
			off := updateHeaderLen + (2*c+1)*pl
			if err := p.unpackPoly(us[0][off:off+pl], pol, false); err != nil {
				t.Fatal(err)
			}
			for i := range q {
				for j := range n {
					w := new(big.Int).SetUint64(binary.LittleEndian.Uint64(r[8*j:]))
					acc[i].Add(acc[i], w.Mul(w, new(big.Int).SetUint64(pol.Coeffs[i][j])))
				}
			}
		}
		for i, qi := range q {
			want := acc[i].Mod(acc[i], new(big.Int).SetUint64(qi)).Uint64()
			if got.res[k][i] != want {
				t.Errorf("check %d, prime %d: %d, reference %d", k, i, got.res[k][i], want)
			}
		}
	}
}

func TestFingerprintRefusesBadInput(t *testing.T) {
	o := newObjects(t)
	p := o.p
	bad := bytes.Clone(o.update)
	bit := 8*updateHeaderLen + 5*p.bits[0] // coefficient 5 of c0, first prime
	for k := range p.bits[0] {
		bad[(bit+k)/8] |= 1 << ((bit + k) % 8)
	}
	if _, err := p.Fingerprint(bad, [32]byte{}); !errors.Is(err, ErrMalformed) {
		t.Errorf("c0 coefficient ≥ q: err = %v, want ErrMalformed", err)
	}
	if _, err := p.Fingerprint(o.update[:len(o.update)-1], [32]byte{}); !errors.Is(err, ErrMalformed) {
		t.Errorf("truncated vector: err = %v, want ErrMalformed", err)
	}
	f, err := p.UnmarshalFingerprint(o.fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	compact := testPreset(t, false)
	_, pk := federation(t, compact, 2, 2, seeded(93))
	u, _ := Encrypt(pk, []float64{1}, seeded(94))
	g, err := compact.Fingerprint(u, [32]byte{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Add(g); err == nil {
		t.Error("added fingerprints of two presets")
	}
	if _, err := f.Add(Fingerprint{}); err == nil {
		t.Error("added a zero Fingerprint")
	}
	if _, err := compact.UnmarshalFingerprint(o.fingerprint); !errors.Is(err, ErrMalformed) {
		t.Errorf("fingerprint of another preset: err = %v, want ErrMalformed", err)
	}
	for name, mut := range map[string]func([]byte){
		"residue = q": func(b []byte) {
			binary.LittleEndian.PutUint64(b[fingerprintHeaderLen+8:], p.params.Q()[1])
		},
		"2 checks":      func(b []byte) { b[commonLen] = 2 },
		"1 prime":       func(b []byte) { b[commonLen+1] = 1 },
		"reserved":      func(b []byte) { b[commonLen+3] = 1 },
		"flags":         func(b []byte) { b[7] = flagNTT },
		"update's kind": func(b []byte) { b[5] = kindUpdate },
	} {
		b := bytes.Clone(o.fingerprint)
		mut(b)
		if _, err := p.UnmarshalFingerprint(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}
