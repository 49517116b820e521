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
	wireVersion = 1
	commonLen   = 8

	kindPublicKeyShare  = 1
	kindPublicKey       = 2
	kindShamirShare     = 3
	kindUpdate          = 4
	kindDecryptionShare = 5
	kindKeyHolder       = 6

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
}

func malformed(what string, format string, args ...any) error {
	return fmt.Errorf("he: decode %s: %s: %w", what, fmt.Sprintf(format, args...), ErrMalformed)
}

// putCommon writes the common header into b[:commonLen].
func (p *Params) putCommon(b []byte, kind, flags byte) {
	copy(b, magic[:])
	b[4] = wireVersion
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
	if b[4] != wireVersion {
		return malformed(what, "version %d, want %d", b[4], wireVersion)
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

// bitReader reads little-endian bit fields from a byte slice.
type bitReader struct {
	src  []byte
	acc  uint64
	have uint
}

func (r *bitReader) word() uint64 {
	if len(r.src) >= 8 {
		w := binary.LittleEndian.Uint64(r.src)
		r.src = r.src[8:]
		return w
	}
	var w uint64
	for i, c := range r.src {
		w |= uint64(c) << (8 * i)
	}
	r.src = nil
	return w
}

func (r *bitReader) read(b uint) uint64 {
	mask := uint64(1)<<b - 1
	if r.have >= b {
		v := r.acc & mask
		r.acc >>= b
		r.have -= b
		return v
	}
	w := r.word()
	v := (r.acc | w<<r.have) & mask
	r.acc = w >> (b - r.have)
	r.have = 64 - (b - r.have)
	return v
}

// unpackPoly reads a packed polynomial from src (exactly p.polyLen() bytes)
// into pol, checking every coefficient against its prime. If add is true the
// coefficients are added modulo each prime to pol instead of overwriting it;
// pol is then left partially updated on error.
func (p *Params) unpackPoly(src []byte, pol ring.Poly, add bool) error {
	r := bitReader{src: src}
	for i, qi := range p.params.Q() {
		b := uint(p.bits[i])
		coeffs := pol.Coeffs[i]
		for j := range coeffs {
			v := r.read(b)
			if v >= qi {
				return fmt.Errorf("coefficient %d of prime %d is %d, not below %d", j, i, v, qi)
			}
			if add {
				v += coeffs[j]
				if v >= qi {
					v -= qi
				}
			}
			coeffs[j] = v
		}
	}
	if r.acc&(uint64(1)<<r.have-1) != 0 || len(r.src) != 0 {
		return errors.New("non-zero padding bits")
	}
	return nil
}

// checkHolders validates a list of key-holder indices: distinct and in range.
func (p *Params) checkHolder(i int) error {
	if i < 0 || i >= p.lit.MaxKeyHolders {
		return fmt.Errorf("key holder %d outside [0, %d)", i, p.lit.MaxKeyHolders)
	}
	return nil
}

func putU16(b []byte, v int) { binary.LittleEndian.PutUint16(b, uint16(v)) }
func getU16(b []byte) int    { return int(binary.LittleEndian.Uint16(b)) }
