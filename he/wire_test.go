package he

import (
	"bytes"
	"encoding/binary"
	"errors"
	"runtime"
	"strings"
	"testing"
)

// objects returns one valid encoding of every kind, for the small precise
// preset, and the context needed to decode them.
type objects struct {
	p                 *Params
	holders           []*KeyHolder
	pk                *PublicKey
	pkShare, pkBytes  []byte
	shamir            []byte // from key holder 1 to key holder 0
	update, sum       []byte
	decShare          []byte // key holder 2's, for the set {0, 2}
	decShare0         []byte // key holder 0's, for the same set
	state, stateDealt []byte
	fingerprint       []byte // of update, seed {5}
}

func newObjects(t testing.TB) *objects {
	t.Helper()
	p, err := Preset(PresetInsecureTestPrecise)
	if err != nil {
		t.Fatal(err)
	}
	p = testPolicy(t, p, 3, 8)
	rand := seeded(20)
	o := &objects{p: p}
	o.holders, o.pk = federation(t, p, 3, 2, rand)
	o.pkShare = o.holders[1].PublicKeyShare()
	if o.pkBytes, err = o.pk.MarshalBinary(); err != nil {
		t.Fatal(err)
	}
	// A fresh key holder 0 receiving a Shamir share from a fresh key holder 1.
	crs := [32]byte{1, 2, 3}
	a, _ := NewKeyHolder(p, crs, 0, rand)
	b, _ := NewKeyHolder(p, crs, 1, rand)
	if _, err := a.ShamirShares([]int{0, 1}, 2, rand); err != nil {
		t.Fatal(err)
	}
	if o.stateDealt, err = a.MarshalBinary(); err != nil {
		t.Fatal(err)
	}
	out, err := b.ShamirShares([]int{0, 1}, 2, rand)
	if err != nil {
		t.Fatal(err)
	}
	o.shamir = out[0]
	if o.update, err = Encrypt(o.pk, uniform(rand, p.Slots()+3, 1), rand); err != nil {
		t.Fatal(err)
	}
	sum := NewSum(p)
	if err := sum.Add(o.update); err != nil {
		t.Fatal(err)
	}
	if o.sum, err = sum.MarshalBinary(); err != nil {
		t.Fatal(err)
	}
	if o.decShare, err = o.holders[2].DecryptionShare(o.sum, []int{0, 2}, rand); err != nil {
		t.Fatal(err)
	}
	if o.decShare0, err = o.holders[0].DecryptionShare(o.sum, []int{0, 2}, rand); err != nil {
		t.Fatal(err)
	}
	if o.state, err = o.holders[2].MarshalBinary(); err != nil {
		t.Fatal(err)
	}
	f, err := p.Fingerprint(o.update, [32]byte{5})
	if err != nil {
		t.Fatal(err)
	}
	if o.fingerprint, err = f.MarshalBinary(); err != nil {
		t.Fatal(err)
	}
	return o
}

