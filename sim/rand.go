package sim

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"io"

	"golang.org/x/crypto/chacha20"
)

// stream is a ChaCha20 keystream used as a deterministic random source.
type stream struct{ c *chacha20.Cipher }

func (s *stream) Read(p []byte) (int, error) {
	clear(p)
	s.c.XORKeyStream(p, p)
	return len(p), nil
}

// source returns the random source of one party and purpose: a ChaCha20
// stream keyed by SHA-256(seed ‖ label) when seeded, crypto/rand otherwise.
func source(seed *uint64, label string) io.Reader {
	if seed == nil {
		return rand.Reader
	}
	h := sha256.New()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], *seed)
	h.Write([]byte("fedcrypt/sim/v1\x00"))
	h.Write(b[:])
	h.Write([]byte(label))
	c, err := chacha20.NewUnauthenticatedCipher(h.Sum(nil), make([]byte, chacha20.NonceSize))
	if err != nil {
		panic("sim: " + err.Error())
	}
	return &stream{c}
}

// uniform draws a float64 in [0, 1) from r.
func uniform(r io.Reader) float64 {
	var b [8]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		panic("sim: random source failed: " + err.Error())
	}
	return float64(binary.BigEndian.Uint64(b[:])>>11) / (1 << 53)
}
