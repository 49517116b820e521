package bench

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/he"
	"github.com/fedcrypt/fedcrypt/protocol"
	"github.com/fedcrypt/fedcrypt/vault"
)

// KeyHolderCheck is one key holder's download and verification work for a
// round's sum, measured on real messages: every party's ed25519 key, every
// contributor's signed upload header and fingerprint envelope, q
// endorsements, and a real encrypted sum of `Hospitals` uploads.
type KeyHolderCheck struct {
	KeyHolderBytes
	// VerifySeconds is the sum of the best times of the parts below: what
	// a key holder of the decryption set spends checking one round besides
	// computing its share.
	VerifySeconds float64     `json:"verify_seconds"`
	Verify        VerifyParts `json:"verify"`
	// Command reproduces the figure.
	Command string `json:"command"`
}

// VerifyParts splits a key holder's checks (client/sumcheck.go), in
// seconds, best of the repetitions.
type VerifyParts struct {
	// Envelopes: parse and verify the aggregator's commitment and request
	// envelopes; the request's signature covers the SHA-256 of its body,
	// the sum included.
	Envelopes float64 `json:"envelopes_s"`
	// Headers: every contributor's signed upload header (ed25519), checked
	// on the commitment and again on the request, 2 × Hospitals.
	Headers float64 `json:"headers_s"`
	// Fingerprints: every contributor's signed fingerprint envelope,
	// verified, decoded and added.
	Fingerprints float64 `json:"fingerprints_s"`
	// Endorsements: Quorum key holders' signed endorsements.
	Endorsements float64 `json:"endorsements_s"`
	// Sum: the sum's digest against the commitment, its header, and he's
	// Fingerprint of it compared with the contributors' total.
	Sum float64 `json:"sum_s"`
}

// VerifyCosts are per-item costs of a key holder's checks: what [NewPlan]
// estimates verification time from. A signed item costs its base cost plus
// PerMemberNs for each member of the federation: federation.Config's
// SigningKey and Member scan (and SigningKey copies) the member list for
// every signature checked, so at 1,000 members that term dominates.
type VerifyCosts struct {
	HeaderUs      float64 `json:"header_us"`      // one signed upload header, few members
	FingerprintUs float64 `json:"fingerprint_us"` // one fingerprint envelope, few members
	EndorsementUs float64 `json:"endorsement_us"` // one endorsement envelope, few members
	PerMemberNs   float64 `json:"per_member_ns"`  // added to each signed item per member
	SumMsPerCt    float64 `json:"sum_ms_per_ct"`  // envelopes and sum checks, per ciphertext of the sum
	Measured      string  `json:"measured_on"`    // the cases they come from
	Command       string  `json:"command"`        // reproduces them
}

// Seconds is the estimated time of a key holder's checks for the download
// k in a federation of k.Hospitals members.
func (v VerifyCosts) Seconds(k KeyHolderBytes) float64 {
	m := v.PerMemberNs / 1e3 * float64(k.Hospitals)
	return (float64(2*k.Hospitals)*(v.HeaderUs+m)+float64(k.Hospitals)*(v.FingerprintUs+m)+float64(k.Quorum)*(v.EndorsementUs+m))/1e6 +
		float64(k.Ciphertexts)*v.SumMsPerCt/1e3
}

// sumCheckRound is one round's messages to a key holder, built with real
// keys and ciphertexts.
type sumCheckRound struct {
	fed             *federation.Config
	hash            federation.Hash
	p               *he.Params
	commit, request []byte
}

