package he

import (
	"fmt"
	"io"
	"math"
	"testing"

	"golang.org/x/crypto/chacha20"
)

// seeded returns a deterministic ChaCha20 keystream: reproducible test
// randomness, never for production.
func seeded(seed uint64) io.Reader {
	var key [32]byte
	for i := range 8 {
		key[i] = byte(seed >> (8 * i))
	}
	c, err := chacha20.NewUnauthenticatedCipher(key[:], make([]byte, 12))
	if err != nil {
		panic(err)
	}
	return &keystream{c}
}

type keystream struct{ c *chacha20.Cipher }

func (k *keystream) Read(b []byte) (int, error) {
	clear(b)
	k.c.XORKeyStream(b, b)
	return len(b), nil
}

// testPreset returns the small insecure preset under -short and the real one
// otherwise, with the key policy of testPolicy: at most 12 key holders and
// 100 contributors.
func testPreset(t testing.TB, precise bool) *Params {
	t.Helper()
	id := PresetCompact
	switch {
	case precise && testing.Short():
		id = PresetInsecureTestPrecise
	case precise:
		id = PresetPrecise
	case testing.Short():
		id = PresetInsecureTestCompact
	}
	p, err := Preset(id)
	if err != nil {
		t.Fatal(err)
	}
	return testPolicy(t, p, min(12, p.lit.MaxKeyHolders), min(100, p.lit.MaxAddends))
}

// testPolicy returns p with a key policy of k key holders and c contributors
// and L = 2^16 decryptions, or the largest L that fits if smaller.
func testPolicy(t testing.TB, p *Params, k, c int) *Params {
	t.Helper()
	kp := KeyPolicy{KeyHolders: k, Contributors: c}
	kp.Decryptions = min(p.MaxDecryptions(kp), 1<<16)
	q, err := p.WithPolicy(kp)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// federation runs the whole key setup for the key holders 0..n-1 with
// threshold t and returns their states and the collective public key.
func federation(t testing.TB, p *Params, n, threshold int, rand io.Reader) ([]*KeyHolder, *PublicKey) {
	t.Helper()
	crs := [32]byte{1, 2, 3}
	holders := make([]*KeyHolder, n)
	shares := make([][]byte, n)
	ids := make([]int, n)
	for i := range n {
		h, err := NewKeyHolder(p, crs, i, rand)
		if err != nil {
			t.Fatal(err)
		}
		holders[i], shares[i], ids[i] = h, h.PublicKeyShare(), i
	}
	pk, err := CombinePublicKey(p, crs, shares)
	if err != nil {
		t.Fatal(err)
	}
	inbox := make([][][]byte, n)
	for _, h := range holders {
		out, err := h.ShamirShares(ids, threshold, rand)
		if err != nil {
			t.Fatal(err)
		}
		for j, b := range out {
			inbox[j] = append(inbox[j], b)
		}
	}
	for i, h := range holders {
		if err := h.CombineShamirShares(inbox[i]); err != nil {
			t.Fatal(err)
		}
	}
	return holders, pk
}

// uniform returns n values uniform in [-a, a].
func uniform(rand io.Reader, n int, a float64) []float64 {
	b := make([]byte, 8*n)
	if _, err := io.ReadFull(rand, b); err != nil {
		panic(err)
	}
	v := make([]float64, n)
	for i := range v {
		u := uint64(0)
		for k := range 8 {
			u |= uint64(b[8*i+k]) << (8 * k)
		}
		v[i] = a * (2*float64(u>>11)/(1<<53) - 1)
	}
	return v
}

// maxErr returns max |got - want| and fails on a length mismatch.
func maxErr(t testing.TB, got, want []float64) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d values, want %d", len(got), len(want))
	}
	m := 0.0
	for i := range got {
		m = math.Max(m, math.Abs(got[i]-want[i]))
	}
	return m
}

func decShares(t testing.TB, holders []*KeyHolder, sum []byte, set []int, rand io.Reader) [][]byte {
	t.Helper()
	out := make([][]byte, len(set))
	for i, j := range set {
		b, err := holders[j].DecryptionShare(sum, set, rand)
		if err != nil {
			t.Fatal(fmt.Errorf("share of %d: %w", j, err))
		}
		out[i] = b
	}
	return out
}

func nan() float64      { return math.NaN() }
func inf(s int) float64 { return math.Inf(s) }

// errorBound is the largest error the noise model allows on one decrypted
// value: its 2^-30 tail plus DecodePublic's rounding.
func errorBound(p *Params, addends, threshold int) float64 {
	return tailSigmas*math.Exp2(-p.PrecisionBits(addends, threshold)) + math.Exp2(-p.logPrecision(addends, threshold))
}
