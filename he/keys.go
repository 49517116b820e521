package he

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/tuneinsight/lattigo/v5/ring"
	"github.com/tuneinsight/lattigo/v5/utils/sampling"
)

// newPRNG keys a PRNG with 32 bytes read from rand.
func newPRNG(rand io.Reader) (sampling.PRNG, error) {
	var key [32]byte
	if _, err := io.ReadFull(rand, key[:]); err != nil {
		return nil, fmt.Errorf("he: read randomness: %w", err)
	}
	defer clear(key[:])
	return keyedPRNG(key[:]), nil
}

// ctrPRNG is the AES-256-CTR keystream under a 32-byte key: the
// deterministic expansion of injected randomness that Lattigo's samplers
// read (faster than Lattigo's BLAKE2b PRNG with AES-NI).
type ctrPRNG struct{ s cipher.Stream }

func keyedPRNG(key []byte) *ctrPRNG {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic("he: AES key: " + err.Error())
	}
	return &ctrPRNG{cipher.NewCTR(block, make([]byte, aes.BlockSize))}
}

func (c *ctrPRNG) Read(b []byte) (int, error) {
	clear(b)
	c.s.XORKeyStream(b, b)
	return len(b), nil
}

// crsDigest binds objects of the key generation to their common reference
// string and parameter set.
func (p *Params) crsDigest(crs [32]byte) [32]byte {
	h := sha256.New()
	h.Write([]byte("fedcrypt/he/crs/v1"))
	h.Write([]byte{byte(p.lit.ID)})
	h.Write(crs[:])
	return [32]byte(h.Sum(nil))
}

// crp expands the common reference string into the uniform polynomial a of
// the collective public key (b, a).
func (p *Params) crp(crs [32]byte) ring.Poly {
	d := p.crsDigest(crs)
	prng, err := sampling.NewKeyedPRNG(d[:])
	if err != nil {
		panic("he: keyed PRNG: " + err.Error())
	}
	a := p.ringQ.NewPoly()
	ring.NewUniformSampler(prng, p.ringQ).Read(a)
	return a
}

func (p *Params) gaussian(prng sampling.PRNG, sigma float64) ring.Sampler {
	s, err := ring.NewSampler(prng, p.ringQ, ring.DiscreteGaussian{Sigma: sigma, Bound: errBoundSigmas * sigma}, false)
	if err != nil {
		panic("he: Gaussian sampler: " + err.Error())
	}
	return s
}

func (p *Params) ternary(prng sampling.PRNG) ring.Sampler {
	s, err := ring.NewSampler(prng, p.ringQ, ring.Ternary{P: 2.0 / 3}, false)
	if err != nil {
		panic("he: ternary sampler: " + err.Error())
	}
	return s
}

// PublicKey is the collective public key: (b, a) with a expanded from the
// common reference string and b = Σ bᵢ over all key holders' shares. It is
// immutable and safe for concurrent use.
type PublicKey struct {
	p       *Params
	crs     [32]byte
	holders []int
	b, a    ring.Poly // NTT, Montgomery form (Lattigo's convention)
}

// Params returns the parameter set of the key.
func (pk *PublicKey) Params() *Params { return pk.p }

// Holders returns the indices of the key holders whose shares make up the key.
func (pk *PublicKey) Holders() []int { return slices.Clone(pk.holders) }

const (
	pkShareHeaderLen = commonLen + 4 + 32
	pkHeaderLen      = commonLen + 4 + 32
)

// ShareError reports which input of [CombinePublicKey] or
// [KeyHolder.CombineShamirShares] is at fault: Index is its position in the
// slice passed. Err wraps [ErrMalformed] for bytes that do not decode, and
// says which key holder appears twice for a duplicate.
type ShareError struct {
	Index int
	Err   error
}

func (e *ShareError) Error() string { return fmt.Sprintf("share %d: %v", e.Index, e.Err) }

func (e *ShareError) Unwrap() error { return e.Err }

