package he

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/tuneinsight/lattigo/v5/ring"
)

// ErrMalformed is wrapped by every error that reports bytes which do not
// decode to a valid object of the expected kind and parameter set.
var ErrMalformed = errors.New("malformed")

// Wire format. Every object starts with an 8-byte header:
//
//	magic "FCHE" | version | kind | preset | flags
//
// followed by kind-specific fixed fields (little-endian) and polynomials.
// A polynomial is its coefficients prime by prime, each coefficient in
// [0, qᵢ) written on bitlen(qᵢ) bits, least significant bit first, as one
// bit stream padded with zero bits to a whole byte. Decoders check the exact
// length before anything else, then every coefficient against its prime, and
// the padding bits; an encoding is therefore canonical.
const (
	wireVersion  = 1 // every kind but the key-holder state
	stateVersion = 2 // key-holder state: lifetime decryption count and key policy
	commonLen    = 8

	kindPublicKeyShare  = 1
	kindPublicKey       = 2
	kindShamirShare     = 3
	kindUpdate          = 4
	kindDecryptionShare = 5
	kindKeyHolder       = 6
	kindFingerprint     = 7

	flagNTT        = 1 << 0
	flagMontgomery = 1 << 1

	maxHolders = 1 << 12
)

var magic = [4]byte{'F', 'C', 'H', 'E'}

var kindNames = map[byte]string{
	kindPublicKeyShare:  "public-key share",
	kindPublicKey:       "public key",
	kindShamirShare:     "Shamir share",
	kindUpdate:          "encrypted vector",
	kindDecryptionShare: "decryption share",
	kindKeyHolder:       "key-holder state",
	kindFingerprint:     "fingerprint",
}

// versionOf returns the format version objects of a kind are written in.
func versionOf(kind byte) byte {
	if kind == kindKeyHolder {
		return stateVersion
	}
	return wireVersion
}

func malformed(what string, format string, args ...any) error {
	return fmt.Errorf("he: decode %s: %s: %w", what, fmt.Sprintf(format, args...), ErrMalformed)
}

// putCommon writes the common header into b[:commonLen].
func (p *Params) putCommon(b []byte, kind, flags byte) {
	copy(b, magic[:])
	b[4] = versionOf(kind)
	b[5] = kind
	b[6] = byte(p.lit.ID)
	b[7] = flags
}

// checkCommon validates the common header of b as an object of the given kind.
func (p *Params) checkCommon(b []byte, kind, flags byte) error {
	what := kindNames[kind]
	if len(b) < commonLen {
		return malformed(what, "%d bytes, shorter than the %d-byte header", len(b), commonLen)
	}
	if [4]byte(b[:4]) != magic {
		return malformed(what, "bad magic %q", b[:4])
	}
	if kind == kindKeyHolder && b[4] == 1 && b[5] == kindKeyHolder {
		return malformed(what, "format version 1 (per-ciphertext decryption counts) is no longer read; want version %d", stateVersion)
	}
	if b[4] != versionOf(kind) {
		return malformed(what, "version %d, want %d", b[4], versionOf(kind))
	}
	if b[5] != kind {
		name, ok := kindNames[b[5]]
		if !ok {
			name = fmt.Sprintf("kind %d", b[5])
		}
		return malformed(what, "bytes hold a %s", name)
	}
	if PresetID(b[6]) != p.lit.ID {
		return malformed(what, "preset %v, want %v", PresetID(b[6]), p.lit.ID)
	}
	if b[7] != flags {
		return malformed(what, "flags %#02x (NTT=%t, Montgomery=%t), want %#02x", b[7], b[7]&flagNTT != 0, b[7]&flagMontgomery != 0, flags)
	}
	return nil
}

// polyLen returns the packed size of one polynomial in bytes.
func (p *Params) polyLen() int {
	bits := 0
	for _, b := range p.bits {
		bits += b
	}
	return (p.params.N()*bits + 7) / 8
}