// newSumCheckRound builds the commitment and decryption request of a round
// in which `hospitals` contributors each upload one encrypted vector of
// `params` values, K = keyHolders and threshold T. Every contributor
// uploads the same ciphertext (the check's cost does not depend on the
// values); the sum is built by doubling, its addends `hospitals`.
func newSumCheckRound(params, hospitals, keyHolders, threshold int) (*sumCheckRound, error) {
	bare, err := he.Preset(he.PresetPrecise)
	if err != nil {
		return nil, err
	}
	kp := he.KeyPolicy{KeyHolders: keyHolders, Contributors: hospitals}
	kp.Decryptions = bare.MaxDecryptions(kp)
	p, err := bare.WithPolicy(kp)
	if err != nil {
		return nil, err
	}
	fed := &federation.Config{Threshold: threshold, HE: federation.HE{Enabled: true, Preset: DefaultPreset}}
	keys := map[string]ed25519.PrivateKey{}
	party := func(id string) (federation.Party, error) {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		keys[id] = priv
		return federation.Party{ID: id, SigningKey: vault.FormatSigningKey(pub)}, err
	}
	if fed.Aggregator, err = party(aggregatorID); err != nil {
		return nil, err
	}
	for i := range hospitals {
		pt, err := party(memberID(i))
		if err != nil {
			return nil, err
		}
		fed.Members = append(fed.Members, federation.Member{Party: pt, Contributor: true, KeyHolder: i < keyHolders})
	}
	r := &sumCheckRound{fed: fed, hash: fed.Hash(), p: p}
	nonce := make([]byte, nonceLen)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	sign := func(kind, from string, body []byte) *protocol.Envelope {
		e := &protocol.Envelope{Kind: kind, From: from, Config: r.hash, Round: 1, Nonce: nonce, Body: body}
		e.Sign(keys[from])
		return e
	}
	wire := func(e *protocol.Envelope) []byte { b, _ := e.MarshalBinary(); return b }

	_, pk, err := keySetup(p, 2, 2)
	if err != nil {
		return nil, fmt.Errorf("key setup: %w", err)
	}
	u, err := he.Encrypt(pk, uniform(params, 1), rand.Reader)
	if err != nil {
		return nil, err
	}
	sumBytes, err := sumOfCopies(p, u, hospitals)
	if err != nil {
		return nil, err
	}
	quorum, set := sumCheckShape(hospitals, keyHolders, threshold)
	ref := protocol.SumRef{Kind: protocol.KindUpload, Length: uint64(params), Addends: uint64(hospitals), Digest: sha256.Sum256(sumBytes)}
	for i := range hospitals {
		// The upload's body is not the key holder's to see: only its digest
		// is signed, so a short body signs the same header.
		ref.Uploads = append(ref.Uploads, sign(protocol.KindUpload, memberID(i), []byte(memberID(i))).Header())
	}
	id := ref.ID(r.hash, 1, nonce)
	fp, err := p.Fingerprint(u, protocol.FingerprintSeed(id))
	if err != nil {
		return nil, err
	}
	fpb, err := fp.MarshalBinary()
	if err != nil {
		return nil, err
	}
	cm := protocol.Commit{Sum: ref, Set: set, Count: uint64(p.Ciphertexts(params))}
	req := protocol.DecryptRequest{Attempt: 1, Commit: cm, Sum: sumBytes}
	for i := range hospitals {
		body := protocol.Fingerprint{SumID: id, Value: fpb}.Marshal()
		req.Fingerprints = append(req.Fingerprints, wire(sign(protocol.KindFingerprint, memberID(i), body)))
	}
	for _, h := range fed.KeyHolders()[:quorum] {
		req.Endorsements = append(req.Endorsements, wire(sign(protocol.KindEndorse, h, protocol.EndorsementOf(&cm, id).Marshal())))
	}
	r.commit = wire(sign(protocol.KindCommit, aggregatorID, cm.Marshal()))
	r.request = wire(sign(protocol.KindDecrypt, aggregatorID, req.Marshal()))
	return r, nil
}

// sumOfCopies returns the marshalled sum of n copies of the upload u, by
// doubling: about 2·log₂ n additions instead of n.
func sumOfCopies(p *he.Params, u []byte, n int) ([]byte, error) {
	acc, pow := he.NewSum(p), u
	for k := n; k > 0; k >>= 1 {
		if k&1 == 1 {
			if err := acc.Add(pow); err != nil {
				return nil, err
			}
		}
		if k > 1 {
			d := he.NewSum(p)
			if err := errors.Join(d.Add(pow), d.Add(pow)); err != nil {
				return nil, err
			}
			var err error
			if pow, err = d.MarshalBinary(); err != nil {
				return nil, err
			}
		}
	}
	return acc.MarshalBinary()
}

