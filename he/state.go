package he

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/tuneinsight/lattigo/v5/ring"
)

// Key-holder state: the 8-byte common header, then
//
//	index u16 | T u16 | N u16 | stage u8 | reserved u8 | crs [32] | entries u32 |
//	holders [N]u16 | sᵢ | bᵢ | own share (stage dealt) | threshold share (stage ready) |
//	entries × (c1 digest [32] | decryptions u8)
//
// Polynomials are in NTT and Montgomery form. All of it is secret.
const stateHeaderLen = commonLen + 44

// MarshalBinary encodes the key holder's whole state, secrets included. The
// bytes must be sealed (encrypted) before they reach a disk.
func (h *KeyHolder) MarshalBinary() ([]byte, error) {
	p := h.p
	pl := p.polyLen()
	polys := []ring.Poly{h.sk, h.pkShare}
	switch h.stage {
	case stageDealt:
		polys = append(polys, h.own)
	case stageReady:
		polys = append(polys, h.share)
	}
	digests := make([][32]byte, 0, len(h.decrypted))
	for d := range h.decrypted {
		digests = append(digests, d)
	}
	slices.SortFunc(digests, func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) })
	out := make([]byte, stateHeaderLen+2*len(h.holders)+len(polys)*pl+33*len(digests))
	p.putCommon(out, kindKeyHolder, flagNTT|flagMontgomery)
	f := out[commonLen:]
	putU16(f, h.index)
	putU16(f[2:], h.threshold)
	putU16(f[4:], len(h.holders))
	f[6] = h.stage
	copy(f[8:], h.crs[:])
	binary.LittleEndian.PutUint32(f[40:], uint32(len(digests)))
	off := stateHeaderLen
	for _, j := range h.holders {
		putU16(out[off:], j)
		off += 2
	}
	for _, pol := range polys {
		p.packPoly(out[off:], pol)
		off += pl
	}
	for _, d := range digests {
		copy(out[off:], d[:])
		out[off+32] = h.decrypted[d]
		off += 33
	}
	return out, nil
}