// packPoly writes pol into dst[:p.polyLen()].
func (p *Params) packPoly(dst []byte, pol ring.Poly) {
	var acc uint64
	var used uint
	off := 0
	for i, coeffs := range pol.Coeffs[:len(p.bits)] {
		b := uint(p.bits[i])
		for _, v := range coeffs {
			acc |= v << used
			if used+b >= 64 {
				binary.LittleEndian.PutUint64(dst[off:], acc)
				off += 8
				acc = v >> (64 - used)
				used = used + b - 64
			} else {
				used += b
			}
		}
	}
	for ; used > 0; used -= min(used, 8) {
		dst[off] = byte(acc)
		acc >>= 8
		off++
	}
}

// unpackPoly reads a packed polynomial from src (exactly p.polyLen() bytes)
// into pol, checking every coefficient against its prime. If add is true the
// coefficients are added modulo each prime to pol instead of overwriting it.
// On error every coefficient has still been processed: an addition is undone
// exactly by unaddPoly with the same bytes.
func (p *Params) unpackPoly(src []byte, pol ring.Poly, add bool) error {
	mode := modeSet
	if add {
		mode = modeAdd
	}
	return p.unpack(src, pol, mode)
}

// unaddPoly undoes unpackPoly(src, pol, true), valid bytes or not.
func (p *Params) unaddPoly(src []byte, pol ring.Poly) {
	_ = p.unpack(src, pol, modeSub)
}

// checkPoly validates a packed polynomial without decoding it anywhere.
func (p *Params) checkPoly(src []byte) error {
	return p.unpack(src, ring.Poly{}, modeCheck)
}

const (
	modeCheck = iota
	modeSet
	modeAdd
	modeSub // undoes modeAdd of the same bytes
)

func (p *Params) unpack(src []byte, pol ring.Poly, mode int) error {
	pos := 0 // bit position
	var bad uint64
	for i, qi := range p.params.Q() {
		b := p.bits[i]
		var coeffs []uint64
		if mode != modeCheck {
			coeffs = pol.Coeffs[i]
		}
		n := p.params.N()
		// Each prime's block starts on a byte: n·b is a multiple of 8.
		// Fast path: unaligned 8-byte loads while 16 bytes remain, and a
		// branch-free range check accumulated in bad. Every coefficient is
		// processed even when one is out of range, so that modeSub can undo
		// modeAdd exactly.
		fast := 0
		if room := 8*(len(src)-16) - pos; room >= 0 {
			fast = min(n, room/b+1)
		}
		if b+7 <= 64 {
			bad |= unpackNarrow(src[pos/8:], coeffs, fast, b, qi, mode)
		} else {
			bad |= unpackWide(src[pos/8:], coeffs, fast, b, qi, mode)
		}
		for j := fast; j < n; j++ {
			v := loadTail(src, pos+j*b, b)
			bad |= (qi - 1 - v) >> 63
			switch mode {
			case modeSet:
				coeffs[j] = v
			case modeAdd:
				coeffs[j] = addMod(coeffs[j], v, qi)
			case modeSub:
				coeffs[j] = unaddMod(coeffs[j], v, qi)
			}
		}
		pos += n * b
	}
	if bad != 0 {
		pos := 0
		for i, qi := range p.params.Q() {
			for j := range p.params.N() {
				if v := loadTail(src, pos, p.bits[i]); v >= qi {
					return fmt.Errorf("coefficient %d of prime %d is not below the prime %d", j, i, qi)
				}
				pos += p.bits[i]
			}
		}
	}
	if pos%8 != 0 && src[pos/8]>>(pos%8) != 0 {
		return errors.New("non-zero padding bits")
	}
	return nil
}

// addMod returns a + v reduced once modulo q, without a branch (the
// comparison is unpredictable for random coefficients): a + v mod q for
// a, v < q < 2^62.
func addMod(a, v, q uint64) uint64 {
	s := a + v - q
	return s + q&uint64(int64(s)>>63)
}

