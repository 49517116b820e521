package he

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/tuneinsight/lattigo/v5/he/hefloat"
	"github.com/tuneinsight/lattigo/v5/ring"
	"github.com/tuneinsight/lattigo/v5/utils/sampling"
)

// An encrypted vector ("update") is the 8-byte common header, then
//
//	length u64 | ciphertexts u32 | addends u32 | level u8 | logScale u8 | reserved u16
//
// then, per ciphertext, c0 and c1 packed (NTT form, not Montgomery).
const updateHeaderLen = commonLen + 20

// updateHeader is the decoded fixed part of an encrypted vector.
type updateHeader struct {
	length  int // number of float64 values
	count   int // ciphertexts
	addends int // encrypted vectors summed into this one
}

func (p *Params) putUpdateHeader(b []byte, h updateHeader) {
	clear(b[:updateHeaderLen])
	p.putCommon(b, kindUpdate, flagNTT)
	binary.LittleEndian.PutUint64(b[commonLen:], uint64(h.length))
	binary.LittleEndian.PutUint32(b[commonLen+8:], uint32(h.count))
	binary.LittleEndian.PutUint32(b[commonLen+12:], uint32(h.addends))
	b[commonLen+16] = byte(p.params.MaxLevel())
	b[commonLen+17] = byte(p.lit.LogScale)
}

// maxLength bounds the length of one encrypted vector (2^32 values).
const maxLength = 1 << 32

// parseUpdateHeader validates the header and the exact length of an
// encrypted vector.
func (p *Params) parseUpdateHeader(b []byte) (updateHeader, error) {
	const what = "encrypted vector"
	if len(b) < updateHeaderLen {
		return updateHeader{}, malformed(what, "%d bytes, shorter than the %d-byte header", len(b), updateHeaderLen)
	}
	if err := p.checkCommon(b, kindUpdate, flagNTT); err != nil {
		return updateHeader{}, err
	}
	length := binary.LittleEndian.Uint64(b[commonLen:])
	h := updateHeader{
		count:   int(binary.LittleEndian.Uint32(b[commonLen+8:])),
		addends: int(binary.LittleEndian.Uint32(b[commonLen+12:])),
	}
	switch {
	case length == 0 || length > maxLength:
		return h, malformed(what, "length %d outside [1, 2^32]", length)
	case p.Ciphertexts(int(length)) != h.count:
		return h, malformed(what, "%d ciphertexts for %d values, want %d", h.count, length, p.Ciphertexts(int(length)))
	case h.addends < 1 || h.addends > p.lit.MaxAddends:
		return h, malformed(what, "%d addends outside [1, %d]", h.addends, p.lit.MaxAddends)
	case int(b[commonLen+16]) != p.params.MaxLevel():
		return h, malformed(what, "level %d, want %d", b[commonLen+16], p.params.MaxLevel())
	case int(b[commonLen+17]) != p.lit.LogScale:
		return h, malformed(what, "scale 2^%d, want 2^%d", b[commonLen+17], p.lit.LogScale)
	case b[commonLen+18] != 0 || b[commonLen+19] != 0:
		return h, malformed(what, "reserved field not zero")
	}
	h.length = int(length)
	if want := p.UpdateSize(h.length); len(b) != want {
		return h, malformed(what, "%d bytes for %d values, want %d", len(b), h.length, want)
	}
	return h, nil
}

// UpdateLen validates the header and size of an encrypted vector and returns
// the number of values it holds and the number of encrypted vectors summed
// into it, without decoding the ciphertexts.
func (p *Params) UpdateLen(update []byte) (length, addends int, err error) {
	h, err := p.parseUpdateHeader(update)
	return h.length, h.addends, err
}

// workers returns the number of goroutines to spread n ciphertexts over.
func workers(n int) int { return max(1, min(n, runtime.GOMAXPROCS(0))) }

