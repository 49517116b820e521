package he

import (
	"fmt"
	"io"
	"slices"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/mhe"
	"github.com/tuneinsight/lattigo/v5/ring"
	"github.com/tuneinsight/lattigo/v5/ring/ringqp"
	"github.com/tuneinsight/lattigo/v5/utils/structs"
)

// shamirPoint maps a key-holder index to its Shamir evaluation point; 0 is
// the secret's own point and never used.
func shamirPoint(index int) mhe.ShamirPublicPoint { return mhe.ShamirPublicPoint(index + 1) }

const shamirHeaderLen = commonLen + 8 + 32

// checkHolderSet validates a set of key-holder indices: 2 to MaxKeyHolders
// distinct indices in range. It returns a sorted copy.
func (p *Params) checkHolderSet(holders []int) ([]int, error) {
	if len(holders) < 2 || len(holders) > p.lit.MaxKeyHolders {
		return nil, fmt.Errorf("%d key holders, want 2 to %d", len(holders), p.lit.MaxKeyHolders)
	}
	s := slices.Clone(holders)
	slices.Sort(s)
	for i, h := range s {
		if err := p.checkHolder(h); err != nil {
			return nil, err
		}
		if i > 0 && h == s[i-1] {
			return nil, fmt.Errorf("key holder %d listed twice", h)
		}
	}
	return s, nil
}

// ShamirShares deals the key holder's secret sᵢ T-out-of-N: it draws a
// random polynomial fᵢ of degree T−1 over R_Q with fᵢ(0) = sᵢ and returns
// fᵢ(xⱼ) for every other key holder j in holders (which must list all N
// key holders, this one included), keyed by j. Each share is secret: it must
// reach only its recipient (encrypted). The key holder keeps its own
// fᵢ(x_own) until [KeyHolder.CombineShamirShares].
//
// Dealing happens once; a second call is an error. rand must be
// crypto/rand.Reader in production. T = N is allowed (N-of-N).
func (h *KeyHolder) ShamirShares(holders []int, threshold int, rand io.Reader) (map[int][]byte, error) {
	p := h.p
	if h.stage != stageKeys {
		return nil, fmt.Errorf("he: key holder %d: Shamir shares already dealt", h.index)
	}
	set, err := p.checkHolderSet(holders)
	if err != nil {
		return nil, fmt.Errorf("he: key holder %d: deal Shamir shares: %w", h.index, err)
	}
	if !slices.Contains(set, h.index) {
		return nil, fmt.Errorf("he: key holder %d: deal Shamir shares: own index not among the key holders", h.index)
	}
	if len(set) > p.policy.KeyHolders {
		return nil, fmt.Errorf("he: key holder %d: deal Shamir shares: %d key holders, the key policy allows %d", h.index, len(set), p.policy.KeyHolders)
	}
	if threshold < 2 || threshold > len(set) {
		return nil, fmt.Errorf("he: key holder %d: threshold %d outside [2, %d]", h.index, threshold, len(set))
	}
	prng, err := newPRNG(rand)
	if err != nil {
		return nil, fmt.Errorf("he: key holder %d: deal Shamir shares: %w", h.index, err)
	}
	coeffs := make([]ringqp.Poly, threshold)
	coeffs[0] = ringqp.Poly{Q: *h.sk.CopyNew()}
	us := ring.NewUniformSampler(prng, p.ringQ)
	for i := 1; i < threshold; i++ {
		coeffs[i] = ringqp.Poly{Q: p.ringQ.NewPoly()}
		us.Read(coeffs[i].Q)
	}
	poly := mhe.ShamirPolynomial{Value: structs.Vector[ringqp.Poly](coeffs)}
	thr := mhe.NewThresholdizer(p.params)
	digest := p.crsDigest(h.crs)
	out := make(map[int][]byte, len(set)-1)
	share := thr.AllocateThresholdSecretShare()
	for _, j := range set {
		thr.GenShamirSecretShare(shamirPoint(j), poly, &share)
		if j == h.index {
			h.own = *share.Q.CopyNew()
			continue
		}
		b := make([]byte, shamirHeaderLen+p.polyLen())
		p.putCommon(b, kindShamirShare, flagNTT|flagMontgomery)
		putU16(b[commonLen:], h.index)
		putU16(b[commonLen+2:], j)
		putU16(b[commonLen+4:], threshold)
		putU16(b[commonLen+6:], len(set))
		copy(b[commonLen+8:], digest[:])
		p.packPoly(b[shamirHeaderLen:], share.Q)
		out[j] = b
	}
	for i := range coeffs {
		coeffs[i].Q.Zero()
	}
	h.stage, h.threshold, h.holders = stageDealt, threshold, set
	return out, nil
}