// unaddMod inverts addMod for any a < q and v < 2^62, even v ≥ q: addMod's
// result lies in [v−q, v) if it subtracted q and in [v, v+q) otherwise.
func unaddMod(s, v, q uint64) uint64 {
	if s < v {
		return s + q - v
	}
	return s - v
}

// unpackNarrow processes the first n coefficients of b ≤ 57 bits packed
// from bit 0 of src (one 8-byte load each) in the given mode, and returns 1
// if one is not below q.
func unpackNarrow(src []byte, coeffs []uint64, n, b int, q uint64, mode int) (bad uint64) {
	mask := uint64(1)<<b - 1
	pos := 0
	switch mode {
	case modeCheck:
		for range n {
			v := binary.LittleEndian.Uint64(src[pos>>3:]) >> (pos & 7) & mask
			bad |= (q - 1 - v) >> 63
			pos += b
		}
	case modeSet:
		for j := range coeffs[:n] {
			v := binary.LittleEndian.Uint64(src[pos>>3:]) >> (pos & 7) & mask
			bad |= (q - 1 - v) >> 63
			coeffs[j] = v
			pos += b
		}
	case modeAdd:
		for j, c := range coeffs[:n] {
			v := binary.LittleEndian.Uint64(src[pos>>3:]) >> (pos & 7) & mask
			bad |= (q - 1 - v) >> 63
			coeffs[j] = addMod(c, v, q)
			pos += b
		}
	case modeSub:
		for j, c := range coeffs[:n] {
			v := binary.LittleEndian.Uint64(src[pos>>3:]) >> (pos & 7) & mask
			coeffs[j] = unaddMod(c, v, q)
			pos += b
		}
	}
	return bad
}

// unpackWide is unpackNarrow for 57 < b ≤ 61 bits: two overlapping 8-byte
// loads, one byte apart, cover the 68 bits a coefficient may span.
func unpackWide(src []byte, coeffs []uint64, n, b int, q uint64, mode int) (bad uint64) {
	mask := uint64(1)<<b - 1
	pos := 0
	load := func(pos int) uint64 {
		w := src[pos>>3 : pos>>3+9]
		sh := uint(pos & 7)
		return (binary.LittleEndian.Uint64(w)>>sh | binary.LittleEndian.Uint64(w[1:])<<(8-sh)) & mask
	}
	switch mode {
	case modeCheck:
		for range n {
			bad |= (q - 1 - load(pos)) >> 63
			pos += b
		}
	case modeSet:
		for j := range coeffs[:n] {
			v := load(pos)
			bad |= (q - 1 - v) >> 63
			coeffs[j] = v
			pos += b
		}
	case modeAdd:
		for j, c := range coeffs[:n] {
			v := load(pos)
			bad |= (q - 1 - v) >> 63
			coeffs[j] = addMod(c, v, q)
			pos += b
		}
	case modeSub:
		for j, c := range coeffs[:n] {
			coeffs[j] = unaddMod(c, load(pos), q)
			pos += b
		}
	}
	return bad
}

// loadTail returns the b bits of src starting at bit pos, byte by byte.
func loadTail(src []byte, pos, b int) uint64 {
	var v uint64
	for k := 0; k < b; {
		byt := src[(pos+k)/8] >> ((pos + k) % 8)
		take := min(8-(pos+k)%8, b-k)
		v |= uint64(byt&(1<<take-1)) << k
		k += take
	}
	return v
}

// checkHolder validates a key-holder index against the preset.
func (p *Params) checkHolder(i int) error {
	if i < 0 || i >= p.lit.MaxKeyHolders {
		return fmt.Errorf("key holder %d outside [0, %d)", i, p.lit.MaxKeyHolders)
	}
	return nil
}

func putU16(b []byte, v int) { binary.LittleEndian.PutUint16(b, uint16(v)) }
func getU16(b []byte) int    { return int(binary.LittleEndian.Uint16(b)) }