// CombinePublicKey sums the public-key shares of all key holders into the
// collective public key. Every member recomputes it from the same shares and
// obtains the same key. The shares may come in any order; each key holder
// must appear exactly once. A malformed or duplicate share is reported as a
// [*ShareError] naming its position in shares. With a key policy, at most
// its KeyHolders shares are accepted.
func CombinePublicKey(p *Params, crs [32]byte, shares [][]byte) (*PublicKey, error) {
	most := p.lit.MaxKeyHolders
	if p.floodUnit != 0 {
		most = p.policy.KeyHolders
	}
	if len(shares) < 2 || len(shares) > most {
		return nil, fmt.Errorf("he: combine public key: %d shares, want 2 to %d", len(shares), most)
	}
	pk := &PublicKey{p: p, crs: crs, b: p.ringQ.NewPoly(), a: p.crp(crs)}
	digest := p.crsDigest(crs)
	tmp := p.ringQ.NewPoly()
	for i, sh := range shares {
		idx, err := p.parsePublicKeyShare(sh, digest, tmp)
		if err != nil {
			return nil, fmt.Errorf("he: combine public key: %w", &ShareError{Index: i, Err: err})
		}
		if slices.Contains(pk.holders, idx) {
			return nil, fmt.Errorf("he: combine public key: %w", &ShareError{Index: i, Err: fmt.Errorf("key holder %d appears twice", idx)})
		}
		pk.holders = append(pk.holders, idx)
		p.ringQ.Add(pk.b, tmp, pk.b)
	}
	slices.Sort(pk.holders)
	return pk, nil
}

func (p *Params) parsePublicKeyShare(b []byte, digest [32]byte, dst ring.Poly) (int, error) {
	const what = "public-key share"
	if want := pkShareHeaderLen + p.polyLen(); len(b) != want {
		return 0, malformed(what, "%d bytes, want %d", len(b), want)
	}
	if err := p.checkCommon(b, kindPublicKeyShare, flagNTT|flagMontgomery); err != nil {
		return 0, err
	}
	idx := getU16(b[commonLen:])
	if err := p.checkHolder(idx); err != nil {
		return 0, malformed(what, "%v", err)
	}
	if getU16(b[commonLen+2:]) != 0 {
		return 0, malformed(what, "reserved field not zero")
	}
	if [32]byte(b[commonLen+4:]) != digest {
		return 0, malformed(what, "from key holder %d: made for another common reference string", idx)
	}
	if err := p.unpackPoly(b[pkShareHeaderLen:], dst, false); err != nil {
		return 0, malformed(what, "from key holder %d: %v", idx, err)
	}
	return idx, nil
}

// MarshalBinary encodes the public key: the common reference string, the
// key holders and b; a is re-expanded from the reference string on decoding.
func (pk *PublicKey) MarshalBinary() ([]byte, error) {
	p := pk.p
	out := make([]byte, pkHeaderLen+2*len(pk.holders)+p.polyLen())
	p.putCommon(out, kindPublicKey, flagNTT|flagMontgomery)
	putU16(out[commonLen:], len(pk.holders))
	copy(out[commonLen+4:], pk.crs[:])
	off := pkHeaderLen
	for _, h := range pk.holders {
		putU16(out[off:], h)
		off += 2
	}
	p.packPoly(out[off:], pk.b)
	return out, nil
}

// UnmarshalPublicKey decodes and validates a public key encoded by
// [PublicKey.MarshalBinary].
func UnmarshalPublicKey(p *Params, b []byte) (*PublicKey, error) {
	const what = "public key"
	if len(b) < pkHeaderLen {
		return nil, malformed(what, "%d bytes, shorter than the %d-byte header", len(b), pkHeaderLen)
	}
	if err := p.checkCommon(b, kindPublicKey, flagNTT|flagMontgomery); err != nil {
		return nil, err
	}
	n := getU16(b[commonLen:])
	if n < 2 || n > p.lit.MaxKeyHolders {
		return nil, malformed(what, "%d key holders, want 2 to %d", n, p.lit.MaxKeyHolders)
	}
	if getU16(b[commonLen+2:]) != 0 {
		return nil, malformed(what, "reserved field not zero")
	}
	if want := pkHeaderLen + 2*n + p.polyLen(); len(b) != want {
		return nil, malformed(what, "%d bytes, want %d", len(b), want)
	}
	pk := &PublicKey{p: p, crs: [32]byte(b[commonLen+4:]), b: p.ringQ.NewPoly()}
	off := pkHeaderLen
	for i := range n {
		h := getU16(b[off:])
		off += 2
		if err := p.checkHolder(h); err != nil {
			return nil, malformed(what, "%v", err)
		}
		if i > 0 && h <= pk.holders[i-1] {
			return nil, malformed(what, "key holders not strictly increasing")
		}
		pk.holders = append(pk.holders, h)
	}
	if err := p.unpackPoly(b[off:], pk.b, false); err != nil {
		return nil, malformed(what, "%v", err)
	}
	pk.a = p.crp(pk.crs)
	return pk, nil
}