// decoders maps each kind to a function that decodes bytes of it and
// re-encodes the result (nil if the bytes are rejected).
func (o *objects) decoders() map[string]func([]byte) ([]byte, error) {
	p := o.p
	return map[string]func([]byte) ([]byte, error){
		"public-key share": func(b []byte) ([]byte, error) {
			d := p.crsDigest([32]byte{1, 2, 3})
			pol := p.ringQ.NewPoly()
			idx, err := p.parsePublicKeyShare(b, d, pol)
			if err != nil {
				return nil, err
			}
			h := &KeyHolder{p: p, crs: [32]byte{1, 2, 3}, index: idx, pkShare: pol}
			return h.PublicKeyShare(), nil
		},
		"public key": func(b []byte) ([]byte, error) {
			pk, err := UnmarshalPublicKey(p, b)
			if err != nil {
				return nil, err
			}
			return pk.MarshalBinary()
		},
		"Shamir share": func(b []byte) ([]byte, error) {
			a, err := UnmarshalKeyHolder(p, o.stateDealt)
			if err != nil {
				return nil, err
			}
			if err := a.CombineShamirShares([][]byte{b}); err != nil {
				return nil, err
			}
			return b, nil
		},
		"encrypted vector": func(b []byte) ([]byte, error) {
			s := NewSum(p)
			if err := s.Add(b); err != nil {
				return nil, err
			}
			return s.MarshalBinary()
		},
		"decryption share": func(b []byte) ([]byte, error) {
			s := NewSum(p)
			if err := s.Add(o.sum); err != nil {
				return nil, err
			}
			if _, err := s.Decrypt([][]byte{o.decShare0, b}); err != nil {
				return nil, err
			}
			// Re-encode: the fixed part as decoded, then every polynomial.
			h, err := p.parseDecShareHeader(b)
			if err != nil {
				return nil, err
			}
			base := decShareHeaderLen + 2*len(h.set)
			out := bytes.Clone(b[:base])
			pl, pol := p.polyLen(), p.ringQ.NewPoly()
			for i := range h.count {
				if err := p.unpackPoly(b[base+i*pl:base+(i+1)*pl], pol, false); err != nil {
					return nil, err
				}
				out = append(out, make([]byte, pl)...)
				p.packPoly(out[base+i*pl:], pol)
			}
			return out, nil
		},
		"key-holder state": func(b []byte) ([]byte, error) {
			h, err := UnmarshalKeyHolder(p, b)
			if err != nil {
				return nil, err
			}
			return h.MarshalBinary()
		},
		"fingerprint": func(b []byte) ([]byte, error) {
			f, err := p.UnmarshalFingerprint(b)
			if err != nil {
				return nil, err
			}
			return f.MarshalBinary()
		},
	}
}

func (o *objects) valid() map[string][]byte {
	return map[string][]byte{
		"public-key share": o.pkShare,
		"public key":       o.pkBytes,
		"Shamir share":     o.shamir,
		"encrypted vector": o.update,
		"decryption share": o.decShare,
		"key-holder state": o.state,
		"fingerprint":      o.fingerprint,
	}
}

func TestDecodersRoundTrip(t *testing.T) {
	o := newObjects(t)
	dec := o.decoders()
	for name, b := range o.valid() {
		t.Run(name, func(t *testing.T) {
			out, err := dec[name](b)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, b) {
				t.Error("re-encoding differs from the input")
			}
		})
	}
}

func TestDecodersRejectMalformed(t *testing.T) {
	o := newObjects(t)
	dec := o.decoders()
	type mutation struct {
		name string
		f    func([]byte) []byte
	}
	mutations := []mutation{
		{"empty", func(b []byte) []byte { return nil }},
		{"header only", func(b []byte) []byte { return b[:commonLen] }},
		{"truncated by one byte", func(b []byte) []byte { return b[:len(b)-1] }},
		{"one byte appended", func(b []byte) []byte { return append(b, 0) }},
		{"bad magic", func(b []byte) []byte { b[0] = 'X'; return b }},
		{"version 9", func(b []byte) []byte { b[4] = 9; return b }},
		{"other kind", func(b []byte) []byte { b[5] = b[5]%7 + 1; return b }}, // kinds are 1 to 7
		{"unknown kind", func(b []byte) []byte { b[5] = 99; return b }},
		{"other preset", func(b []byte) []byte { b[6] = byte(PresetPrecise); return b }},
		{"flags flipped", func(b []byte) []byte { b[7] ^= flagMontgomery; return b }},
		{"NTT flag cleared", func(b []byte) []byte { b[7] &^= flagNTT; return b }},
		{"last coefficient ≥ q", func(b []byte) []byte {
			// The last coefficient of the last prime ends the encoding: all ones.
			bits := o.p.bits[len(o.p.bits)-1]
			for k := range bits {
				bit := 8*len(b) - 1 - k
				b[bit/8] |= 1 << (bit % 8)
			}
			return b
		}},
		{"first field 0xffff", func(b []byte) []byte { binary.LittleEndian.PutUint16(b[commonLen:], 0xffff); return b }},
		{"length field huge", func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[commonLen+4:], 0xffffffff)
			return b
		}},
	}
	for name, valid := range o.valid() {
		for _, m := range mutations {
			t.Run(name+"/"+m.name, func(t *testing.T) {
				b := m.f(bytes.Clone(valid))
				if m.name == "length field huge" && name == "public key" {
					t.Skip("bytes 12-15 of a public key are its free reference string")
				}
				if m.name == "length field huge" && name == "fingerprint" {
					t.Skip("bytes 12-15 of a fingerprint are the low half of a residue, any value of which is valid")
				}
				if m.name == "NTT flag cleared" && name == "fingerprint" {
					t.Skip("a fingerprint has no flags to clear")
				}
				_, err := dec[name](b)
				if err == nil {
					t.Fatal("accepted")
				}
				if !errors.Is(err, ErrMalformed) {
					t.Errorf("error does not wrap ErrMalformed: %v", err)
				}
			})
		}
	}
}

