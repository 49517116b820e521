package he

import (
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/tuneinsight/lattigo/v5/ring"
)

// ErrDecryptionBudget is returned by [KeyHolder.DecryptionShare] when the
// share would take the key holder's ciphertext decryptions beyond the key
// policy's L: the key is spent and the federation must re-key.
var ErrDecryptionBudget = errors.New("key's decryption budget spent")

// Sum is a running homomorphic sum of encrypted vectors of one length. Its
// memory is that of one encrypted vector, whatever the number of addends.
// The zero value is not usable; call [NewSum]. A Sum is not safe for
// concurrent use; Add spreads its work over GOMAXPROCS goroutines.
type Sum struct {
	p      *Params
	h      updateHeader // addends == 0 while empty
	c0, c1 []ring.Poly
	digest *[32]byte // of the c1 parts, nil when stale
}

// NewSum returns an empty sum.
func NewSum(p *Params) *Sum { return &Sum{p: p} }

// Len returns the number of values of the summed vectors (0 while empty).
func (s *Sum) Len() int { return s.h.length }

// Addends returns the number of encrypted vectors summed so far, a vector
// multiplied by c counting c² times (see [Sum.MulInt]).
func (s *Sum) Addends() int { return s.h.addends }

// MulInt multiplies the sum by the integer c, in place. The error grows by
// |c| and the values by |c|, so the sum then counts as c²·Addends addends,
// which may not exceed the key policy's Contributors (the preset's
// MaxAddends without a policy): that keeps both the flooding analysis and
// the room for the values valid.
func (s *Sum) MulInt(c int) error {
	if s.h.addends == 0 {
		return errors.New("he: multiply sum: empty sum")
	}
	if c == 0 || c > 1<<10 || c < -(1<<10) || c*c*s.h.addends > s.p.maxAddends() {
		return fmt.Errorf("he: multiply sum of %d addends by %d: the parameters allow %d addends", s.h.addends, c, s.p.maxAddends())
	}
	r := s.p.ringQ
	_ = parallel(s.h.count, func() any { return nil }, func(_ any, i int) error {
		for _, pol := range []ring.Poly{s.c0[i], s.c1[i]} {
			if c < 0 {
				r.Neg(pol, pol)
			}
			r.MulScalar(pol, uint64(max(c, -c)), pol)
		}
		return nil
	})
	s.h.addends *= c * c
	s.digest = nil
	return nil
}

// Add folds an encrypted vector (from [Encrypt], or a marshalled Sum) into
// the sum, in place. The whole vector is validated before the sum changes:
// on error the sum is unchanged. The total number of addends may not exceed
// the key policy's Contributors (the preset's MaxAddends without a policy),
// which the noise analysis assumes.
func (s *Sum) Add(update []byte) error {
	p := s.p
	h, err := p.parseUpdateHeader(update)
	if err != nil {
		return fmt.Errorf("he: add to sum: %w", err)
	}
	if s.h.addends > 0 && h.length != s.h.length {
		return fmt.Errorf("he: add to sum: vector of %d values, sum holds %d", h.length, s.h.length)
	}
	if s.h.addends+h.addends > p.maxAddends() {
		return fmt.Errorf("he: add to sum: %d + %d addends exceed the parameters' %d", s.h.addends, h.addends, p.maxAddends())
	}
	pl := p.polyLen()
	poly := func(i int) (ring.Poly, []byte) {
		off := updateHeaderLen + i*pl
		if i%2 == 0 {
			return s.c0[i/2], update[off : off+pl]
		}
		return s.c1[i/2], update[off : off+pl]
	}
	first := s.h.addends == 0
	if first {
		s.c0, s.c1 = make([]ring.Poly, h.count), make([]ring.Poly, h.count)
		for i := range h.count {
			s.c0[i], s.c1[i] = p.ringQ.NewPoly(), p.ringQ.NewPoly()
		}
	}
	// One pass: add every polynomial, validating as it goes; if any is bad,
	// undo all of them (unaddPoly is exact), leaving the sum unchanged.
	errs := make([]error, 2*h.count)
	_ = parallel(2*h.count, func() any { return nil }, func(_ any, i int) error {
		dst, src := poly(i)
		errs[i] = p.unpackPoly(src, dst, true)
		return nil
	})
	for i, err := range errs {
		if err == nil {
			continue
		}
		if first {
			s.c0, s.c1 = nil, nil
		} else {
			_ = parallel(2*h.count, func() any { return nil }, func(_ any, i int) error {
				dst, src := poly(i)
				p.unaddPoly(src, dst)
				return nil
			})
		}
		return fmt.Errorf("he: add to sum: %w", malformed("encrypted vector", "ciphertext %d, c%d: %v", i/2, i%2, err))
	}
	if first {
		s.h = updateHeader{length: h.length, count: h.count}
	}
	s.h.addends += h.addends
	s.digest = nil
	return nil
}

// MarshalBinary encodes the sum as an encrypted vector: the form key holders
// take to compute decryption shares, and that [Sum.Add] accepts.
func (s *Sum) MarshalBinary() ([]byte, error) {
	p := s.p
	if s.h.addends == 0 {
		return nil, errors.New("he: marshal sum: empty sum")
	}
	out := make([]byte, p.UpdateSize(s.h.length))
	p.putUpdateHeader(out, s.h)
	pl := p.polyLen()
	_ = parallel(s.h.count, func() any { return nil }, func(_ any, i int) error {
		off := updateHeaderLen + 2*i*pl
		p.packPoly(out[off:], s.c0[i])
		p.packPoly(out[off+pl:], s.c1[i])
		return nil
	})
	return out, nil
}

// c1Digests hashes each ciphertext's packed c1: a decryption share depends
// on c1 only, so this is what decryptions are counted by.
func (p *Params) c1Digests(update []byte, count int) [][32]byte {
	pl := p.polyLen()
	d := make([][32]byte, count)
	_ = parallel(count, func() any { return nil }, func(_ any, i int) error {
		off := updateHeaderLen + (2*i+1)*pl
		h := sha256.New()
		h.Write([]byte("fedcrypt/he/c1/v1"))
		h.Write([]byte{byte(p.lit.ID)})
		h.Write(update[off : off+pl])
		d[i] = [32]byte(h.Sum(nil))
		return nil
	})
	return d
}

// sumDigest combines per-ciphertext digests into one.
func sumDigest(ds [][32]byte) [32]byte {
	h := sha256.New()
	h.Write([]byte("fedcrypt/he/sum/v1"))
	for _, d := range ds {
		h.Write(d[:])
	}
	return [32]byte(h.Sum(nil))
}

func (s *Sum) c1Digest() ([32]byte, error) {
	if s.digest == nil {
		b, err := s.MarshalBinary()
		if err != nil {
			return [32]byte{}, err
		}
		d := sumDigest(s.p.c1Digests(b, s.h.count))
		s.digest = &d
	}
	return *s.digest, nil
}
