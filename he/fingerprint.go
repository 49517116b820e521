package he

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"

	"github.com/tuneinsight/lattigo/v5/ring"
)

// FingerprintChecks is the number of independent random linear functionals.
const FingerprintChecks = 3

// maxPrimes is the most primes a parameter set has (see NewParams).
const maxPrimes = 8

// Fingerprint is, for each of FingerprintChecks seed-derived random vectors
// r_k and each prime qᵢ, ⟨r_k, c1⟩ mod qᵢ over the c1 parts of all
// ciphertexts of an encrypted vector (as packed on the wire, NTT form).
//
// It lets key holders check that a sum's c1 is the sum of the c1 parts of
// the uploads it names without downloading them: the functional is linear,
// so for uploads u₁…u_m and their Sum S (added componentwise modulo Q, as
// [Sum.Add] does),
//
//	Fingerprint(S, seed) = Σⱼ Fingerprint(uⱼ, seed)        (exactly, mod each qᵢ)
//
// Soundness: each coefficient of r_k is a 64-bit word of an AES-256-CTR
// keystream keyed by SHA-256(domain ‖ preset ‖ seed ‖ k) (one stream per
// check, shared by the primes), used as is: ⟨r_k, c1⟩ is reduced modulo qᵢ
// once, so the word counts as its residue. A residue has probability at
// most ⌈2^64/qᵢ⌉/2^64 ≤ 1/qᵢ + 2^-64 (the reduction's bias). If S's c1
// differs from Σⱼ c1ⱼ in some prime qᵢ, fix every coefficient of r_k but one
// where the difference d is non-zero: the functional vanishes on d for
// exactly one residue of that coefficient (qᵢ is prime), so with
// probability at most 1/qᵢ + 2^-64, and for the FingerprintChecks
// independent vectors at most (1/q_min + 2^-64)^3: 2^-162 for the precise
// preset's 54-bit primes, 2^-182 for the compact one's 61-bit prime. The
// seed must be fixed after the sum is (the protocol hashes the aggregator's
// commitment to the sum: Fiat–Shamir); an aggregator can then only grind
// commitments, each try succeeding with that probability.
//
// A Fingerprint is a small value, safe for concurrent use; the zero value
// is not a fingerprint.
type Fingerprint struct {
	preset PresetID
	primes int
	q      [maxPrimes]uint64
	res    [FingerprintChecks][maxPrimes]uint64
}

const (
	fingerprintDomain    = "fedcrypt/he/fingerprint/v1"
	fingerprintHeaderLen = commonLen + 4 // checks u8 | primes u8 | reserved u16
)

// Fingerprint computes the fingerprint of an encrypted vector (from
// [Encrypt], or a marshalled [Sum]) for seed. It validates the vector fully
// (header, every coefficient of c0 and c1), as [Sum.Add] does; errors wrap
// [ErrMalformed]. Ciphertexts are spread over GOMAXPROCS goroutines; the
// result does not depend on their number.
func (p *Params) Fingerprint(update []byte, seed [32]byte) (Fingerprint, error) {
	uh, err := p.parseUpdateHeader(update)
	if err != nil {
		return Fingerprint{}, fmt.Errorf("he: fingerprint: %w", err)
	}
	var blocks [FingerprintChecks]cipher.Block
	for k := range blocks {
		h := sha256.New()
		h.Write([]byte(fingerprintDomain))
		h.Write([]byte{byte(p.lit.ID)})
		h.Write(seed[:])
		h.Write([]byte{byte(k)})
		key := h.Sum(nil)
		if blocks[k], err = aes.NewCipher(key); err != nil {
			panic("he: AES key: " + err.Error())
		}
	}
	n, pl, q := p.params.N(), p.polyLen(), p.params.Q()
	parts := make([][FingerprintChecks][maxPrimes]uint64, uh.count)
	type worker struct {
		c1 ring.Poly
		r  []byte
	}
	err = parallel(uh.count, func() any { return &worker{c1: p.ringQ.NewPoly(), r: make([]byte, 8*n)} }, func(wa any, c int) error {
		w := wa.(*worker)
		off := updateHeaderLen + 2*c*pl
		if err := p.checkPoly(update[off : off+pl]); err != nil {
			return malformed("encrypted vector", "ciphertext %d, c0: %v", c, err)
		}
		if err := p.unpackPoly(update[off+pl:off+2*pl], w.c1, false); err != nil {
			return malformed("encrypted vector", "ciphertext %d, c1: %v", c, err)
		}
		// r_k for ciphertext c is the keystream from byte 8·n·c on: start
		// the counter at block n·c/2 (16-byte blocks, 8 bytes a word).
		var iv [aes.BlockSize]byte
		binary.BigEndian.PutUint64(iv[8:], uint64(c)*uint64(n)/2)
		for k, b := range blocks {
			clear(w.r)
			cipher.NewCTR(b, iv[:]).XORKeyStream(w.r, w.r)
			for i, qi := range q {
				parts[c][k][i] = dotMod(w.r, w.c1.Coeffs[i], qi)
			}
		}
		return nil
	})
	if err != nil {
		return Fingerprint{}, fmt.Errorf("he: fingerprint: %w", err)
	}
	f := p.zeroFingerprint()
	for c := range parts {
		for k := range FingerprintChecks {
			for i, qi := range q {
				f.res[k][i] = addMod(f.res[k][i], parts[c][k][i], qi)
			}
		}
	}
	return f, nil
}