// UnmarshalKeyHolder decodes and validates a key holder's state encoded by
// [KeyHolder.MarshalBinary]. Besides the format, it checks that the secret
// is ternary and that the public-key share is −sᵢ·a + eᵢ with a small eᵢ for
// the state's own reference string, so a state mixed up with another key
// holder's or corrupted is refused.
func UnmarshalKeyHolder(p *Params, b []byte) (*KeyHolder, error) {
	const what = "key-holder state"
	if len(b) < stateHeaderLen {
		return nil, malformed(what, "%d bytes, shorter than the %d-byte header", len(b), stateHeaderLen)
	}
	if err := p.checkCommon(b, kindKeyHolder, flagNTT|flagMontgomery); err != nil {
		return nil, err
	}
	f := b[commonLen:]
	h := &KeyHolder{p: p, index: getU16(f), threshold: getU16(f[2:]), stage: f[6], crs: [32]byte(f[8:40]), decrypted: map[[32]byte]uint8{}}
	n := getU16(f[4:])
	entries := int(binary.LittleEndian.Uint32(f[40:]))
	if err := p.checkHolder(h.index); err != nil {
		return nil, malformed(what, "%v", err)
	}
	if f[7] != 0 {
		return nil, malformed(what, "reserved field not zero")
	}
	npoly := 2
	switch h.stage {
	case stageKeys:
		if n != 0 || h.threshold != 0 || entries != 0 {
			return nil, malformed(what, "key holder %d: key holders, threshold or decryptions before dealing", h.index)
		}
	case stageDealt, stageReady:
		if n < 2 || n > p.lit.MaxKeyHolders || h.threshold < 2 || h.threshold > n {
			return nil, malformed(what, "key holder %d: %d-of-%d outside the preset's limits", h.index, h.threshold, n)
		}
		if h.stage == stageDealt && entries != 0 {
			return nil, malformed(what, "key holder %d: decryptions before its threshold share", h.index)
		}
		npoly = 3
	default:
		return nil, malformed(what, "key holder %d: unknown stage %d", h.index, h.stage)
	}
	pl := p.polyLen()
	if entries > len(b) {
		return nil, malformed(what, "key holder %d: %d decryption entries in %d bytes", h.index, entries, len(b))
	}
	if want := stateHeaderLen + 2*n + npoly*pl + 33*entries; len(b) != want {
		return nil, malformed(what, "key holder %d: %d bytes, want %d", h.index, len(b), want)
	}
	off := stateHeaderLen
	for i := range n {
		j := getU16(b[off:])
		off += 2
		if err := p.checkHolder(j); err != nil {
			return nil, malformed(what, "key holder %d: %v", h.index, err)
		}
		if i > 0 && j <= h.holders[i-1] {
			return nil, malformed(what, "key holder %d: key holders not strictly increasing", h.index)
		}
		h.holders = append(h.holders, j)
	}
	if n > 0 && !slices.Contains(h.holders, h.index) {
		return nil, malformed(what, "key holder %d not among its key holders", h.index)
	}
	polys := make([]ring.Poly, npoly)
	for i := range polys {
		polys[i] = p.ringQ.NewPoly()
		if err := p.unpackPoly(b[off:off+pl], polys[i], false); err != nil {
			return nil, malformed(what, "key holder %d: polynomial %d: %v", h.index, i, err)
		}
		off += pl
	}
	h.sk, h.pkShare = polys[0], polys[1]
	switch h.stage {
	case stageDealt:
		h.own = polys[2]
	case stageReady:
		h.share = polys[2]
	}
	if err := p.checkKeyPair(h.sk, h.pkShare, h.crs); err != nil {
		return nil, malformed(what, "key holder %d: %v", h.index, err)
	}
	var prev []byte
	for range entries {
		d := [32]byte(b[off:])
		c := b[off+32]
		if prev != nil && bytes.Compare(prev, d[:]) >= 0 {
			return nil, malformed(what, "key holder %d: decryption digests not strictly increasing", h.index)
		}
		if c < 1 || int(c) > p.lit.DecryptionCap {
			return nil, malformed(what, "key holder %d: decryption count %d outside [1, %d]", h.index, c, p.lit.DecryptionCap)
		}
		h.decrypted[d] = c
		prev = b[off : off+32]
		off += 33
	}
	return h, nil
}

// checkKeyPair verifies that sk is ternary and that pkShare + sk·a is an
// error bounded by the Gaussian's truncation.
func (p *Params) checkKeyPair(sk, pkShare ring.Poly, crs [32]byte) error {
	r := p.ringQ
	t := r.NewPoly()
	r.IMForm(sk, t)
	r.INTT(t, t)
	if !isSmall(t, p.params.Q(), 1) {
		return fmt.Errorf("secret is not ternary")
	}
	e := *pkShare.CopyNew()
	r.MulCoeffsMontgomeryThenAdd(sk, p.crp(crs), e)
	r.IMForm(e, e)
	r.INTT(e, e)
	if !isSmall(e, p.params.Q(), 20) {
		return fmt.Errorf("public-key share does not match the secret")
	}
	t.Zero()
	e.Zero()
	return nil
}

// isSmall reports whether every coefficient of pol, centred modulo its prime,
// has absolute value at most bound and is the same integer in every prime.
func isSmall(pol ring.Poly, q []uint64, bound uint64) bool {
	for j := range pol.Coeffs[0] {
		var first int64
		for i, qi := range q {
			v := pol.Coeffs[i][j]
			var c int64
			switch {
			case v <= bound:
				c = int64(v)
			case v >= qi-bound:
				c = -int64(qi - v)
			default:
				return false
			}
			if i == 0 {
				first = c
			} else if c != first {
				return false
			}
		}
	}
	return true
}
