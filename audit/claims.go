package audit

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/fedcrypt/fedcrypt/dp"
	"github.com/fedcrypt/fedcrypt/protocol"
)

// ClaimTolerance is the relative slack allowed between a claimed ε and the
// recomputed one, and above the cap: the accountants are deterministic, so
// only floating-point rounding separates an honest claim from the
// recomputation.
const ClaimTolerance = 1e-9

// MinNoiseMultiplier is the smallest claimed noise multiplier whose ε
// [VerifyRun] recomputes; a claim below it fails (its ε is far above any
// cap a federation sets).
const MinNoiseMultiplier = 0.01

func (v *verifier) round(e *Entry, n int) error {
	var b RoundBody
	if err := e.DecodeBody(&b); err != nil {
		return err
	}
	if b.Round <= v.last {
		return fail(n, "round %d after round %d (rounds out of order or repeated)", b.Round, v.last)
	}
	rf := RoundFacts{Entry: n, Round: b.Round, Attempt: b.Attempt, Completed: true, Contributors: b.Contributors,
		Declined: b.Declined, Dropped: b.Dropped, DecryptionSet: b.DecryptionSet, ModelDigest: b.ModelDigest, BytesUp: b.BytesUp}
	if len(b.Uploads) != len(b.Contributors) {
		return fail(n, "round %d: %d uploads for %d contributors", b.Round, len(b.Uploads), len(b.Contributors))
	}
	if len(b.Uploads) < v.fed.MinContributors {
		return fail(n, "round %d: %d uploads, fewer than min-contributors %d", b.Round, len(b.Uploads), v.fed.MinContributors)
	}
	if err := v.decryptionSet(b.DecryptionSet); err != nil {
		return fail(n, "round %d: decryption set: %v", b.Round, err)
	}
	if v.fed.HE.Enabled && b.DecryptionCount == 0 {
		return fail(n, "round %d: no decryption range of the key's budget", b.Round)
	}
	if err := v.decryptions(n, b.Round, b.KeyEpoch, b.DecryptionFirst, b.DecryptionCount); err != nil {
		return err
	}
	if b.Nonce != "" {
		if v.nonces[b.Nonce] {
			return fail(n, "round %d: nonce %s already used (a round replayed)", b.Round, b.Nonce)
		}
		v.nonces[b.Nonce] = true
	}
	seen := map[string]bool{}
	for _, u := range b.Uploads {
		if seen[u.From] {
			return fail(n, "round %d: two uploads from %q", b.Round, u.From)
		}
		seen[u.From] = true
		if !slices.Contains(b.Contributors, u.From) {
			return fail(n, "round %d: upload from %q, who is not among the contributors", b.Round, u.From)
		}
		c, err := v.claim(UploadClaim{From: u.From, Claim: u.Claim}, b.Round, b.Nonce)
		if err != nil {
			return fail(n, "round %d: %s's claim: %v", b.Round, u.From, err)
		}
		if u.Facts != nil && *u.Facts != FactsOf(c) {
			return fail(n, "round %d: %s's decoded facts differ from its signed claim", b.Round, u.From)
		}
		rf.Uploads = append(rf.Uploads, UploadFacts{From: u.From, Digest: u.Digest, PayloadDigest: hex.EncodeToString(c.PayloadDigest[:]),
			Dataset: hex.EncodeToString(c.Dataset[:])})
		if err := v.spend(u.From, b.Round, c); err != nil {
			return fail(n, "round %d: hospital %q: %v", b.Round, u.From, err)
		}
	}
	v.last = b.Round
	v.run.Rounds = append(v.run.Rounds, rf)
	return nil
}

func (v *verifier) decryptionSet(set []string) error {
	if !v.fed.HE.Enabled {
		if len(set) != 0 {
			return errors.New("a run without encryption names a decryption set")
		}
		return nil
	}
	if len(set) != v.fed.Threshold {
		return fmt.Errorf("%d key holders, the threshold is %d", len(set), v.fed.Threshold)
	}
	for i, id := range set {
		if m, ok := v.fed.Member(id); !ok || !m.KeyHolder {
			return fmt.Errorf("%q is not a key holder", id)
		}
		if slices.Contains(set[:i], id) {
			return fmt.Errorf("%q named twice", id)
		}
	}
	return nil
}

// openClaim parses an upload's signed claim and checks it is a claim of
// this federation, signed by the contributor named, for this round and
// (when the entry records one) nonce. A log written by an earlier release
// keeps claims of an earlier protocol version, read as stored messages.
func (v *verifier) openClaim(u UploadClaim, round uint64, nonce string) (protocol.Claim, error) {
	var zero protocol.Claim
	env, err := protocol.ParseStored(u.Claim)
	if err != nil {
		return zero, err
	}
	if env.Kind != protocol.KindClaim || env.From != u.From || env.Round != round {
		return zero, fmt.Errorf("a %s from %q for round %d, not %s's claim for round %d", env.Kind, env.From, env.Round, u.From, round)
	}
	if nonce != "" && hex.EncodeToString(env.Nonce) != nonce {
		return zero, errors.New("bound to another attempt's nonce")
	}
	if m, ok := v.fed.Member(u.From); !ok || !m.Contributor {
		return zero, errors.New("not a contributor of this federation")
	}
	if err := env.Verify(v.fed, v.hash); err != nil {
		return zero, err
	}
	c, err := protocol.ParseClaim(env.Body)
	if err != nil {
		return zero, err
	}
	// A hospital's ledger only grows: a claim at a version no later than
	// an earlier claim's was made from a ledger restored from an older
	// copy, which spends again budget already spent.
	if c.DP.Enabled {
		if prev := v.ledgers[u.From]; c.LedgerVersion <= prev {
			return zero, fmt.Errorf("ledger version %d after version %d in an earlier claim: the hospital's ledger was restored from an older copy", c.LedgerVersion, prev)
		}
		v.ledgers[u.From] = c.LedgerVersion
	}
	return c, nil
}