func TestStateRoundTripsAtEveryStage(t *testing.T) {
	p := testPreset(t, true)
	rand := seeded(30)
	crs := [32]byte{9}
	hs := make([]*KeyHolder, 3)
	restore := func(h *KeyHolder) *KeyHolder {
		t.Helper()
		b, err := h.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		r, err := UnmarshalKeyHolder(p, b)
		if err != nil {
			t.Fatal(err)
		}
		b2, _ := r.MarshalBinary()
		if !bytes.Equal(b, b2) {
			t.Fatal("state re-encodes differently")
		}
		return r
	}
	var pkShares [][]byte
	for i := range hs {
		h, err := NewKeyHolder(p, crs, i, rand)
		if err != nil {
			t.Fatal(err)
		}
		hs[i] = restore(h)
		pkShares = append(pkShares, hs[i].PublicKeyShare())
	}
	pk, err := CombinePublicKey(p, crs, pkShares)
	if err != nil {
		t.Fatal(err)
	}
	inbox := make([][][]byte, 3)
	for i, h := range hs {
		out, err := h.ShamirShares([]int{2, 0, 1}, 2, rand)
		if err != nil {
			t.Fatal(err)
		}
		hs[i] = restore(h)
		for j, b := range out {
			inbox[j] = append(inbox[j], b)
		}
	}
	for i, h := range hs {
		if err := h.CombineShamirShares(inbox[i]); err != nil {
			t.Fatal(err)
		}
		hs[i] = restore(h)
	}
	sum, sb, want, _ := roundTrip(t, p, pk, 2, 100, 31)
	got, err := sum.Decrypt(decShares(t, hs, sb, []int{2, 1}, rand))
	if err != nil {
		t.Fatal(err)
	}
	if e := maxErr(t, got, want); e > 1e-6 {
		t.Errorf("max error %g after restoring states", e)
	}
}

func TestStateRejectsAnotherKeyPair(t *testing.T) {
	p := testPreset(t, true)
	rand := seeded(32)
	a, _ := NewKeyHolder(p, [32]byte{1}, 0, rand)
	b, _ := NewKeyHolder(p, [32]byte{1}, 1, rand)
	ab, _ := a.MarshalBinary()
	bb, _ := b.MarshalBinary()
	pl := p.polyLen()
	// a's secret with b's public-key share.
	mixed := bytes.Clone(ab)
	copy(mixed[stateHeaderLen+pl:], bb[stateHeaderLen+pl:stateHeaderLen+2*pl])
	if _, err := UnmarshalKeyHolder(p, mixed); !errors.Is(err, ErrMalformed) {
		t.Errorf("mixed key pair: err = %v, want ErrMalformed", err)
	}
	// The right key pair under another reference string.
	other := bytes.Clone(ab)
	other[commonLen+8] ^= 1
	if _, err := UnmarshalKeyHolder(p, other); !errors.Is(err, ErrMalformed) {
		t.Errorf("other reference string: err = %v, want ErrMalformed", err)
	}
}

func TestEncryptIsDeterministicGivenRandomness(t *testing.T) {
	o := newObjects(t)
	v := uniform(seeded(40), 3*o.p.Slots()+1, 1)
	a, err := Encrypt(o.pk, v, seeded(41))
	if err != nil {
		t.Fatal(err)
	}
	prev := runtime.GOMAXPROCS(1)
	b, err := Encrypt(o.pk, v, seeded(41))
	runtime.GOMAXPROCS(prev)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("same randomness, different ciphertexts with 1 and GOMAXPROCS workers")
	}
	c, _ := Encrypt(o.pk, v, seeded(42))
	if bytes.Equal(a, c) {
		t.Error("different randomness, same ciphertexts")
	}
	if len(a) != o.p.UpdateSize(len(v)) {
		t.Errorf("size %d, UpdateSize says %d", len(a), o.p.UpdateSize(len(v)))
	}
}

