package bench

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"math"
	"runtime"

	"github.com/fedcrypt/fedcrypt/he"
)

// WireParams is the upload size the wire figures are given for.
const WireParams = 1_000_000

// Precision scenario of the issue: 100 contributors, threshold 10.
const (
	precisionContributors = 100
	precisionThreshold    = 10
)

// HEPreset is the cost of one CKKS preset on this machine.
type HEPreset struct {
	Preset string `json:"preset"`
	Slots  int    `json:"slots"`
	// Params is the length of the encrypted vector the throughputs were
	// measured on.
	Params int `json:"params"`
	// EncryptOneCore and EncryptAllCores are encryption throughputs, in
	// parameters per second, with GOMAXPROCS 1 and GOMAXPROCS = Cores.
	EncryptOneCore  Span `json:"encrypt_params_per_s_1core"`
	EncryptAllCores Span `json:"encrypt_params_per_s_all_cores"`
	Cores           int  `json:"cores"`
	// Aggregate is Sum.Add's throughput, parameters per second.
	Aggregate Span `json:"aggregate_params_per_s"`
	// DecryptionShareMs is one key holder's cost per ciphertext (T = 2).
	DecryptionShareMs Span `json:"decryption_share_ms_per_ciphertext"`
	// CombineMs is Sum.Decrypt (T = 10 shares, DecodePublic) per ciphertext.
	CombineMs Span `json:"combine_ms_per_ciphertext"`
	// Bytes on the wire per parameter of a WireParams upload (headers
	// included), and of one key holder's decryption share of it at T = 10.
	UploadBytesPerParam float64 `json:"upload_bytes_per_param"`
	ShareBytesPerParam  float64 `json:"share_bytes_per_param"`
	// PrecisionBits is −log₂ of the worst absolute error of the decrypted
	// mean of 100 contributors' vectors uniform in [−1, 1], T = 10, over
	// PrecisionValues values; ExpectedPrecisionBits is he's σ-based
	// estimate for that mean, log₂(100·Δ/σ_slot) (one standard deviation,
	// so the worst of many values lies a few bits below it).
	PrecisionBits         float64 `json:"precision_bits"`
	ExpectedPrecisionBits float64 `json:"expected_precision_bits"`
	PrecisionValues       int     `json:"precision_values"`
}

// presetParams returns the named preset ("compact", "precise") with the key
// policy of the precision scenario: K = T = 10, 100 contributors and a
// lifetime budget of 2^16 ciphertext decryptions, or the largest that fits
// (2 for the compact preset).
func presetParams(name string) (*he.Params, error) {
	p, err := barePreset(name)
	if err != nil {
		return nil, err
	}
	return withPolicy(p, precisionThreshold, precisionContributors)
}

// withPolicy returns p with a key policy of k key holders, c contributors
// and min(2^16, the largest L that fits) decryptions.
func withPolicy(p *he.Params, k, c int) (*he.Params, error) {
	kp := he.KeyPolicy{KeyHolders: k, Contributors: c}
	kp.Decryptions = min(p.MaxDecryptions(kp), 1<<16)
	return p.WithPolicy(kp)
}

// barePreset returns the named preset without a key policy.
func barePreset(name string) (*he.Params, error) {
	for _, id := range []he.PresetID{he.PresetCompact, he.PresetPrecise} {
		if id.String() == name {
			return he.Preset(id)
		}
	}
	return nil, fmt.Errorf("unknown CKKS preset %q (want compact or precise)", name)
}