// check does what a key holder of the decryption set does with the round's
// messages before it computes its share (client.onCommit and
// client.checkDecryptRequest), timing each part; it fails if any check
// does.
func (r *sumCheckRound) check(parts *VerifyParts) error {
	var t time.Time
	lap := func(dst *float64) { *dst = time.Since(t).Seconds(); t = time.Now() }
	t = time.Now()
	var envs [2]*protocol.Envelope
	for i, raw := range [][]byte{r.commit, r.request} {
		e, err := protocol.ParseEnvelope(raw)
		if err != nil {
			return err
		}
		if err := e.Verify(r.fed, r.hash); err != nil {
			return err
		}
		envs[i] = e
	}
	cm, err := protocol.ParseCommit(envs[0].Body)
	if err != nil {
		return err
	}
	req, err := protocol.ParseDecryptRequest(envs[1].Body)
	if err != nil {
		return err
	}
	lap(&parts.Envelopes)
	for _, c := range []*protocol.Commit{&cm, &req.Commit} {
		if err := r.checkUploads(c, envs[1]); err != nil {
			return err
		}
	}
	lap(&parts.Headers)
	id := req.Commit.Sum.ID(r.hash, envs[1].Round, envs[1].Nonce)
	want := protocol.EndorsementOf(&req.Commit, id)
	for _, raw := range req.Endorsements {
		e, err := r.open(raw, envs[1], protocol.KindEndorse)
		if err != nil {
			return err
		}
		got, err := protocol.ParseEndorsement(e.Body)
		if m, _ := r.fed.Member(e.From); err != nil || !m.KeyHolder || !got.Equal(want) {
			return fmt.Errorf("endorsement from %q: %v", e.From, err)
		}
	}
	lap(&parts.Endorsements)
	var total he.Fingerprint
	for i, raw := range req.Fingerprints {
		e, err := r.open(raw, envs[1], protocol.KindFingerprint)
		if err != nil {
			return err
		}
		f, err := protocol.ParseFingerprint(e.Body)
		if err != nil || f.SumID != id || e.From != req.Commit.Sum.Uploads[i].From {
			return fmt.Errorf("fingerprint from %q: %v", e.From, err)
		}
		fp, err := r.p.UnmarshalFingerprint(f.Value)
		if err != nil {
			return err
		}
		if i == 0 {
			total = fp
		} else if total, err = total.Add(fp); err != nil {
			return err
		}
	}
	lap(&parts.Fingerprints)
	if sha256.Sum256(req.Sum) != req.Commit.Sum.Digest {
		return errors.New("the sum is not the one committed to")
	}
	if n, a, err := r.p.UpdateLen(req.Sum); err != nil || uint64(n) != req.Commit.Sum.Length || uint64(a) != req.Commit.Sum.Addends {
		return fmt.Errorf("the sum: %d values of %d addends: %v", n, a, err)
	}
	got, err := r.p.Fingerprint(req.Sum, protocol.FingerprintSeed(id))
	if err != nil {
		return err
	}
	if !got.Equal(total) {
		return errors.New("the sum's fingerprint differs from the contributors'")
	}
	lap(&parts.Sum)
	return nil
}

// checkUploads checks the commitment's signed upload headers: each signed
// by a distinct contributor for this round.
func (r *sumCheckRound) checkUploads(c *protocol.Commit, env *protocol.Envelope) error {
	seen := map[string]bool{}
	for i := range c.Sum.Uploads {
		h := &c.Sum.Uploads[i]
		if err := h.Verify(r.fed, r.hash); err != nil {
			return err
		}
		m, ok := r.fed.Member(h.From)
		if !ok || !m.Contributor || seen[h.From] || h.Round != env.Round || !bytes.Equal(h.Nonce, env.Nonce) {
			return fmt.Errorf("upload %d from %q", i+1, h.From)
		}
		seen[h.From] = true
	}
	return nil
}

// open parses and verifies a member's signed message relayed in req.
func (r *sumCheckRound) open(raw []byte, req *protocol.Envelope, kind string) (*protocol.Envelope, error) {
	e, err := protocol.ParseEnvelope(raw)
	if err != nil {
		return nil, err
	}
	if e.Kind != kind || e.Round != req.Round || !bytes.Equal(e.Nonce, req.Nonce) {
		return nil, fmt.Errorf("a %s from %q, not a %s of this round", e.Kind, e.From, kind)
	}
	return e, e.Verify(r.fed, r.hash)
}

