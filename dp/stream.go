package dp

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
)

// streamBytes is the number of keystream bytes a stream generates at a time.
const streamBytes = 1024

// maxStreamBlocks is the number of 16-byte blocks one stream may produce
// before its 32-bit block counter would carry into the chunk field of the
// counter block, that is, into another stream.
const maxStreamBlocks = 1 << 32

// stream is an AES-256-CTR keystream (the generator of NIST SP 800-90A's
// CTR_DRBG) read as 64-bit words or bit fields. One stream serves one chunk
// of one noise call, or one step's sampling; it is not safe for concurrent
// use.
type stream struct {
	c      cipher.Stream
	buf    [streamBytes]byte
	pos    int    // next unread byte in buf
	blocks uint64 // blocks generated so far
	bits   uint64 // the low nbit bits are unread
	nbit   uint
}

// newStream returns the keystream of key for the pair (call, chunk): the
// initial counter block is call ‖ chunk ‖ 0³², big-endian, so every pair
// owns 2³² blocks (64 GiB) that no other pair reaches.
func newStream(key *[32]byte, call uint64, chunk uint32) *stream {
	b, err := aes.NewCipher(key[:])
	if err != nil {
		panic("dp: aes: " + err.Error()) // the key size is fixed
	}
	var iv [aes.BlockSize]byte
	binary.BigEndian.PutUint64(iv[:8], call)
	binary.BigEndian.PutUint32(iv[8:12], chunk)
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