// keySetup runs the collective key generation and threshold sharing of n key
// holders with threshold t, as the federation does, in one process.
func keySetup(p *he.Params, n, t int) ([]*he.KeyHolder, *he.PublicKey, error) {
	var crs [32]byte
	if _, err := rand.Read(crs[:]); err != nil {
		return nil, nil, err
	}
	holders := make([]*he.KeyHolder, n)
	shares := make([][]byte, n)
	ids := make([]int, n)
	for i := range n {
		h, err := he.NewKeyHolder(p, crs, i, rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		holders[i], shares[i], ids[i] = h, h.PublicKeyShare(), i
	}
	pk, err := he.CombinePublicKey(p, crs, shares)
	if err != nil {
		return nil, nil, err
	}
	inbox := make([][][]byte, n)
	for _, h := range holders {
		out, err := h.ShamirShares(ids, t, rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		for j, b := range out {
			inbox[j] = append(inbox[j], b)
		}
	}
	for i, h := range holders {
		if err := h.CombineShamirShares(inbox[i]); err != nil {
			return nil, nil, err
		}
	}
	return holders, pk, nil
}

// uniform returns n values uniform in [−a, a] from crypto/rand.
func uniform(n int, a float64) []float64 {
	b := make([]byte, 8*n)
	if _, err := rand.Read(b); err != nil {
		panic("bench: crypto/rand failed: " + err.Error())
	}
	v := make([]float64, n)
	for i := range v {
		u := binary.LittleEndian.Uint64(b[8*i:]) >> 11
		v[i] = a * (2*float64(u)/(1<<53) - 1)
	}
	return v
}

func measureHE(ctx context.Context, name string, s sizes) (HEPreset, error) {
	bare, err := barePreset(name)
	if err != nil {
		return HEPreset{}, err
	}
	// The cost figures use a key of 3 key holders whose shares decrypt one
	// upload (a share's cost does not depend on the addends): the compact
	// preset's key admits a few hundred ciphertext decryptions that way.
	p, err := withPolicy(bare, 3, 1)
	if err != nil {
		return HEPreset{}, err
	}
	r := HEPreset{Preset: name, Slots: p.Slots(), Params: s.heParams, Cores: runtime.NumCPU()}
	holders, pk, err := keySetup(p, 3, 2)
	if err != nil {
		return r, fmt.Errorf("key setup: %w", err)
	}
	v := uniform(s.heParams, 1)
	var u []byte
	enc := func() (err error) { u, err = he.Encrypt(pk, v, rand.Reader); return err }

	prev := runtime.GOMAXPROCS(1)
	fast, slow, err := repeat(ctx, s.reps, enc)
	runtime.GOMAXPROCS(r.Cores)
	if err == nil {
		r.EncryptOneCore = rate(float64(s.heParams), fast, slow)
		fast, slow, err = repeat(ctx, s.reps, enc)
		r.EncryptAllCores = rate(float64(s.heParams), fast, slow)
	}
	runtime.GOMAXPROCS(prev)
	if err != nil {
		return r, fmt.Errorf("encrypt: %w", err)
	}
	if len(u) != p.UpdateSize(s.heParams) {
		return r, fmt.Errorf("encrypted %d values into %d bytes, UpdateSize says %d", s.heParams, len(u), p.UpdateSize(s.heParams))
	}
	r.UploadBytesPerParam = float64(p.UpdateSize(WireParams)) / WireParams
	r.ShareBytesPerParam = float64(p.DecryptionShareSize(WireParams, precisionThreshold)) / WireParams

	// Aggregation: fold the same upload into a sum, a fresh sum when full.
	lit := p.Literal()
	sum := he.NewSum(bare)
	adds := max(2, min(s.reps*4, lit.MaxAddends))
	fast, slow, err = repeat(ctx, adds, func() error { return sum.Add(u) })
	if err != nil {
		return r, fmt.Errorf("aggregate: %w", err)
	}
	r.Aggregate = rate(float64(s.heParams), fast, slow)

	// Decryption shares of the upload: each repetition asks the next
	// holder, spreading the key holders' lifetime decryption budgets.
	cts := float64(p.Ciphertexts(s.heParams))
	next := 0
	fast, slow, err = repeat(ctx, s.reps, func() error {
		i := next % len(holders)
		next++
		set := []int{i, (i + 1) % len(holders)}
		_, err := holders[i].DecryptionShare(u, set, rand.Reader)
		return err
	})
	if err != nil {
		return r, fmt.Errorf("decryption share: %w", err)
	}
	r.DecryptionShareMs = cost(cts, fast, slow)

	pp, err := presetParams(name)
	if err != nil {
		return r, err
	}
	if err := measurePrecision(ctx, pp, s, &r); err != nil {
		return r, fmt.Errorf("precision: %w", err)
	}
	return r, nil
}

// measurePrecision decrypts the sum of 100 contributors' vectors with
// T = 10 key holders and compares the mean with the exact one.
func measurePrecision(ctx context.Context, p *he.Params, s sizes, r *HEPreset) error {
	const c, t = precisionContributors, precisionThreshold
	cts := min(s.precisionCiphertexts, int(p.Policy().Decryptions)) // the compact key admits 2
	n := cts * p.Slots()
	holders, pk, err := keySetup(p, t, t)
	if err != nil {
		return err
	}
	want := make([]float64, n)
	sum := he.NewSum(p)
	for range c {
		if err := ctx.Err(); err != nil {
			return err
		}
		v := uniform(n, 1)
		for i, x := range v {
			want[i] += x
		}
		u, err := he.Encrypt(pk, v, rand.Reader)
		if err != nil {
			return err
		}
		if err := sum.Add(u); err != nil {
			return err
		}
	}
	sb, err := sum.MarshalBinary()
	if err != nil {
		return err
	}
	set := make([]int, t)
	for i := range set {
		set[i] = i
	}
	shares := make([][]byte, t)
	for i, h := range holders {
		if shares[i], err = h.DecryptionShare(sb, set, rand.Reader); err != nil {
			return err
		}
	}
	var got []float64
	fast, slow, err := repeat(ctx, 1, func() (err error) { got, err = sum.Decrypt(shares); return err })
	if err != nil {
		return err
	}
	r.CombineMs = cost(float64(cts), fast, slow)
	worst := 0.0
	for i := range want {
		worst = math.Max(worst, math.Abs(got[i]-want[i])/c)
	}
	r.PrecisionBits = -math.Log2(worst)
	r.ExpectedPrecisionBits = p.PrecisionBits(c, t) + math.Log2(c)
	r.PrecisionValues = n
	return nil
}
