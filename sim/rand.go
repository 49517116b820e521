package sim

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"strings"

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

// identity returns the age identity of one party: an X25519 key read from
// source(seed, label) when seeded, vault.GenerateIdentity's otherwise. The
// identities are in the federation's config, whose hash keys the common
// reference string and the compression maps: a seeded run repeats only if
// they do.
func identity(seed *uint64, label string) (*vault.Identity, error) {
	if seed == nil {
		return vault.GenerateIdentity()
	}
	var k [32]byte
	if _, err := io.ReadFull(source(seed, label), k[:]); err != nil {
		panic("sim: random source failed: " + err.Error())
	}
	return vault.ParseIdentity(strings.NewReader(bech32("age-secret-key-", k[:])))
}

// bech32 encodes data under hrp in upper case, as age writes secret keys
// (BIP 173; age drops the 90-character limit).
func bech32(hrp string, data []byte) string {
	const charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
	var values []byte
	var acc, bits uint
	for _, b := range data {
		acc, bits = acc<<8|uint(b), bits+8
		for ; bits >= 5; bits -= 5 {
			values = append(values, byte(acc>>(bits-5)&31))
		}
	}
	if bits > 0 {
		values = append(values, byte(acc<<(5-bits)&31))
	}
	var check []byte
	for i := range len(hrp) {
		check = append(check, hrp[i]>>5)
	}
	check = append(check, 0)
	for i := range len(hrp) {
		check = append(check, hrp[i]&31)
	}
	check = append(append(check, values...), 0, 0, 0, 0, 0, 0)
	mod := polymod(check) ^ 1
	for i := range 6 {
		values = append(values, byte(mod>>(5*(5-i))&31))
	}
	var b strings.Builder
	b.WriteString(hrp + "1")
	for _, v := range values {
		b.WriteByte(charset[v])
	}
	return strings.ToUpper(b.String())
}

func polymod(values []byte) uint32 {
	gen := [5]uint32{0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3}
	chk := uint32(1)
	for _, v := range values {
		top := chk >> 25
		chk = (chk&0x1ffffff)<<5 ^ uint32(v)
		for i, g := range gen {
			if top>>i&1 == 1 {
				chk ^= g
			}
		}
	}
	return chk
}
