package sim

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"io"

	"golang.org/x/crypto/chacha20"

	"github.com/fedcrypt/fedcrypt/vault"
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

// identity returns the age identity (and signing key) of the party named
// label: from the operating system's randomness, or under a seed derived
// from it, so that a seeded run's federation, and its hash, repeat. Such
// keys are as predictable as the seed.
func identity(seed *uint64, label string) (*vault.Identity, error) {
	if seed == nil {
		return vault.GenerateIdentity()
	}
	var k [32]byte
	if _, err := io.ReadFull(source(seed, "identity/"+label), k[:]); err != nil {
		return nil, err
	}
	return vault.DeriveIdentity(k)
}