func (p *Params) zeroFingerprint() Fingerprint {
	f := Fingerprint{preset: p.lit.ID, primes: len(p.params.Q())}
	copy(f.q[:], p.params.Q())
	return f
}

// dotMod returns Σⱼ wⱼ·cⱼ mod q, wⱼ the little-endian 64-bit words of r and
// cⱼ < q < 2^62: each product is below 2^126, and a 192-bit accumulator
// holds n ≤ 2^15 of them.
func dotMod(r []byte, c []uint64, q uint64) uint64 {
	var a0, a1, a2 uint64
	r = r[:8*len(c)]
	for j, v := range c {
		hi, lo := bits.Mul64(binary.LittleEndian.Uint64(r[8*j:]), v)
		var carry uint64
		a0, carry = bits.Add64(a0, lo, 0)
		a1, carry = bits.Add64(a1, hi, carry)
		a2 += carry
	}
	// (a2·2^128 + a1·2^64 + a0) mod q; Rem64 accepts any high word.
	return bits.Rem64(bits.Rem64(a2, a1, q), a0, q)
}

// Add returns f + g, componentwise modulo each prime: the fingerprint of the
// sum of the two vectors. It fails if the presets differ.
func (f Fingerprint) Add(g Fingerprint) (Fingerprint, error) {
	switch {
	case f.preset == 0 || g.preset == 0:
		return Fingerprint{}, errors.New("he: add fingerprints: zero Fingerprint")
	case f.preset != g.preset || f.primes != g.primes || f.q != g.q:
		return Fingerprint{}, fmt.Errorf("he: add fingerprints: presets %v and %v", f.preset, g.preset)
	}
	for k := range FingerprintChecks {
		for i := range f.primes {
			f.res[k][i] = addMod(f.res[k][i], g.res[k][i], f.q[i])
		}
	}
	return f, nil
}

// Equal reports whether f and g are the same fingerprint of the same preset.
func (f Fingerprint) Equal(g Fingerprint) bool { return f == g }

// MarshalBinary encodes the fingerprint: the 8-byte common header,
// checks u8 | primes u8 | reserved u16, then the residues, check by check
// and prime by prime, each a little-endian u64 — 60 bytes for two primes.
func (f Fingerprint) MarshalBinary() ([]byte, error) {
	if f.preset == 0 {
		return nil, errors.New("he: marshal fingerprint: zero Fingerprint")
	}
	out := make([]byte, fingerprintHeaderLen+FingerprintChecks*f.primes*8)
	copy(out, magic[:])
	out[4], out[5], out[6], out[7] = wireVersion, kindFingerprint, byte(f.preset), 0
	out[commonLen], out[commonLen+1] = FingerprintChecks, byte(f.primes)
	off := fingerprintHeaderLen
	for k := range FingerprintChecks {
		for i := range f.primes {
			binary.LittleEndian.PutUint64(out[off:], f.res[k][i])
			off += 8
		}
	}
	return out, nil
}

// UnmarshalFingerprint decodes and validates a fingerprint encoded by
// [Fingerprint.MarshalBinary] for the parameter set's preset: exact length,
// header, and every residue below its prime. Errors wrap [ErrMalformed].
func (p *Params) UnmarshalFingerprint(b []byte) (Fingerprint, error) {
	const what = "fingerprint"
	q := p.params.Q()
	if want := fingerprintHeaderLen + FingerprintChecks*len(q)*8; len(b) != want {
		return Fingerprint{}, malformed(what, "%d bytes, want %d", len(b), want)
	}
	if err := p.checkCommon(b, kindFingerprint, 0); err != nil {
		return Fingerprint{}, err
	}
	switch {
	case int(b[commonLen]) != FingerprintChecks:
		return Fingerprint{}, malformed(what, "%d checks, want %d", b[commonLen], FingerprintChecks)
	case int(b[commonLen+1]) != len(q):
		return Fingerprint{}, malformed(what, "%d primes, want %d", b[commonLen+1], len(q))
	case b[commonLen+2] != 0 || b[commonLen+3] != 0:
		return Fingerprint{}, malformed(what, "reserved field not zero")
	}
	f := p.zeroFingerprint()
	off := fingerprintHeaderLen
	for k := range FingerprintChecks {
		for i, qi := range q {
			v := binary.LittleEndian.Uint64(b[off:])
			if v >= qi {
				return Fingerprint{}, malformed(what, "check %d, prime %d: residue not below the prime", k, i)
			}
			f.res[k][i] = v
			off += 8
		}
	}
	return f, nil
}
