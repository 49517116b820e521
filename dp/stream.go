package dp

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
)

// streamBytes is the number of keystream bytes a stream generates at a time.
const streamBytes = 1024

// maxStreamBlocks bounds the 16-byte blocks one stream may produce (64 GiB;
// a chunk draws kilobytes).
const maxStreamBlocks = 1 << 32

// stream is an AES-256-CTR keystream read as 64-bit words or bit fields.
// Every stream has its own key, derived from the caller's: CTR_DRBG's
// practice of bounding the output under one key: the distance between AES
// in counter mode and a random function, about q²/2¹²⁹ after q blocks under
// one key, is below 2⁻⁸¹ for any stream under 256 MiB, and a noise chunk
// draws about 18 KiB.
// One stream serves one chunk of one noise call, or one step's sampling; it
// is not safe for concurrent use.
type stream struct {
	c      cipher.Stream
	buf    [streamBytes]byte
	pos    int    // next unread byte in buf
	blocks uint64 // blocks generated so far
	bits   uint64 // the low nbit bits are unread
	nbit   uint
}

// newStream returns the keystream for the pair (call, chunk) under key: the
// stream's key is AES-256(key, call ‖ chunk ‖ 0) ‖ AES-256(key, call ‖ chunk
// ‖ 1) (big-endian, 8 + 4 + 4 bytes), and its counter starts at zero. The
// master key encrypts nothing else.
func newStream(key *[32]byte, call uint64, chunk uint32) *stream {
	master, err := aes.NewCipher(key[:])
	if err != nil {
		panic("dp: aes: " + err.Error()) // the key size is fixed
	}
	var sub [32]byte
	for i := range uint32(2) {
		var in [aes.BlockSize]byte
		binary.BigEndian.PutUint64(in[:8], call)
		binary.BigEndian.PutUint32(in[8:12], chunk)
		binary.BigEndian.PutUint32(in[12:], i)
		master.Encrypt(sub[16*i:], in[:])
	}
	b, err := aes.NewCipher(sub[:])
	clear(sub[:])
	if err != nil {
		panic("dp: aes: " + err.Error())
	}
	var iv [aes.BlockSize]byte
	return &stream{c: cipher.NewCTR(b, iv[:]), pos: streamBytes}
}

// refill generates the next streamBytes of keystream.
func (s *stream) refill() {
	s.blocks += streamBytes / aes.BlockSize
	if s.blocks > maxStreamBlocks {
		panic("dp: keystream of one chunk exhausted (64 GiB)") // unreachable: a chunk draws a few MiB
	}
	clear(s.buf[:])
	s.c.XORKeyStream(s.buf[:], s.buf[:])
	s.pos = 0
}

// next returns the next 64 bits of the stream, ignoring any bits that take
// has buffered.
func (s *stream) next() uint64 {
	if s.pos == streamBytes {
		s.refill()
	}
	w := binary.LittleEndian.Uint64(s.buf[s.pos:])
	s.pos += 8
	return w
}

// take returns the next k bits of the stream (1 ≤ k ≤ 63) as an integer.
func (s *stream) take(k uint) uint64 {
	if s.nbit >= k {
		s.nbit -= k
		v := s.bits >> s.nbit
		s.bits &= 1<<s.nbit - 1
		return v
	}
	need := k - s.nbit
	w := s.next()
	v := s.bits<<need | w>>(64-need)
	s.nbit = 64 - need
	s.bits = w & (1<<s.nbit - 1)
	return v
}

// below reports whether a uniform 64-bit word is below threshold, reading
// 8 bits at a time and stopping as soon as the answer is known (after the
// first byte but for a chance of 1/256).
func (s *stream) below(threshold uint64) bool {
	for shift := uint(56); ; shift -= 8 {
		r, t := s.take(8), threshold>>shift&0xff
		if r != t || shift == 0 {
			return r < t
		}
	}
}