// parallel runs f(worker, i) for i in [0, n) on workers(n) goroutines and
// returns the first error.
func parallel(n int, newWorker func() any, f func(w any, i int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, workers(n))
	for k := range errs {
		w := newWorker()
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(w, i); err != nil {
					errs[k] = err
					next.Store(int64(n))
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// encWorker holds one goroutine's encoder and buffers.
type encWorker struct {
	enc     *hefloat.Encoder
	cbuf    []complex128
	tbuf    []byte
	vals    []float64
	u, e, m ring.Poly
	c0, c1  ring.Poly
}

// Encrypt encrypts values under the collective public key: ⌈len/slots⌉
// ciphertexts, each c = (u·b + e₀ + Δ·m, u·a + e₁) with u ternary and e₀, e₁
// Gaussian, preceded by a header. Every |value| must be at most the preset's
// MaxAbs. Ciphertexts are encrypted in parallel, one encoder per worker; the
// output depends only on values and the bytes read from rand (32 per
// ciphertext), not on the number of workers. rand must be crypto/rand.Reader
// in production.
func Encrypt(pk *PublicKey, values []float64, rand io.Reader) ([]byte, error) {
	if len(values) == 0 || len(values) > maxLength {
		return nil, fmt.Errorf("he: encrypt: %d values, want 1 to 2^32", len(values))
	}
	out := make([]byte, pk.p.UpdateSize(len(values)))
	if err := EncryptTo(out, pk, values, rand); err != nil {
		return nil, err
	}
	return out, nil
}

// EncryptTo is [Encrypt] into dst, which must be exactly
// UpdateSize(len(values)) bytes: a caller that frames the update inside a
// larger message encrypts it in place.
func EncryptTo(dst []byte, pk *PublicKey, values []float64, rand io.Reader) error {
	p := pk.p
	if len(values) == 0 || len(values) > maxLength {
		return fmt.Errorf("he: encrypt: %d values, want 1 to 2^32", len(values))
	}
	if len(dst) != p.UpdateSize(len(values)) {
		return fmt.Errorf("he: encrypt: %d bytes of room for %d values, want %d", len(dst), len(values), p.UpdateSize(len(values)))
	}
	for i, v := range values {
		if math.IsNaN(v) || math.Abs(v) > p.lit.MaxAbs {
			return fmt.Errorf("he: encrypt: value %d outside [-%g, %g]", i, p.lit.MaxAbs, p.lit.MaxAbs)
		}
	}
	h := updateHeader{length: len(values), count: p.Ciphertexts(len(values)), addends: 1}
	keys := make([]byte, 32*h.count)
	if _, err := io.ReadFull(rand, keys); err != nil {
		return fmt.Errorf("he: encrypt: read randomness: %w", err)
	}
	out := dst
	p.putUpdateHeader(out, h)
	slots, pl := p.Slots(), p.polyLen()
	enc := p.encoder()
	err := parallel(h.count, func() any {
		r := p.ringQ
		return &encWorker{enc: enc.ShallowCopy(), vals: make([]float64, slots), cbuf: make([]complex128, slots), tbuf: make([]byte, 8*slots),
			u: r.NewPoly(), e: r.NewPoly(), m: r.NewPoly(), c0: r.NewPoly(), c1: r.NewPoly()}
	}, func(wa any, i int) error {
		w := wa.(*encWorker)
		chunk := values[i*slots : min(len(values), (i+1)*slots)]
		clear(w.vals[copy(w.vals, chunk):])
		if err := p.encryptOne(pk, w, keyedPRNG(keys[32*i:32*i+32])); err != nil {
			return err
		}
		off := updateHeaderLen + 2*i*pl
		p.packPoly(out[off:], w.c0)
		p.packPoly(out[off+pl:], w.c1)
		return nil
	})
	clear(keys)
	if err != nil {
		return fmt.Errorf("he: encrypt: %w", err)
	}
	return nil
}

// encryptOne encrypts w.vals into w.c0, w.c1. The values are embedded with
// Lattigo's inverse special FFT for the conjugate-invariant ring, quantized
// at Δ₀ into every prime at once (|Δ₀·m| is below every qᵢ/2), multiplied by
// Δ/Δ₀, added to e₀, and the sum is transformed to the NTT domain once.
func (p *Params) encryptOne(pk *PublicKey, w *encWorker, prng sampling.PRNG) error {
	r := p.ringQ
	for i, v := range w.vals {
		w.cbuf[i] = complex(v, 0)
	}
	if err := w.enc.IFFT(w.cbuf, p.params.LogMaxSlots()); err != nil {
		return err
	}
	p.readError(prng, w.e, w.tbuf)
	for j, c := range w.cbuf {
		x := math.Round(real(c) * p.encScale)
		for i, qi := range p.params.Q() {
			if x < 0 {
				w.m.Coeffs[i][j] = qi - uint64(-x)
			} else {
				w.m.Coeffs[i][j] = uint64(x)
			}
		}
	}
	clear(w.cbuf)
	if p.scaleMul > 1 {
		r.MulScalar(w.m, p.scaleMul, w.m)
	}
	r.Add(w.e, w.m, w.e)
	r.NTT(w.e, w.e) // NTT(e₀ + Δ·m)
	p.readTernary(prng, w.u, w.tbuf)
	r.NTT(w.u, w.u)
	r.MulCoeffsMontgomery(w.u, pk.b, w.c0)
	r.MulCoeffsMontgomery(w.u, pk.a, w.c1)
	r.Add(w.c0, w.e, w.c0)
	p.readError(prng, w.e, w.tbuf)
	r.NTT(w.e, w.e)
	r.Add(w.c1, w.e, w.c1)
	w.u.Zero()
	w.e.Zero()
	w.m.Zero()
	clear(w.vals)
	return nil
}

// readTernary fills pol with coefficients uniform in {-1, 0, 1} (Lattigo's
// Ternary{P: 2/3}), by rejection sampling on bytes: a byte below 255 gives
// its residue modulo 3. buf is scratch space of any non-zero length.
func (p *Params) readTernary(prng sampling.PRNG, pol ring.Poly, buf []byte) {
	q := p.params.Q()
	j, n := 0, len(pol.Coeffs[0])
	for j < n {
		if _, err := prng.Read(buf); err != nil {
			panic("he: PRNG: " + err.Error())
		}
		for _, c := range buf {
			if c == 255 {
				continue
			}
			switch c % 3 {
			case 0:
				for i := range q {
					pol.Coeffs[i][j] = 0
				}
			case 1:
				for i := range q {
					pol.Coeffs[i][j] = 1
				}
			default:
				for i, qi := range q {
					pol.Coeffs[i][j] = qi - 1
				}
			}
			if j++; j == n {
				break
			}
		}
	}
	clear(buf)
}

// errorCDT[k] is 2^63·P(|round(σ·Z)| < k+1 | σ·|Z| ≤ 6σ) for σ = errSigma:
// the cumulative table of the rounded, truncated Gaussian that Lattigo's
// GaussianSampler draws for DiscreteGaussian{σ, 6σ}.
var errorCDT = func() []uint64 {
	bound := errBoundSigmas * errSigma
	cdf := func(x float64) float64 { return math.Erf(min(x, bound) / (errSigma * math.Sqrt2)) }
	var t []uint64
	for k := 0; float64(k)+0.5 <= bound; k++ {
		t = append(t, uint64(math.Ldexp(cdf(float64(k)+0.5)/cdf(bound), 63)))
	}
	return t
}()

// readError fills pol with the fresh-encryption error distribution (see
// errorCDT) from 8 random bytes per coefficient: 63 bits select |e| from the
// table, one bit its sign. buf is scratch space of a multiple of 8 bytes.
func (p *Params) readError(prng sampling.PRNG, pol ring.Poly, buf []byte) {
	q := p.params.Q()
	n := len(pol.Coeffs[0])
	for j := 0; j < n; {
		if _, err := prng.Read(buf); err != nil {
			panic("he: PRNG: " + err.Error())
		}
		for k := 0; k+8 <= len(buf) && j < n; k, j = k+8, j+1 {
			u := binary.LittleEndian.Uint64(buf[k:])
			neg, u := u>>63, u&(1<<63-1)
			var e uint64
			for _, c := range errorCDT {
				e += (c - u - 1) >> 63 // 1 while u ≥ c
			}
			// −e mod qᵢ when the sign bit is set and e ≠ 0, else e, without
			// a branch on the secret sign.
			mask := -(neg & (-e >> 63))
			for i, qi := range q {
				pol.Coeffs[i][j] = (qi-e)&mask | e&^mask
			}
		}
	}
	clear(buf)
}
