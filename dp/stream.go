package dp

import (
	"encoding/binary"

	"golang.org/x/crypto/chacha20"
)

// streamWords is the number of 64-bit words a stream generates at a time.
const streamWords = 64

// stream is a ChaCha20 keystream read as 64-bit words or bit fields. One
// stream serves one chunk of one noise call, or one step's sampling, far
// below ChaCha20's 256 GiB per nonce; it is not safe for concurrent use.
type stream struct {
	c    *chacha20.Cipher
	buf  [streamWords * 8]byte
	pos  int    // next unread word in buf
	bits uint64 // the low nbit bits are unread
	nbit uint
}

// newStream returns the keystream of key under the 96-bit nonce (call,
// chunk): every (call, chunk) pair gets an independent stream.
func newStream(key *[32]byte, call uint64, chunk uint32) *stream {
	var nonce [chacha20.NonceSize]byte
	binary.LittleEndian.PutUint64(nonce[:8], call)
	binary.LittleEndian.PutUint32(nonce[8:], chunk)
	c, err := chacha20.NewUnauthenticatedCipher(key[:], nonce[:])
	if err != nil {
		panic("dp: chacha20: " + err.Error()) // key and nonce sizes are fixed
	}
	return &stream{c: c, pos: streamWords}
}

func (s *stream) next() uint64 {
	if s.pos == streamWords {
		clear(s.buf[:])
		s.c.XORKeyStream(s.buf[:], s.buf[:])
		s.pos = 0
	}
	w := binary.LittleEndian.Uint64(s.buf[s.pos*8:])
	s.pos++
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
