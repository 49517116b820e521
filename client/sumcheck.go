package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"slices"

	"github.com/fedcrypt/fedcrypt/he"
	"github.com/fedcrypt/fedcrypt/protocol"
	"github.com/fedcrypt/fedcrypt/transport"
)

// A key holder helps decrypt one sum per round, and only the sum of the
// uploads the aggregator names. Before any decryption, the aggregator
// commits to the sum (its digest, the signed headers of the uploads in it,
// the decryption set and the range of the key's decryption budget) and
// sends the commitment to the sum's contributors and to every key holder:
//
//   - each contributor fingerprints its own upload at a seed the commitment
//     fixes and signs the fingerprint (he.Fingerprint: random linear
//     functionals of the ciphertexts' c1 parts, modulo every prime);
//   - each key holder checks the commitment and, if it has endorsed no other
//     sum this round and the range follows every range it endorsed before,
//     seals that fact and signs an endorsement.
//
// A key holder gives its decryption share only with the endorsements of a
// quorum of key holders (federation.Config.EndorsementQuorum: any two
// quorums share an honest key holder, so no second sum of the round can be
// endorsed) and with every named contributor's fingerprint, whose sum must
// equal the fingerprint of the sum it is asked to decrypt: a ciphertext that
// is not the sum of the named uploads (a crafted c1, an extra encryption of
// zero, an upload left out) is refused.

// sumRecord is what a key holder keeps sealed about the sums it endorsed
// and decrypted: the round and nonce of the last endorsement and the sum it
// named, and the ends of the budget ranges it endorsed and decrypted.
type sumRecord struct {
	Round       uint64   `json:"round,omitempty"`
	Nonce       []byte   `json:"nonce,omitempty"`
	SumID       [32]byte `json:"sum_id"`
	EndorsedEnd uint64   `json:"endorsed_end"`
	SharedEnd   uint64   `json:"shared_end"`
}

// onCommit answers the aggregator's commitment to a sum: a contributor
// whose upload it names signs its fingerprint; a key holder endorses it or
// refuses.
func (c *Client) onCommit(ctx context.Context, conn transport.Conn, env *protocol.Envelope) error {
	cm, err := protocol.ParseCommit(env.Body)
	if err != nil {
		return c.refuse(ctx, conn, env, fmt.Sprintf("malformed sum commitment: %v", err))
	}
	if env.Round > c.round && c.me.KeyHolder {
		// Its connection dropped as the round was announced: it cannot
		// endorse a sum of a round it did not see, and says so at once so
		// that the aggregator does not wait for it.
		return c.refuse(ctx, conn, env, fmt.Sprintf("this key holder did not receive round %d's announcement", env.Round))
	}
	if env.Round != c.round || !bytes.Equal(env.Nonce, c.nonce) {
		return nil // for a round this member no longer takes part in
	}
	id := cm.Sum.ID(c.hash, env.Round, env.Nonce)
	if c.upload != nil && slices.ContainsFunc(cm.Sum.Uploads, func(h protocol.Header) bool { return h.Digest() == c.uploadDigest }) {
		if err := c.sendFingerprint(ctx, conn, env, id); err != nil {
			return err
		}
	}
	if !c.me.KeyHolder {
		return nil
	}
	if reason := c.checkCommit(env, &cm, id); reason != "" {
		c.log.Warn("refused to endorse a sum", "round", env.Round, "aggregator", env.From, "reason", reason)
		return c.refuse(ctx, conn, env, reason)
	}
	if c.sums.Round != env.Round || !bytes.Equal(c.sums.Nonce, env.Nonce) || c.sums.SumID != id {
		c.sums.Round, c.sums.Nonce, c.sums.SumID = env.Round, slices.Clone(env.Nonce), id
	}
	c.sums.EndorsedEnd = cm.First + cm.Count
	// The endorsement is sealed before it leaves: after a restart this key
	// holder still endorses no other sum of the round, and no range twice.
	if err := c.saveState(); err != nil {
		return err
	}
	return c.sendBound(ctx, conn, env, protocol.KindEndorse, protocol.EndorsementOf(&cm, id).Marshal())
}

