package aggregator

import (
	"encoding/hex"

	"github.com/fedcrypt/fedcrypt/audit"
	"github.com/fedcrypt/fedcrypt/protocol"
)

// appendAudit writes an audit entry of body's type; a failure to write the
// log is logged loudly (the run's evidence is incomplete) but does not stop
// the run. It reports whether the entry was written.
func (a *aggregator) appendAudit(body audit.Body) bool {
	if _, err := a.audit.Append(body.EntryType(), body); err != nil {
		a.log.Error("audit log write failed", "type", body.EntryType(), "err", err)
		return false
	}
	return true
}

// signedHead is the aggregator's signed statement of the log's head after
// the entry of type typ just written, reporting round: what members keep
// as witnesses of the log. The zero value when the entry was not written,
// since there is no head to sign for it. The head of a round or
// round-abandoned entry also becomes the one every later announcement
// repeats (a.prev).
func (a *aggregator) signedHead(written bool, typ string, round uint64) protocol.AuditHead {
	if !written {
		return protocol.AuditHead{}
	}
	h := a.sign(audit.Head{Config: a.hash, Type: typ, Round: round, Entries: a.audit.Len(), Hash: a.audit.Head()})
	if typ == audit.TypeRound || typ == audit.TypeRoundAbandoned {
		a.prev = protocol.PrevHead{Completed: typ == audit.TypeRound, Round: round, Head: h}
	}
	return h
}

// decryption is how the round's sum was decrypted, for its audit entry.
func (r *Round) decryption() audit.Decryption {
	return audit.Decryption{DecryptionSet: r.Set, KeyEpoch: r.Epoch, DecryptionFirst: r.First, DecryptionCount: r.Count}
}

// sign signs a head for the members.
func (a *aggregator) sign(h audit.Head) protocol.AuditHead {
	return protocol.AuditHead{Entries: h.Entries, Hash: h.Hash, Sig: audit.SignHead(a.cfg.Identity.SigningKey(), h)}
}

// auditSetup records the federation's setup: who takes part with which
// keys, the threshold, the CKKS preset and the DP settings.
func (a *aggregator) auditSetup(pkDigest []byte) {
	acct := audit.AccountantSettings(a.fed)
	body := audit.SetupBody{ConfigHash: a.hash.String(), Software: a.cfg.Software,
		Threshold: a.fed.Threshold, MinContributors: a.fed.MinContributors, MaxDecryptions: a.fed.MaxDecryptions,
		HE: a.fed.HE, DP: a.fed.DP, Model: a.fed.Model, SparseModel: a.fed.SparseModel, Training: a.fed.Training, Schema: a.fed.Data.Schema,
		Accountant: &acct, Unprotected: audit.Unprotected(a.fed), Lineage: a.fed.Lineage}
	for _, m := range a.fed.Members {
		body.Members = append(body.Members, audit.SetupMember{ID: m.ID, Contributor: m.Contributor, KeyHolder: m.KeyHolder,
			SigningKey: m.SigningKey, Recipient: m.Recipient})
	}
	if a.params != nil {
		body.HELogQ, body.HESlots, body.HEFloodingSigma = a.params.LogQ(), a.params.Slots(), a.params.FloodingSigma()
		body.HEPrecisionBits = a.params.PrecisionBits(len(a.fed.Contributors()), a.fed.Threshold)
		body.HESecurity = audit.SecurityLevel(a.fed.HE)
	}
	if pkDigest != nil {
		kp := a.params.Policy()
		body.CollectiveKey, body.KeyEpoch, body.DecryptionBudget, body.KeyPolicy = hex.EncodeToString(pkDigest), a.epoch, a.budget, &kp
	}
	a.appendAudit(body)
}

// auditRound records a completed round, and reports whether it did.
// Per-hospital facts are the hospitals' own signed claims, copied verbatim.
func (a *aggregator) auditRound(rep *Round, headers []protocol.Header) bool {
	md := modelDigest(a.model)
	body := audit.RoundBody{Round: rep.Number, Attempt: rep.Attempt, Contributors: rep.Included, Declined: rep.Declined,
		Dropped: rep.Dropped, Refused: rep.Refused, Decryption: rep.decryption(), ShareDigests: rep.ShareDigests,
		ModelDigest: hex.EncodeToString(md[:]), BytesUp: rep.BytesUp, Nonce: hex.EncodeToString(a.nonce)}
	for _, h := range headers {
		d := h.Digest()
		facts := audit.FactsOf(rep.Claims[h.From])
		body.Uploads = append(body.Uploads, audit.RoundUpload{From: h.From, Digest: hex.EncodeToString(d[:]),
			Claim: rep.SignedClaims[h.From], Facts: &facts})
	}
	return a.appendAudit(body)
}