// measureKeyHolder builds a round's messages and times a key holder's
// checks reps times, each part's best kept.
func measureKeyHolder(ctx context.Context, params, hospitals, reps int) (KeyHolderCheck, error) {
	k, t := min(hospitals, 16), 3
	r, err := newSumCheckRound(params, hospitals, k, t)
	if err != nil {
		return KeyHolderCheck{}, fmt.Errorf("%d hospitals, %d params: %w", hospitals, params, err)
	}
	c := KeyHolderCheck{KeyHolderBytes: KeyHolderBytes{Hospitals: hospitals, KeyHolders: k, Threshold: t,
		Params: params, Ciphertexts: r.p.Ciphertexts(params), SumBytes: r.p.UpdateSize(params),
		CommitBytes: len(r.commit), RequestBytes: len(r.request)},
		Command: fmt.Sprintf("fedcrypt bench --json  # key_holder: hospitals %d, params %d", hospitals, params)}
	c.Quorum, _ = sumCheckShape(hospitals, k, t)
	c.fill()
	best := VerifyParts{Envelopes: 1e9, Headers: 1e9, Fingerprints: 1e9, Endorsements: 1e9, Sum: 1e9}
	for range max(1, reps) {
		if err := ctx.Err(); err != nil {
			return c, err
		}
		var v VerifyParts
		if err := r.check(&v); err != nil {
			return c, fmt.Errorf("%d hospitals, %d params: key holder check: %w", hospitals, params, err)
		}
		best = VerifyParts{min(best.Envelopes, v.Envelopes), min(best.Headers, v.Headers), min(best.Fingerprints, v.Fingerprints),
			min(best.Endorsements, v.Endorsements), min(best.Sum, v.Sum)}
	}
	c.Verify = best
	c.VerifySeconds = best.Envelopes + best.Headers + best.Fingerprints + best.Endorsements + best.Sum
	return c, nil
}

// verifyCosts derives per-item costs from measured cases, the smallest of
// each.
func verifyCosts(cases []KeyHolderCheck, command string) VerifyCosts {
	var v VerifyCosts
	if len(cases) == 0 {
		return v
	}
	// Per signed item, the smallest at the fewest and at the most members.
	lo, hi := cases[0].Hospitals, cases[0].Hospitals
	for _, c := range cases {
		lo, hi = min(lo, c.Hospitals), max(hi, c.Hospitals)
	}
	perItem := func(n int) float64 {
		best := math.Inf(1)
		for _, c := range cases {
			if c.Hospitals == n {
				items := float64(3*c.Hospitals + c.Quorum)
				best = min(best, (c.Verify.Headers+c.Verify.Fingerprints+c.Verify.Endorsements)/items*1e9)
			}
		}
		return best
	}
	if hi > lo {
		v.PerMemberNs = max(0, (perItem(hi)-perItem(lo))/float64(hi-lo))
	}
	first := true
	v.SumMsPerCt = math.Inf(1)
	for _, c := range cases {
		v.Measured += fmt.Sprintf("%d hospitals × %d params; ", c.Hospitals, c.Params)
		v.SumMsPerCt = min(v.SumMsPerCt, (c.Verify.Envelopes+c.Verify.Sum)/float64(c.Ciphertexts)*1e3)
		if c.Hospitals != lo {
			continue
		}
		m := v.PerMemberNs / 1e3 * float64(c.Hospitals)
		h := c.Verify.Headers/float64(2*c.Hospitals)*1e6 - m
		f := c.Verify.Fingerprints/float64(c.Hospitals)*1e6 - m
		e := c.Verify.Endorsements/float64(c.Quorum)*1e6 - m
		if first {
			v.HeaderUs, v.FingerprintUs, v.EndorsementUs, first = h, f, e, false
		}
		v.HeaderUs, v.FingerprintUs, v.EndorsementUs = min(v.HeaderUs, h), min(v.FingerprintUs, f), min(v.EndorsementUs, e)
	}
	v.Measured = strings.TrimSuffix(v.Measured, "; ")
	v.Command = command
	return v
}
