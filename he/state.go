package he

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/tuneinsight/lattigo/v5/ring"
)

// Key-holder state (format version 2): the 8-byte common header, then
//
//	index u16 | T u16 | N u16 | stage u8 | reserved u8 | crs [32] |
//	policy K u16 | policy contributors u32 | policy L u64 | decryptions u64 |
//	holders [N]u16 | sᵢ | bᵢ | own share (stage dealt) | threshold share (stage ready)
//
// Polynomials are in NTT and Montgomery form. All of it is secret. The state
// records the whole key policy, and [UnmarshalKeyHolder] refuses parameters
// carrying another one, so that a key is never used under a larger budget
// than the one its decryptions were counted against. Version 1 held
// per-ciphertext decryption counts and is no longer read.
const stateHeaderLen = commonLen + 62

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
	out := make([]byte, stateHeaderLen+2*len(h.holders)+len(polys)*pl)
	p.putCommon(out, kindKeyHolder, flagNTT|flagMontgomery)
	f := out[commonLen:]
	putU16(f, h.index)
	putU16(f[2:], h.threshold)
	putU16(f[4:], len(h.holders))
	f[6] = h.stage
	copy(f[8:], h.crs[:])
	putU16(f[40:], p.policy.KeyHolders)
	binary.LittleEndian.PutUint32(f[42:], uint32(p.policy.Contributors))
	binary.LittleEndian.PutUint64(f[46:], p.policy.Decryptions)
	binary.LittleEndian.PutUint64(f[54:], h.decryptions)
	off := stateHeaderLen
	for _, j := range h.holders {
		putU16(out[off:], j)
		off += 2
	}
	for _, pol := range polys {
		p.packPoly(out[off:], pol)
		off += pl
	}
	return out, nil
}

// UnmarshalKeyHolder decodes and validates a key holder's state encoded by
// [KeyHolder.MarshalBinary]. p must carry the key policy the state was made
// under. Besides the format, it checks that the secret is ternary and that
// the public-key share is −sᵢ·a + eᵢ with a small eᵢ for the state's own
// reference string, so a state mixed up with another key holder's or
// corrupted is refused.
func UnmarshalKeyHolder(p *Params, b []byte) (*KeyHolder, error) {
	const what = "key-holder state"
	if p.floodUnit == 0 {
		return nil, fmt.Errorf("he: decode %s: %w", what, errNoPolicy)
	}
	if len(b) < stateHeaderLen {
		return nil, malformed(what, "%d bytes, shorter than the %d-byte header", len(b), stateHeaderLen)
	}
	if err := p.checkCommon(b, kindKeyHolder, flagNTT|flagMontgomery); err != nil {
		return nil, err
	}
	f := b[commonLen:]
	h := &KeyHolder{p: p, index: getU16(f), threshold: getU16(f[2:]), stage: f[6], crs: [32]byte(f[8:40])}
	n := getU16(f[4:])
	kp := KeyPolicy{KeyHolders: getU16(f[40:]), Contributors: int(binary.LittleEndian.Uint32(f[42:])), Decryptions: binary.LittleEndian.Uint64(f[46:])}
	h.decryptions = binary.LittleEndian.Uint64(f[54:])
	if err := p.checkHolder(h.index); err != nil {
		return nil, malformed(what, "%v", err)
	}
	if f[7] != 0 {
		return nil, malformed(what, "reserved field not zero")
	}
	if kp != p.policy {
		return nil, malformed(what, "key holder %d: made under key policy (%v), the parameters carry (%v)", h.index, kp, p.policy)
	}
	if h.decryptions > kp.Decryptions {
		return nil, malformed(what, "key holder %d: %d decryptions beyond the policy's %d", h.index, h.decryptions, kp.Decryptions)
	}
	npoly := 2
	switch h.stage {
	case stageKeys:
		if n != 0 || h.threshold != 0 || h.decryptions != 0 {
			return nil, malformed(what, "key holder %d: key holders, threshold or decryptions before dealing", h.index)
		}
	case stageDealt, stageReady:
		if n < 2 || n > kp.KeyHolders || h.threshold < 2 || h.threshold > n {
			return nil, malformed(what, "key holder %d: %d-of-%d outside the policy's %d key holders", h.index, h.threshold, n, kp.KeyHolders)
		}
		if h.stage == stageDealt && h.decryptions != 0 {
			return nil, malformed(what, "key holder %d: decryptions before its threshold share", h.index)
		}
		npoly = 3
	default:
		return nil, malformed(what, "key holder %d: unknown stage %d", h.index, h.stage)
	}
	pl := p.polyLen()
	if want := stateHeaderLen + 2*n + npoly*pl; len(b) != want {
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