// CombineShamirShares adds the shares received from every other key holder
// (one each, any order) to the key holder's own share, giving its threshold
// share of the collective secret s = Σᵢ sᵢ. Called once, after
// [KeyHolder.ShamirShares]; on error the state is unchanged. A malformed or
// duplicate share is reported as a [*ShareError] naming its position in
// shares.
func (h *KeyHolder) CombineShamirShares(shares [][]byte) error {
	p := h.p
	if h.stage != stageDealt {
		return fmt.Errorf("he: key holder %d: combine Shamir shares: state is not 'dealt'", h.index)
	}
	if len(shares) != len(h.holders)-1 {
		return fmt.Errorf("he: key holder %d: combine Shamir shares: %d shares, want %d", h.index, len(shares), len(h.holders)-1)
	}
	digest := p.crsDigest(h.crs)
	sum := *h.own.CopyNew()
	tmp := p.ringQ.NewPoly()
	seen := map[int]bool{h.index: true}
	for i, b := range shares {
		from, err := h.parseShamirShare(b, digest, tmp)
		if err != nil {
			return fmt.Errorf("he: key holder %d: combine Shamir shares: %w", h.index, &ShareError{Index: i, Err: err})
		}
		if seen[from] {
			return fmt.Errorf("he: key holder %d: combine Shamir shares: %w", h.index, &ShareError{Index: i, Err: fmt.Errorf("key holder %d appears twice", from)})
		}
		seen[from] = true
		p.ringQ.Add(sum, tmp, sum)
	}
	h.own.Zero()
	h.own, h.share, h.stage = ring.Poly{}, sum, stageReady
	return nil
}

func (h *KeyHolder) parseShamirShare(b []byte, digest [32]byte, dst ring.Poly) (int, error) {
	p := h.p
	const what = "Shamir share"
	if want := shamirHeaderLen + p.polyLen(); len(b) != want {
		return 0, malformed(what, "%d bytes, want %d", len(b), want)
	}
	if err := p.checkCommon(b, kindShamirShare, flagNTT|flagMontgomery); err != nil {
		return 0, err
	}
	from, to := getU16(b[commonLen:]), getU16(b[commonLen+2:])
	t, n := getU16(b[commonLen+4:]), getU16(b[commonLen+6:])
	switch {
	case to != h.index:
		return 0, malformed(what, "addressed to key holder %d, not %d", to, h.index)
	case from == h.index || !slices.Contains(h.holders, from):
		return 0, malformed(what, "from key holder %d, not another key holder", from)
	case t != h.threshold || n != len(h.holders):
		return 0, malformed(what, "from key holder %d: %d-of-%d, want %d-of-%d", from, t, n, h.threshold, len(h.holders))
	case [32]byte(b[commonLen+8:]) != digest:
		return 0, malformed(what, "from key holder %d: made for another common reference string", from)
	}
	if err := p.unpackPoly(b[shamirHeaderLen:], dst, false); err != nil {
		return 0, malformed(what, "from key holder %d: %v", from, err)
	}
	return from, nil
}

// additiveShare turns the threshold share into this key holder's additive
// share of s for the decryption set (Lagrange interpolation at 0, by
// Lattigo's mhe.Combiner): Σ_{i∈set} s'ᵢ = s.
func (h *KeyHolder) additiveShare(set []int) *rlwe.SecretKey {
	p := h.p
	points := make([]mhe.ShamirPublicPoint, len(set))
	for i, j := range set {
		points[i] = shamirPoint(j)
	}
	cmb := mhe.NewCombiner(*p.params.GetRLWEParameters(), shamirPoint(h.index), points, len(set))
	out := rlwe.NewSecretKey(p.params)
	if err := cmb.GenAdditiveShare(points, shamirPoint(h.index), mhe.ShamirSecretShare{Poly: ringqp.Poly{Q: h.share}}, out); err != nil {
		panic("he: combiner: " + err.Error())
	}
	return out
}