// claim opens an upload's signed claim and checks it against the config.
func (v *verifier) claim(u UploadClaim, round uint64, nonce string) (protocol.Claim, error) {
	var zero protocol.Claim
	c, err := v.openClaim(u, round, nonce)
	if err != nil {
		return zero, err
	}
	if err := v.trainedWith(c); err != nil {
		return zero, err
	}
	d := v.fed.DP
	switch {
	case c.Encrypted != v.fed.HE.Enabled:
		return zero, fmt.Errorf("encrypted %v, the federation says %v", c.Encrypted, v.fed.HE.Enabled)
	case c.Weight != v.fed.Weight(u.From):
		return zero, fmt.Errorf("weight %v, the federation declares %v", c.Weight, v.fed.Weight(u.From))
	case c.DP.Enabled != d.Enabled:
		return zero, fmt.Errorf("DP %v, the federation says %v", c.DP.Enabled, d.Enabled)
	case !d.Enabled:
		return c, nil
	case c.DP.Accountant != d.Accountant || c.DP.Delta != d.Delta:
		return zero, fmt.Errorf("accountant %q at δ %g, the federation uses %q at δ %g", c.DP.Accountant, c.DP.Delta, d.Accountant, d.Delta)
	case c.DP.SampleRate != d.SampleRate || c.DP.ClipNorm != d.ClipNorm:
		return zero, fmt.Errorf("sample rate %g and clip norm %g, the federation sets %g and %g", c.DP.SampleRate, c.DP.ClipNorm, d.SampleRate, d.ClipNorm)
	case c.DP.PrivacyUnit != d.PrivacyUnit:
		return zero, fmt.Errorf("privacy unit %q, the federation sets %q", c.DP.PrivacyUnit, d.PrivacyUnit)
	case c.DP.Steps < 1 || c.DP.Steps > math.MaxInt32:
		return zero, fmt.Errorf("%d steps", c.DP.Steps)
	}
	return c, nil
}

// spend adds a round's claimed DP-SGD to the hospital's events, recomputes
// its ε and compares it with the claim and the cap.
func (v *verifier) spend(id string, round uint64, c protocol.Claim) error {
	h := v.run.hospital(id)
	s := Spend{Round: round, Claimed: c.DP.Epsilon, NoiseMultiplier: c.DP.NoiseMultiplier, SampleRate: c.DP.SampleRate,
		Steps: int(c.DP.Steps), ClipNorm: c.DP.ClipNorm, LedgerVersion: c.LedgerVersion}
	if !c.DP.Enabled {
		// No guarantee: the run says so (Run.DP false); the spend
		// records only that the hospital contributed.
		h.Spends = append(h.Spends, Spend{Round: round})
		return nil
	}
	ev := dp.Event{SampleRate: c.DP.SampleRate, NoiseMultiplier: c.DP.NoiseMultiplier, Steps: int(c.DP.Steps)}
	if err := ev.Validate(); err != nil {
		return err
	}
	if ev.NoiseMultiplier < MinNoiseMultiplier {
		// ε falls as σ grows, so ε at the floor is a lower bound on the
		// claimed step's ε; the accountant is slow on vanishing σ.
		ev.NoiseMultiplier = MinNoiseMultiplier
		lo, err := dp.Epsilon(v.acct, v.fed.DP.Delta, append(slices.Clone(v.events[id]), ev)...)
		if err == nil && lo > h.Cap*(1+ClaimTolerance) {
			return fmt.Errorf("noise multiplier %g gives ε above %.6g, over its cap %g", c.DP.NoiseMultiplier, lo, h.Cap)
		}
		return fmt.Errorf("noise multiplier %g is below %g: no meaningful guarantee", c.DP.NoiseMultiplier, MinNoiseMultiplier)
	}
	v.events[id] = append(v.events[id], ev)
	eps, err := dp.Epsilon(v.acct, v.fed.DP.Delta, v.events[id]...)
	if err != nil {
		return fmt.Errorf("recompute ε: %w", err)
	}
	s.Recomputed = eps
	h.Spends = append(h.Spends, s)
	switch {
	case eps > h.Cap*(1+ClaimTolerance):
		return fmt.Errorf("ε %.6g recomputed with the %s accountant exceeds its cap %g (it claims %.6g)", eps, v.acct.Kind, h.Cap, c.DP.Epsilon)
	case c.DP.Epsilon < eps*(1-ClaimTolerance):
		return fmt.Errorf("claims ε %.6g, the %s accountant gives %.6g for its %d rounds' DP-SGD (ε under-reported)", c.DP.Epsilon, v.acct.Kind, eps, len(h.Spends))
	case c.DP.Epsilon > h.Cap*(1+ClaimTolerance):
		return fmt.Errorf("claims ε %.6g, over its cap %g", c.DP.Epsilon, h.Cap)
	}
	return nil
}

// trainedWith checks that a training or evaluation claim names the
// federation's transforms, those the statistics entry before it records
// (federation.TransformDigest: the numeric transform's digest, combined
// with the text featurization's with a text column): every hospital
// trained on one feature space.
func (v *verifier) trainedWith(c protocol.Claim) error {
	st := v.run.Statistics
	switch {
	case st == nil:
		return errors.New("a claim before the statistics phase: no federation transform to train with")
	case c.Transform != st.trained:
		return fmt.Errorf("trained with transform %x…, not the federation's (statistics entry %d)", c.Transform[:4], st.Entry)
	}
	return nil
}