// KeyHolder is one key holder's secret state: its RLWE secret sᵢ, its
// public-key share, its Shamir dealing and threshold share, the key policy it
// was made under and how many ciphertext decryption shares it has given. It
// marshals to bytes (which must be sealed at rest) and back with validation.
//
// A KeyHolder is not safe for concurrent use.
type KeyHolder struct {
	p       *Params
	crs     [32]byte
	index   int
	sk      ring.Poly // ternary secret, NTT and Montgomery form
	pkShare ring.Poly // e − sᵢ·a, NTT and Montgomery form

	stage     byte // stageKeys, stageDealt or stageReady
	threshold int
	holders   []int
	own       ring.Poly // own Shamir share f_own(x_own), held between dealing and combining
	share     ring.Poly // threshold share Σⱼ fⱼ(x_own)

	decryptions uint64 // ciphertext decryption shares given, at most the policy's L
}

const (
	stageKeys  = 0
	stageDealt = 1
	stageReady = 2
)

// NewKeyHolder creates the secret state of key holder index (its position in
// the federation's member list) for the common reference string crs (the
// federation's config hash): a fresh ternary secret and its public-key share
// bᵢ = −sᵢ·a + eᵢ. p must carry the key's policy ([Params.WithPolicy]): the
// key holder's state records it and its decryption budget is the policy's L.
// rand must be crypto/rand.Reader in production; a seeded stream makes
// simulations reproducible.
func NewKeyHolder(p *Params, crs [32]byte, index int, rand io.Reader) (*KeyHolder, error) {
	if p.floodUnit == 0 {
		return nil, fmt.Errorf("he: new key holder %d: %w", index, errNoPolicy)
	}
	if err := p.checkHolder(index); err != nil {
		return nil, fmt.Errorf("he: new key holder: %w", err)
	}
	prng, err := newPRNG(rand)
	if err != nil {
		return nil, fmt.Errorf("he: new key holder %d: %w", index, err)
	}
	r := p.ringQ
	h := &KeyHolder{p: p, crs: crs, index: index, sk: r.NewPoly(), pkShare: r.NewPoly()}
	p.ternary(prng).Read(h.sk)
	r.NTT(h.sk, h.sk)
	r.MForm(h.sk, h.sk)
	p.gaussian(prng, errSigma).Read(h.pkShare)
	r.NTT(h.pkShare, h.pkShare)
	r.MForm(h.pkShare, h.pkShare)
	r.MulCoeffsMontgomeryThenSub(h.sk, p.crp(crs), h.pkShare)
	return h, nil
}

// Index returns the key holder's index.
func (h *KeyHolder) Index() int { return h.index }

// Threshold returns the decryption threshold T, or 0 before dealing.
func (h *KeyHolder) Threshold() int { return h.threshold }

// Decryptions returns how many ciphertext decryption shares the key holder
// has given under its key: at most the policy's L.
func (h *KeyHolder) Decryptions() uint64 { return h.decryptions }

// Ready reports whether the threshold share is complete, so that the key
// holder can produce decryption shares.
func (h *KeyHolder) Ready() bool { return h.stage == stageReady }

// PublicKeyShare returns the key holder's public-key share. It is the same
// every time: the share's error is drawn once, in NewKeyHolder.
func (h *KeyHolder) PublicKeyShare() []byte {
	p := h.p
	out := make([]byte, pkShareHeaderLen+p.polyLen())
	p.putCommon(out, kindPublicKeyShare, flagNTT|flagMontgomery)
	putU16(out[commonLen:], h.index)
	d := p.crsDigest(h.crs)
	copy(out[commonLen+4:], d[:])
	p.packPoly(out[pkShareHeaderLen:], h.pkShare)
	return out
}

var errNotReady = errors.New("threshold share not yet combined")