// sendFingerprint signs this contributor's fingerprint of its own upload at
// the seed of the sum id.
func (c *Client) sendFingerprint(ctx context.Context, conn transport.Conn, env *protocol.Envelope, id [32]byte) error {
	fp, err := c.params.Fingerprint(c.upload, protocol.FingerprintSeed(id))
	if err != nil {
		return fmt.Errorf("round %d: fingerprint of this hospital's upload: %w", env.Round, err)
	}
	b, err := fp.MarshalBinary()
	if err != nil {
		return err
	}
	return c.sendBound(ctx, conn, env, protocol.KindFingerprint, protocol.Fingerprint{SumID: id, Value: b}.Marshal())
}

// checkCommit returns why a key holder must not endorse the commitment, or
// "".
func (c *Client) checkCommit(env *protocol.Envelope, cm *protocol.Commit, id [32]byte) string {
	if reason := c.checkSumRef(env, cm, true); reason != "" {
		return reason
	}
	if c.sums.Round == env.Round && bytes.Equal(c.sums.Nonce, env.Nonce) && c.sums.SumID != id {
		return fmt.Sprintf("this key holder already endorsed another sum of round %d: one sum per round is decrypted", env.Round)
	}
	if cm.First < c.sums.EndorsedEnd {
		return fmt.Sprintf("decryption range starts at %d, this key holder endorsed up to %d", cm.First, c.sums.EndorsedEnd)
	}
	return ""
}

// checkSumRef checks what an endorsement and a decryption share both
// depend on: setup done, this round and nonce, the key epoch, a decryption
// set of exactly T distinct key holders, at least
// min-contributors distinct contributors' signed uploads of one kind for
// this round, the sum's length and addends those of such uploads, and a
// budget range of the sum's ciphertexts within the key's budget.
//
// The uploads' signatures are checked when sigs is set: a key holder that
// endorsed this very sum (its ID covers every upload's signed header) has
// checked them already.
func (c *Client) checkSumRef(env *protocol.Envelope, cm *protocol.Commit, sigs bool) string {
	if !c.ready || c.holder == nil {
		return "setup not complete"
	}
	if env.Round != c.round || !bytes.Equal(env.Nonce, c.nonce) {
		return fmt.Sprintf("request for round %d with another nonce than announced", env.Round)
	}
	if cm.Epoch != c.epoch {
		return fmt.Sprintf("key epoch %d, this key holder is in epoch %d", cm.Epoch, c.epoch)
	}
	if len(cm.Set) != c.fed.Threshold {
		return fmt.Sprintf("decryption set of %d key holders, the threshold is %d", len(cm.Set), c.fed.Threshold)
	}
	seen := map[string]bool{}
	for _, id := range cm.Set {
		m, ok := c.fed.Member(id)
		if !ok || !m.KeyHolder || seen[id] {
			return fmt.Sprintf("decryption set names %q, not a distinct key holder", id)
		}
		seen[id] = true
	}
	s := &cm.Sum
	var length int
	switch s.Kind {
	case protocol.KindUpload:
		n, err := c.fed.UploadSize(c.nparams)
		if err != nil {
			return err.Error()
		}
		length = n
	case protocol.KindEvalUp:
		length = c.fed.EvalScores().Len()
	case protocol.KindStatsUp:
		length = c.layout.Len()
	default:
		return fmt.Sprintf("a sum of %q messages", s.Kind)
	}
	contributors := map[string]bool{}
	for i := range s.Uploads {
		h := &s.Uploads[i]
		if !sigs {
			if h.Config != c.hash {
				return fmt.Sprintf("upload %d: not of this federation", i+1)
			}
		} else if err := h.Verify(c.fed, c.hash); err != nil {
			return fmt.Sprintf("upload %d: %v", i+1, err)
		}
		m, ok := c.fed.Member(h.From)
		if h.Kind != s.Kind || !ok || !m.Contributor || h.Round != c.round || !bytes.Equal(h.Nonce, c.nonce) {
			return fmt.Sprintf("upload %d from %q is not a contributor's upload for this round", i+1, h.From)
		}
		if contributors[h.From] {
			return fmt.Sprintf("two uploads from %q", h.From)
		}
		contributors[h.From] = true
	}
	if len(contributors) < c.fed.MinContributors {
		return fmt.Sprintf("the sum names %d signed uploads, fewer than min-contributors %d", len(contributors), c.fed.MinContributors)
	}
	switch {
	case s.Length != uint64(length):
		return fmt.Sprintf("a sum of %d values, this round's %s sums have %d", s.Length, s.Kind, length)
	case s.Addends != uint64(len(s.Uploads)):
		return fmt.Sprintf("a sum of %d addends naming %d uploads", s.Addends, len(s.Uploads))
	case cm.Count != uint64(c.params.Ciphertexts(length)):
		return fmt.Sprintf("a range of %d decryptions for a sum of %d ciphertexts", cm.Count, c.params.Ciphertexts(length))
	case cm.First+cm.Count > c.budget:
		return fmt.Sprintf("the key's decryption budget is spent: range [%d, %d) exceeds its %d decryptions", cm.First, cm.First+cm.Count, c.budget)
	}
	return ""
}

