package he

import (
	"bytes"

	"errors"
	"github.com/tuneinsight/lattigo/v5/ring"
	"math"
	"strings"
	"testing"
)

func TestWithPolicyRefuses(t *testing.T) {
	p, err := Preset(PresetPrecise)
	if err != nil {
		t.Fatal(err)
	}
	small, err := NewParams(ParamsLiteral{ID: 9, LogN: 12, LogQ: []int{40, 40}, LogScale: 40, MaxAbs: 0.1,
		MaxAddends: 1024, MaxKeyHolders: 128, StatisticalSecurity: 30})
	if err != nil {
		t.Fatal(err)
	}
	noisy, err := NewParams(ParamsLiteral{ID: 9, LogN: 12, LogQ: []int{54, 54}, LogScale: 45, MaxAbs: 4,
		MaxAddends: 1024, MaxKeyHolders: 128, StatisticalSecurity: 30})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		p    *Params
		kp   KeyPolicy
		want []string // fragments of the error
	}{
		{"one key holder", p, KeyPolicy{1, 10, 10}, []string{"KeyHolders 1"}},
		{"more key holders than the preset", p, KeyPolicy{129, 10, 10}, []string{"KeyHolders 129"}},
		{"no contributors", p, KeyPolicy{3, 0, 10}, []string{"Contributors 0"}},
		{"more contributors than the preset", p, KeyPolicy{3, 1025, 10}, []string{"Contributors 1025"}},
		{"no decryptions", p, KeyPolicy{3, 10, 0}, []string{"Decryptions"}},
		{"too many decryptions", p, KeyPolicy{10, 100, 1 << 40}, []string{"12·σ_flood", "the largest L that fits is 56780376"}},
		{"primes too small for any L", small, KeyPolicy{128, 1024, 1}, []string{"prime", "no L fits"}},
		{"too noisy to decode", noisy, KeyPolicy{128, 1024, 1}, []string{"bits of precision", "no L fits"}},
		{"compact loses precision", must(t, PresetCompact), KeyPolicy{10, 100, 3}, []string{"bits of precision", "the largest L that fits is 2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.p.WithPolicy(tc.kp)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func must(t testing.TB, id PresetID) *Params {
	t.Helper()
	p, err := Preset(id)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestFloodingFormula checks σ_flood against the formula of the package
// documentation, written out independently, and its scaling in L, the
// addends and K.
func TestFloodingFormula(t *testing.T) {
	p := must(t, PresetPrecise)
	kp := KeyPolicy{KeyHolders: 16, Contributors: 100, Decryptions: 1 << 16}
	q, err := p.WithPolicy(kp)
	if err != nil {
		t.Fatal(err)
	}
	n, s2 := 4096.0, 3.2*3.2
	vFresh := 2 * s2 * (1 + 4.0/3*n*16)
	e := (math.Sqrt(n) + 6.45) * math.Sqrt(100*vFresh)
	want := 8 * math.Sqrt(1<<16) * math.Exp2(15) * e
	// The sampler's s is the formula's σ_flood or up to 1% above it.
	if got := q.FloodingSigma(); got < want || got > 1.01*want {
		t.Errorf("σ_flood = %g, want %g to 1%% above", got, want)
	}
	if got := q.floodSigma(25); got < want/2 || got > 1.01*want/2 {
		t.Errorf("σ_flood(25 addends) = %g, want half of σ_flood(100) = %g to 1%% above", got, want/2)
	}
	kp.Decryptions <<= 2
	q4, _ := p.WithPolicy(kp)
	if r := q4.FloodingSigma() / q.FloodingSigma(); math.Abs(r-2) > 0.02 {
		t.Errorf("4L: σ_flood grows by %g, want 2", r)
	}
	// Each bit of σ costs one bit of precision once the flooding dominates.
	if d := q.PrecisionBits(100, 16) - q4.PrecisionBits(100, 16); math.Abs(d-1) > 0.03 {
		t.Errorf("one more bit of σ_flood costs %.3f bits of precision, want 1", d)
	}
	if got := q.SecurityBits(0); got != 30+16 {
		t.Errorf("SecurityBits(0) = %g, want 46", got)
	}
	if got := q.SecurityBits(1 << 16); got != 30 {
		t.Errorf("SecurityBits(L) = %g, want 30", got)
	}
	if got := q.SecurityBits(1 << 10); got != 36 {
		t.Errorf("SecurityBits(2^10) = %g, want 36", got)
	}
	if p.SecurityBits(1) != 0 || p.FloodingSigma() != 0 || !math.IsNaN(p.PrecisionBits(1, 2)) || p.Policy() != (KeyPolicy{}) {
		t.Error("a bare preset reports a policy")
	}
	if q.Policy() != (KeyPolicy{16, 100, 1 << 16}) {
		t.Errorf("Policy() = %v", q.Policy())
	}
}

func TestOperationsNeedAPolicy(t *testing.T) {
	bare := must(t, PresetInsecureTestPrecise)
	if _, err := NewKeyHolder(bare, [32]byte{}, 0, seeded(1)); err == nil || !strings.Contains(err.Error(), "no key policy") {
		t.Errorf("NewKeyHolder with a bare preset: %v", err)
	}
	p := testPolicy(t, bare, 3, 4)
	holders, pk := federation(t, p, 3, 2, seeded(2))
	_, sb, _, _ := roundTrip(t, p, pk, 2, 10, 3)
	shares := decShares(t, holders, sb, []int{0, 1}, seeded(4))
	sum := NewSum(bare)
	if err := sum.Add(sb); err != nil {
		t.Fatal(err)
	}
	if _, err := sum.Decrypt(shares); err == nil || !strings.Contains(err.Error(), "no key policy") {
		t.Errorf("Sum.Decrypt with a bare preset: %v", err)
	}
	state, _ := holders[0].MarshalBinary()
	if _, err := UnmarshalKeyHolder(bare, state); err == nil {
		t.Error("state restored with a bare preset")
	}
	other := testPolicy(t, bare, 3, 5)
	if _, err := UnmarshalKeyHolder(other, state); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "key policy") {
		t.Errorf("state restored under another policy: %v", err)
	}
}

// TestDecryptionBudget: a key holder gives at most L ciphertext decryptions
// over the key's life, whatever the ciphertexts; the count survives a
// restart; a sum of more addends than the policy's is refused.
func TestDecryptionBudget(t *testing.T) {
	bare := testPreset(t, false)
	p, err := bare.WithPolicy(KeyPolicy{KeyHolders: 3, Contributors: 2, Decryptions: 5})
	if err != nil {
		t.Fatal(err)
	}
	holders, pk := federation(t, p, 3, 2, seeded(9))
	two := 2 * p.Slots() // a vector of two ciphertexts
	sum, sb, want, _ := roundTrip(t, p, pk, 2, two, 10)
	rand := seeded(11)
	for k := range 2 {
		got, err := sum.Decrypt(decShares(t, holders, sb, []int{0, 1 + k}, rand))
		if err != nil {
			t.Fatalf("decryption %d: %v", k+1, err)
		}
		if e, tol := maxErr(t, got, want), errorBound(p, 2, 2); e > tol {
			t.Fatalf("decryption %d: max error %g > %g", k+1, e, tol)
		}
	}
	if got := holders[0].Decryptions(); got != 4 {
		t.Errorf("key holder 0 gave %d ciphertext decryptions, want 4", got)
	}
	// A fresh ciphertext pair does not reset anything: 4 + 2 > 5.
	_, fresh, _, _ := roundTrip(t, p, pk, 1, two, 12)
	if _, err := holders[0].DecryptionShare(fresh, []int{0, 2}, rand); !errors.Is(err, ErrDecryptionBudget) {
		t.Errorf("2 more ciphertexts after 4 of 5: err = %v, want ErrDecryptionBudget", err)
	}
	if got := holders[0].Decryptions(); got != 4 {
		t.Errorf("a refused share changed the count to %d", got)
	}
	// The count survives a restart; one more ciphertext fits, then none.
	b, err := holders[0].MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	h0, err := UnmarshalKeyHolder(p, b)
	if err != nil {
		t.Fatal(err)
	}
	if h0.Decryptions() != 4 {
		t.Fatalf("restored count %d, want 4", h0.Decryptions())
	}
	_, one, _, _ := roundTrip(t, p, pk, 1, 10, 13)
	if _, err := h0.DecryptionShare(one, []int{0, 2}, rand); err != nil {
		t.Fatalf("the fifth decryption: %v", err)
	}
	if _, err := h0.DecryptionShare(one, []int{0, 2}, rand); !errors.Is(err, ErrDecryptionBudget) {
		t.Errorf("the sixth decryption: err = %v, want ErrDecryptionBudget", err)
	}
	// Key holder 2 gave 2; its budget is its own.
	if _, err := holders[2].DecryptionShare(fresh, []int{0, 2}, rand); err != nil {
		t.Errorf("key holder 2's third and fourth decryptions: %v", err)
	}
	// A sum of 3 addends exceeds the policy's 2 contributors.
	if err := sum.Add(one[:0]); err == nil {
		t.Error("empty vector added")
	}
	three := NewSum(bare)
	for range 3 {
		u, err := Encrypt(pk, []float64{0.5}, rand)
		if err != nil {
			t.Fatal(err)
		}
		if err := three.Add(u); err != nil {
			t.Fatal(err)
		}
	}
	tb, _ := three.MarshalBinary()
	if _, err := holders[1].DecryptionShare(tb, []int{1, 2}, rand); err == nil || !strings.Contains(err.Error(), "3 addends") {
		t.Errorf("a sum of 3 addends under a 2-contributor policy: %v", err)
	}
	ps := NewSum(p)
	_ = ps.Add(tb[:0])
	if err := ps.Add(tb); err == nil {
		t.Error("Sum.Add took 3 addends under a 2-contributor policy")
	}
}

// TestStateVersion1Refused: a key-holder state of the old format (per-
// ciphertext counts) is refused with one line naming the version.
func TestStateVersion1Refused(t *testing.T) {
	p := testPreset(t, true)
	h, err := NewKeyHolder(p, [32]byte{1}, 0, seeded(1))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := h.MarshalBinary()
	old := bytes.Clone(b)
	old[4] = 1
	_, err = UnmarshalKeyHolder(p, old)
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "version 1") || strings.Contains(err.Error(), "\n") {
		t.Errorf("version-1 state: err = %v", err)
	}
}

// TestFloodingSamplerSupport shows why flooding is not drawn with Lattigo's
// Gaussian sampler: it draws each sample from a 31-bit ziggurat index and a
// sign, so its support has at most 2^32 points whatever σ, and two draws
// collide with probability about 2^-32. A discrete Gaussian over the
// integers with σ = 2^40 collides with probability 1/(2√π·σ) ≈ 2^-41.8. The
// test draws 2^18 samples at σ = 2^40 from each and counts equal pairs:
// about 8 from the ziggurat, 0.01 from a discrete Gaussian.
func TestFloodingSamplerSupport(t *testing.T) {
	p := testPreset(t, true)
	const sigma = 1 << 40
	n := p.params.N()
	count := func(read func(ring.Poly)) int {
		pol := p.ringQ.NewPoly()
		seen := map[uint64]int{}
		pairs := 0
		for range (1 << 18) / n {
			read(pol)
			for _, v := range pol.Coeffs[0] {
				pairs += seen[v]
				seen[v]++
			}
		}
		return pairs
	}
	lattigo := count(p.gaussian(keyedPRNG(make([]byte, 32)), sigma).Read)
	c := newFloodChain(sigma)
	prng := keyedPRNG(make([]byte, 32))
	buf := make([]byte, c.bufLen())
	ours := count(func(pol ring.Poly) { c.read(prng, pol, p.params.Q(), buf) })
	t.Logf("2^18 samples at σ = 2^40: %d equal pairs from Lattigo's sampler, %d from the flooding sampler (a discrete Gaussian: about 0.01)", lattigo, ours)
	if lattigo == 0 {
		t.Error("no equal pairs from Lattigo's sampler: its support is no longer 2^32 points; revisit the package documentation")
	}
	if ours > 1 {
		t.Errorf("%d equal pairs from the flooding sampler", ours)
	}
}