func TestEncryptToWritesEveryByte(t *testing.T) {
	o := newObjects(t)
	v := uniform(seeded(43), 2*o.p.Slots()+5, 1)
	want, err := Encrypt(o.pk, v, seeded(44))
	if err != nil {
		t.Fatal(err)
	}
	dst := bytes.Repeat([]byte{0xff}, len(want))
	if err := EncryptTo(dst, o.pk, v, seeded(44)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dst, want) {
		t.Error("EncryptTo into a used buffer differs from Encrypt")
	}
	for _, n := range []int{len(want) - 1, len(want) + 1} {
		if err := EncryptTo(make([]byte, n), o.pk, v, seeded(44)); err == nil {
			t.Errorf("room of %d bytes for an update of %d: accepted", n, len(want))
		}
	}
}

func TestEncryptRejectsBadValues(t *testing.T) {
	o := newObjects(t)
	big := o.p.lit.MaxAbs * 1.5
	for name, v := range map[string][]float64{
		"empty":        {},
		"NaN":          {0, nan()},
		"+Inf":         {inf(1)},
		"above MaxAbs": {0, big},
		"below MaxAbs": {-big},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Encrypt(o.pk, v, seeded(1)); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func TestParamsValidation(t *testing.T) {
	base := presets[PresetPrecise]
	for _, tc := range []struct {
		name, want string // want: a fragment of the error naming the check
		f          func(*ParamsLiteral)
	}{
		{"log Q above the 128-bit bound", "128-bit bound", func(l *ParamsLiteral) { l.LogQ = []int{55, 55} }},
		{"LogN 11 with 108 bits", "128-bit bound", func(l *ParamsLiteral) { l.LogN = 11 }},
		{"value too large to encode", "MaxAbs·2^50", func(l *ParamsLiteral) { l.LogQ = []int{40, 40}; l.LogScale = 60 }},
		{"no room for the message", "no room", func(l *ParamsLiteral) { l.MaxAbs = 64 }},
		{"one key holder", "MaxKeyHolders", func(l *ParamsLiteral) { l.MaxKeyHolders = 1 }},

		{"NaN MaxAbs", "MaxAbs", func(l *ParamsLiteral) { l.MaxAbs = nan() }},
		{"reserved ID", "reserved", func(l *ParamsLiteral) { l.ID = 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := base
			l.LogQ = append([]int(nil), base.LogQ...)
			tc.f(&l)
			err := l.Validate()
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name %q", err, tc.want)
			}
		})
	}
	if err := base.Validate(); err != nil {
		t.Errorf("precise preset: %v", err)
	}
}

func TestSumUnchangedByBadUpdate(t *testing.T) {
	o := newObjects(t)
	p := o.p
	sum := NewSum(p)
	if err := sum.Add(o.update); err != nil {
		t.Fatal(err)
	}
	before, _ := sum.MarshalBinary()
	pl := p.polyLen()
	b := p.bits[0]
	for _, at := range []struct {
		name        string
		poly, coeff int // this coefficient of the first prime is set to 2^b − 1 ≥ q
	}{
		{"first polynomial", 0, 3},
		{"last polynomial", 2*p.Ciphertexts(p.Slots()+3) - 1, 100},
		{"last polynomial, end of first prime", 2*p.Ciphertexts(p.Slots()+3) - 1, p.params.N() - 1},
	} {
		t.Run(at.name, func(t *testing.T) {
			bad := bytes.Clone(o.update)
			for k := range b {
				bit := 8*(updateHeaderLen+at.poly*pl) + at.coeff*b + k
				bad[bit/8] |= 1 << (bit % 8)
			}
			err := sum.Add(bad)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
			after, _ := sum.MarshalBinary()
			if !bytes.Equal(before, after) {
				t.Error("a rejected vector changed the sum")
			}
		})
	}
	// An empty sum stays empty.
	empty := NewSum(p)
	bad := bytes.Clone(o.update)
	for k := range p.bits[len(p.bits)-1] { // the last coefficient
		bit := 8*len(bad) - 1 - k
		bad[bit/8] |= 1 << (bit % 8)
	}
	if err := empty.Add(bad); err == nil || empty.Addends() != 0 || empty.Len() != 0 {
		t.Errorf("empty sum after a bad vector: err = %v, %d addends, length %d", err, empty.Addends(), empty.Len())
	}
}

// TestCombineNamesTheBadShare: a malformed or duplicate public-key or Shamir
// share is reported as a *ShareError with its position in the slice passed.
func TestCombineNamesTheBadShare(t *testing.T) {
	p := testPreset(t, true)
	rand := seeded(33)
	crs := [32]byte{4}
	hs := make([]*KeyHolder, 4)
	var pkShares [][]byte
	for i := range hs {
		h, err := NewKeyHolder(p, crs, i, rand)
		if err != nil {
			t.Fatal(err)
		}
		hs[i] = h
		pkShares = append(pkShares, h.PublicKeyShare())
	}
	check := func(t *testing.T, err error, index int, malformedBytes bool) {
		t.Helper()
		var se *ShareError
		if !errors.As(err, &se) {
			t.Fatalf("err = %v, want a *ShareError", err)
		}
		if se.Index != index {
			t.Errorf("ShareError.Index = %d, want %d (%v)", se.Index, index, err)
		}
		if errors.Is(err, ErrMalformed) != malformedBytes {
			t.Errorf("errors.Is(err, ErrMalformed) = %t, want %t", !malformedBytes, malformedBytes)
		}
	}
	t.Run("public key/malformed", func(t *testing.T) {
		bad := append([][]byte(nil), pkShares...)
		bad[2] = lastCoeffAllOnes(p, bad[2])
		_, err := CombinePublicKey(p, crs, bad)
		check(t, err, 2, true)
	})
	t.Run("public key/other reference string", func(t *testing.T) {
		other, _ := NewKeyHolder(p, [32]byte{5}, 3, rand)
		bad := append(append([][]byte(nil), pkShares[:3]...), other.PublicKeyShare())
		_, err := CombinePublicKey(p, crs, bad)
		check(t, err, 3, true)
	})
	t.Run("public key/duplicate", func(t *testing.T) {
		bad := [][]byte{pkShares[0], pkShares[1], pkShares[1], pkShares[3]}
		_, err := CombinePublicKey(p, crs, bad)
		check(t, err, 2, false)
	})
	ids := []int{0, 1, 2, 3}
	inbox := make([][][]byte, len(hs))
	for _, h := range hs {
		out, err := h.ShamirShares(ids, 3, rand)
		if err != nil {
			t.Fatal(err)
		}
		for j, b := range out {
			inbox[j] = append(inbox[j], b)
		}
	}
	t.Run("Shamir/malformed", func(t *testing.T) {
		bad := append([][]byte(nil), inbox[0]...)
		bad[1] = lastCoeffAllOnes(p, bad[1])
		check(t, hs[0].CombineShamirShares(bad), 1, true)
	})
	t.Run("Shamir/addressed to another", func(t *testing.T) {
		bad := append([][]byte(nil), inbox[0]...)
		bad[2] = inbox[1][2]
		check(t, hs[0].CombineShamirShares(bad), 2, true)
	})
	t.Run("Shamir/duplicate", func(t *testing.T) {
		bad := [][]byte{inbox[0][0], inbox[0][1], inbox[0][0]}
		check(t, hs[0].CombineShamirShares(bad), 2, false)
	})
	// The state is unchanged by the failures: the genuine shares combine.
	if err := hs[0].CombineShamirShares(inbox[0]); err != nil {
		t.Fatal(err)
	}
}

// lastCoeffAllOnes returns b with the last coefficient of its last
// polynomial set to all ones: not below its prime.
func lastCoeffAllOnes(p *Params, b []byte) []byte {
	b = bytes.Clone(b)
	for k := range p.bits[len(p.bits)-1] {
		bit := 8*len(b) - 1 - k
		b[bit/8] |= 1 << (bit % 8)
	}
	return b
}