// onDecrypt checks a decryption request and answers with this key holder's
// decryption share, or refuses.
func (c *Client) onDecrypt(ctx context.Context, conn transport.Conn, env *protocol.Envelope) error {
	if !c.me.KeyHolder {
		return nil
	}
	req, err := protocol.ParseDecryptRequest(env.Body)
	if err != nil {
		return c.refuse(ctx, conn, env, fmt.Sprintf("malformed request: %v", err))
	}
	if reason := c.checkDecryptRequest(env, &req); reason != "" {
		c.log.Warn("refused to decrypt", "round", env.Round, "aggregator", env.From, "reason", reason)
		return c.refuse(ctx, conn, env, reason)
	}
	set := make([]int, len(req.Commit.Set))
	for i, id := range req.Commit.Set {
		set[i] = c.fed.Index(id)
	}
	share, err := c.holder.DecryptionShare(req.Sum, set, c.rand)
	if err != nil {
		c.log.Warn("refused to decrypt", "round", env.Round, "err", err)
		return c.refuse(ctx, conn, env, err.Error())
	}
	c.sums.SharedEnd = req.Commit.First + req.Commit.Count
	// The decryption count is part of the secret state: persist it before
	// the share leaves.
	if err := c.saveState(); err != nil {
		return err
	}
	body := protocol.Share{Attempt: req.Attempt, Share: share}.Marshal()
	if err := c.sendBound(ctx, conn, env, protocol.KindShare, body); err != nil {
		return err
	}
	c.took = max(c.took, env.Round)
	return nil
}

// checkDecryptRequest returns why the request must be refused, or "".
func (c *Client) checkDecryptRequest(env *protocol.Envelope, req *protocol.DecryptRequest) string {
	cm := &req.Commit
	id := cm.Sum.ID(c.hash, env.Round, env.Nonce)
	endorsed := c.sums.Round == env.Round && bytes.Equal(c.sums.Nonce, env.Nonce) && c.sums.SumID == id
	if reason := c.checkSumRef(env, cm, !endorsed); reason != "" {
		return reason
	}
	switch {
	case !slices.Contains(cm.Set, c.me.ID):
		return "decryption set does not include this key holder"
	case sha256.Sum256(req.Sum) != cm.Sum.Digest:
		return "the sum sent is not the one committed to"
	case c.sums.Round == env.Round && bytes.Equal(c.sums.Nonce, env.Nonce) && c.sums.SumID != id:
		return fmt.Sprintf("this key holder endorsed another sum of round %d: one sum per round is decrypted", env.Round)
	case cm.First < c.sums.SharedEnd:
		return fmt.Sprintf("decryption range starts at %d, this key holder decrypted up to %d", cm.First, c.sums.SharedEnd)
	}
	n, addends, err := c.params.UpdateLen(req.Sum)
	if err != nil {
		return fmt.Sprintf("the sum: %v", err)
	}
	if uint64(n) != cm.Sum.Length || uint64(addends) != cm.Sum.Addends {
		return fmt.Sprintf("the sum holds %d values of %d addends, the commitment says %d of %d", n, addends, cm.Sum.Length, cm.Sum.Addends)
	}
	if reason := c.checkEndorsements(env, cm, id, req.Endorsements); reason != "" {
		return reason
	}
	return c.checkFingerprints(env, cm, id, req.Sum, req.Fingerprints)
}

