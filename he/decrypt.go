package he

import (
	"encoding/binary"
	"fmt"
	"io"
	"slices"

	"github.com/tuneinsight/lattigo/v5/ring"
)

// A decryption share is the 8-byte common header, then
//
//	holder u16 | T u16 | length u64 | ciphertexts u32 | addends u32 |
//	digest [32] | level u8 | logScale u8 | reserved u16 | set [T]u16
//
// then one packed polynomial per ciphertext (NTT form). digest is the
// digest of the c1 parts of the decrypted vector.
const decShareHeaderLen = commonLen + 56

type decShareHeader struct {
	updateHeader
	holder int
	set    []int
	digest [32]byte
}

// DecryptionShare computes the key holder's noise-flooded decryption share of
// an encrypted vector (normally a marshalled [Sum]) for the decryption set
// set, which must hold exactly T key holders, this one included:
//
//	hᵢ = c1·s'ᵢ + e_flood,  e_flood ← D_{ℤ,s}, s ≥ σ_flood, truncated at 12s
//
// for each ciphertext, where s'ᵢ is the key holder's additive share of the
// collective secret for set (Lagrange interpolation of its threshold share).
//
// σ_flood is sized for the vector's addends under the key policy (see the
// package documentation): the caller must have checked that the addends in
// the vector's header are the uploads it names, and that its c1 parts are
// their sum ([Params.Fingerprint]). A vector of more addends than the
// policy's Contributors is refused.
//
// The key holder counts every ciphertext it gives a share of, over the key's
// life, and returns an error wrapping [ErrDecryptionBudget] when the vector's
// ciphertexts would take the count beyond the policy's L; the count is not
// changed then. The count is part of the key holder's state: persist it
// ([KeyHolder.MarshalBinary]) before releasing the share. rand must be
// crypto/rand.Reader in production.
func (h *KeyHolder) DecryptionShare(update []byte, set []int, rand io.Reader) ([]byte, error) {
	p := h.p
	if h.stage != stageReady {
		return nil, fmt.Errorf("he: key holder %d: decryption share: %w", h.index, errNotReady)
	}
	sorted, err := p.checkHolderSet(set)
	if err != nil {
		return nil, fmt.Errorf("he: key holder %d: decryption set: %w", h.index, err)
	}
	if len(sorted) != h.threshold {
		return nil, fmt.Errorf("he: key holder %d: decryption set of %d key holders, want exactly T = %d", h.index, len(sorted), h.threshold)
	}
	for _, j := range sorted {
		if !slices.Contains(h.holders, j) {
			return nil, fmt.Errorf("he: key holder %d: decryption set names %d, not a key holder", h.index, j)
		}
	}
	if !slices.Contains(sorted, h.index) {
		return nil, fmt.Errorf("he: key holder %d: decryption set does not include it", h.index)
	}
	uh, err := p.parseUpdateHeader(update)
	if err != nil {
		return nil, fmt.Errorf("he: key holder %d: decryption share: %w", h.index, err)
	}
	if uh.addends > p.policy.Contributors {
		return nil, fmt.Errorf("he: key holder %d: decryption share: a sum of %d addends, the key policy allows %d", h.index, uh.addends, p.policy.Contributors)
	}
	if left := p.policy.Decryptions - h.decryptions; uint64(uh.count) > left {
		return nil, fmt.Errorf("he: key holder %d: decryption share of %d ciphertexts: %d of the key's %d decryptions left: %w",
			h.index, uh.count, left, p.policy.Decryptions, ErrDecryptionBudget)
	}
	pl := p.polyLen()
	c1 := make([]ring.Poly, uh.count)
	err = parallel(2*uh.count, func() any { return nil }, func(_ any, i int) error {
		off := updateHeaderLen + i*pl
		var err error
		if i%2 == 0 {
			err = p.checkPoly(update[off : off+pl])
		} else {
			c1[i/2] = p.ringQ.NewPoly()
			err = p.unpackPoly(update[off:off+pl], c1[i/2], false)
		}
		if err != nil {
			return malformed("encrypted vector", "ciphertext %d, c%d: %v", i/2, i%2, err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("he: key holder %d: decryption share: %w", h.index, err)
	}
	digests := p.c1Digests(update, uh.count)
	keys := make([]byte, 32*uh.count)
	if _, err := io.ReadFull(rand, keys); err != nil {
		return nil, fmt.Errorf("he: key holder %d: decryption share: read randomness: %w", h.index, err)
	}
	defer clear(keys)
	h.decryptions += uint64(uh.count)
	flood := p.floodChain(uh.addends)

	sk := h.additiveShare(sorted)
	defer sk.Value.Q.Zero()
	out := make([]byte, p.DecryptionShareSize(uh.length, len(sorted)))
	p.putCommon(out, kindDecryptionShare, flagNTT)
	b := out[commonLen:]
	putU16(b, h.index)
	putU16(b[2:], len(sorted))
	binary.LittleEndian.PutUint64(b[4:], uint64(uh.length))
	binary.LittleEndian.PutUint32(b[12:], uint32(uh.count))
	binary.LittleEndian.PutUint32(b[16:], uint32(uh.addends))
	sd := sumDigest(digests)
	copy(b[20:], sd[:])
	b[52] = byte(p.params.MaxLevel())
	b[53] = byte(p.lit.LogScale)
	for i, j := range sorted {
		putU16(out[decShareHeaderLen+2*i:], j)
	}
	base := decShareHeaderLen + 2*len(sorted)
	type worker struct {
		e   ring.Poly
		buf []byte
	}
	err = parallel(uh.count, func() any {
		return &worker{e: p.ringQ.NewPoly(), buf: make([]byte, flood.bufLen())}
	}, func(wa any, i int) error {
		w := wa.(*worker)
		e := w.e
		prng := keyedPRNG(keys[32*i : 32*i+32])
		r := p.ringQ
		r.MulCoeffsMontgomery(c1[i], sk.Value.Q, c1[i])
		flood.read(prng, e, p.params.Q(), w.buf)
		r.NTT(e, e)
		r.Add(c1[i], e, c1[i])
		e.Zero()
		p.packPoly(out[base+i*pl:], c1[i])
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("he: key holder %d: decryption share: %w", h.index, err)
	}
	return out, nil
}

// parseDecShareHeader validates the fixed part and size of a decryption share.
func (p *Params) parseDecShareHeader(b []byte) (decShareHeader, error) {
	const what = "decryption share"
	var h decShareHeader
	if len(b) < decShareHeaderLen {
		return h, malformed(what, "%d bytes, shorter than the %d-byte header", len(b), decShareHeaderLen)
	}
	if err := p.checkCommon(b, kindDecryptionShare, flagNTT); err != nil {
		return h, err
	}
	f := b[commonLen:]
	h.holder = getU16(f)
	t := getU16(f[2:])
	length := binary.LittleEndian.Uint64(f[4:])
	h.count = int(binary.LittleEndian.Uint32(f[12:]))
	h.addends = int(binary.LittleEndian.Uint32(f[16:]))
	h.digest = [32]byte(f[20:52])
	switch {
	case t < 2 || t > p.lit.MaxKeyHolders:
		return h, malformed(what, "threshold %d outside [2, %d]", t, p.lit.MaxKeyHolders)
	case length == 0 || length > maxLength:
		return h, malformed(what, "length %d outside [1, 2^32]", length)
	case p.Ciphertexts(int(length)) != h.count:
		return h, malformed(what, "%d ciphertexts for %d values", h.count, length)
	case h.addends < 1 || h.addends > p.lit.MaxAddends:
		return h, malformed(what, "%d addends outside [1, %d]", h.addends, p.lit.MaxAddends)
	case int(f[52]) != p.params.MaxLevel():
		return h, malformed(what, "level %d, want %d", f[52], p.params.MaxLevel())
	case int(f[53]) != p.lit.LogScale:
		return h, malformed(what, "scale 2^%d, want 2^%d", f[53], p.lit.LogScale)
	case f[54] != 0 || f[55] != 0:
		return h, malformed(what, "reserved field not zero")
	}
	h.length = int(length)
	if want := p.DecryptionShareSize(h.length, t); len(b) != want {
		return h, malformed(what, "%d bytes, want %d", len(b), want)
	}
	for i := range t {
		j := getU16(b[decShareHeaderLen+2*i:])
		if err := p.checkHolder(j); err != nil {
			return h, malformed(what, "decryption set: %v", err)
		}
		if i > 0 && j <= h.set[i-1] {
			return h, malformed(what, "decryption set not strictly increasing")
		}
		h.set = append(h.set, j)
	}
	if !slices.Contains(h.set, h.holder) {
		return h, malformed(what, "key holder %d not in its decryption set", h.holder)
	}
	return h, nil
}

// Decrypt combines the decryption shares of exactly T key holders — one per
// member of the decryption set all shares name — with the sum and decodes the
// result publicly: each value is rounded to a multiple of 2^-prec (Lattigo's
// DecodePublic), with prec the bits of Δ above the 2^-30 tail of the
// decryption error for this sum's addends and T under the key policy, at
// most 40. It returns the sum of the encrypted vectors. The sum's Params
// must carry the key policy the shares were made under.
//
// The key holders count decryptions ([ErrDecryptionBudget]); the sum does
// not.
func (s *Sum) Decrypt(shares [][]byte) ([]float64, error) {
	if s.h.addends == 0 {
		return nil, fmt.Errorf("he: decrypt: empty sum")
	}
	if s.p.floodUnit == 0 {
		return nil, fmt.Errorf("he: decrypt: %w", errNoPolicy)
	}
	if len(shares) < 2 {
		return nil, fmt.Errorf("he: decrypt: %d decryption shares, want T ≥ 2", len(shares))
	}
	h, err := s.p.parseDecShareHeader(shares[0])
	if err != nil {
		return nil, fmt.Errorf("he: decrypt: share 0: %w", err)
	}
	if len(shares) != len(h.set) {
		return nil, fmt.Errorf("he: decrypt: %d decryption shares for a decryption set of %d", len(shares), len(h.set))
	}
	return s.combine(shares)
}

// combine adds the given decryption shares to c0 and decodes the result. It
// checks that the shares are consistent with each other and with the sum,
// but not that they are complete: with fewer than T shares the result is
// noise.
func (s *Sum) combine(shares [][]byte) ([]float64, error) {
	p := s.p
	digest, err := s.c1Digest()
	if err != nil {
		return nil, err
	}
	var set []int
	seen := map[int]bool{}
	for i, b := range shares {
		h, err := p.parseDecShareHeader(b)
		if err != nil {
			return nil, fmt.Errorf("he: decrypt: share %d: %w", i, err)
		}
		switch {
		case h.length != s.h.length || h.addends != s.h.addends || h.digest != digest:
			return nil, fmt.Errorf("he: decrypt: share %d from key holder %d was computed for another ciphertext", i, h.holder)
		case set != nil && !slices.Equal(set, h.set):
			return nil, fmt.Errorf("he: decrypt: share %d from key holder %d names decryption set %v, share 0 names %v", i, h.holder, h.set, set)
		case seen[h.holder]:
			return nil, fmt.Errorf("he: decrypt: share %d: key holder %d appears twice", i, h.holder)
		}
		set = h.set
		seen[h.holder] = true
	}
	pl := p.polyLen()
	base := decShareHeaderLen + 2*len(set)
	acc := make([]ring.Poly, s.h.count)
	for i := range acc {
		acc[i] = *s.c0[i].CopyNew()
	}
	for k, b := range shares {
		err := parallel(s.h.count, func() any { return nil }, func(_ any, i int) error {
			if err := p.unpackPoly(b[base+i*pl:base+(i+1)*pl], acc[i], true); err != nil {
				return malformed("decryption share", "ciphertext %d: %v", i, err)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("he: decrypt: share %d: %w", k, err)
		}
	}
	return p.decode(acc, s.h.length, p.logPrecision(s.h.addends, len(set))), nil
}