// checkEndorsements checks that a quorum of distinct key holders signed the
// commitment's endorsement for this round.
func (c *Client) checkEndorsements(env *protocol.Envelope, cm *protocol.Commit, id [32]byte, signed [][]byte) string {
	want := protocol.EndorsementOf(cm, id)
	endorsers := map[string]bool{}
	for i, raw := range signed {
		e, err := c.openBound(raw, env, protocol.KindEndorse)
		if err != nil {
			return fmt.Sprintf("endorsement %d: %v", i+1, err)
		}
		if m, _ := c.fed.Member(e.From); !m.KeyHolder {
			return fmt.Sprintf("endorsement %d from %q, not a key holder", i+1, e.From)
		}
		got, err := protocol.ParseEndorsement(e.Body)
		if err != nil {
			return fmt.Sprintf("endorsement %d from %q: %v", i+1, e.From, err)
		}
		if !got.Equal(want) {
			return fmt.Sprintf("endorsement %d from %q endorses another sum, set or range", i+1, e.From)
		}
		endorsers[e.From] = true
	}
	if q := c.fed.EndorsementQuorum(); len(endorsers) < q {
		return fmt.Sprintf("the sum is endorsed by %d key holders, fewer than the quorum %d", len(endorsers), q)
	}
	return ""
}

// checkFingerprints checks that every named upload's contributor signed a
// fingerprint at the sum's seed and that they add up to the sum's own.
func (c *Client) checkFingerprints(env *protocol.Envelope, cm *protocol.Commit, id [32]byte, sum []byte, signed [][]byte) string {
	uploads := cm.Sum.Uploads
	if len(signed) != len(uploads) {
		return fmt.Sprintf("%d fingerprints for %d uploads", len(signed), len(uploads))
	}
	var total he.Fingerprint
	for i, raw := range signed {
		e, err := c.openBound(raw, env, protocol.KindFingerprint)
		if err != nil {
			return fmt.Sprintf("fingerprint %d: %v", i+1, err)
		}
		if e.From != uploads[i].From {
			return fmt.Sprintf("fingerprint %d is from %q, upload %d from %q", i+1, e.From, i+1, uploads[i].From)
		}
		f, err := protocol.ParseFingerprint(e.Body)
		if err != nil {
			return fmt.Sprintf("fingerprint from %q: %v", e.From, err)
		}
		if f.SumID != id {
			return fmt.Sprintf("fingerprint from %q is for another sum", e.From)
		}
		fp, err := c.params.UnmarshalFingerprint(f.Value)
		if err != nil {
			return fmt.Sprintf("fingerprint from %q: %v", e.From, err)
		}
		if i == 0 {
			total = fp
		} else if total, err = total.Add(fp); err != nil {
			return fmt.Sprintf("fingerprint from %q: %v", e.From, err)
		}
	}
	got, err := c.params.Fingerprint(sum, protocol.FingerprintSeed(id))
	if err != nil {
		return fmt.Sprintf("the sum: %v", err)
	}
	if !got.Equal(total) {
		return "the sum is not the sum of the uploads it names: its fingerprint differs from the contributors'"
	}
	return ""
}

// openBound parses and verifies a member's signed message relayed by the
// aggregator: of the given kind, signed under the key the config lists for
// its sender, bound to this federation and to the request's round and
// nonce.
func (c *Client) openBound(raw []byte, req *protocol.Envelope, kind string) (*protocol.Envelope, error) {
	e, err := protocol.ParseEnvelope(raw)
	if err != nil {
		return nil, err
	}
	if e.Kind != kind || e.Round != req.Round || !bytes.Equal(e.Nonce, req.Nonce) {
		return nil, fmt.Errorf("a %s from %q for round %d, not a %s of this round", e.Kind, e.From, e.Round, kind)
	}
	if err := e.Verify(c.fed, c.hash); err != nil {
		return nil, err
	}
	return e, nil
}
