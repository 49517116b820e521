package aggregator

import (
	"encoding/hex"

	"github.com/fedcrypt/fedcrypt/audit"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/internal/transport"
)

// appendAudit writes an audit entry; a failure to write the log is logged
// loudly (the run's evidence is incomplete) but does not stop the run. It
// reports whether the entry was written.
func (a *aggregator) appendAudit(typ string, body any) bool {
	if _, err := a.audit.Append(typ, body); err != nil {
		a.log.Error("audit log write failed", "type", typ, "err", err)
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
func (a *aggregator) signedHead(written bool, typ string, round uint64) transport.AuditHead {
	if !written {
		return transport.AuditHead{}
	}
	h := a.sign(audit.Head{Config: a.hash, Type: typ, Round: round, Entries: a.audit.Len(), Hash: a.audit.Head()})
	if typ == audit.TypeRound || typ == audit.TypeRoundAbandoned {
		a.prev = transport.PrevHead{Completed: typ == audit.TypeRound, Round: round, Head: h}
	}
	return h
}

// sign signs a head for the members.
func (a *aggregator) sign(h audit.Head) transport.AuditHead {
	return transport.AuditHead{Entries: h.Entries, Hash: h.Hash, Sig: audit.SignHead(a.cfg.Identity.SigningKey(), h)}
}

// auditSetup records the federation's setup: who takes part with which
// keys, the threshold, the CKKS preset and the DP settings.
func (a *aggregator) auditSetup(pkDigest []byte) {
	type member struct {
		ID          string `json:"id"`
		Contributor bool   `json:"contributor"`
		KeyHolder   bool   `json:"key_holder"`
		SigningKey  string `json:"signing_key"`
		Recipient   string `json:"recipient"`
	}
	var members []member
	for _, m := range a.fed.Members {
		members = append(members, member{m.ID, m.Contributor, m.KeyHolder, m.SigningKey, m.Recipient})
	}
	body := map[string]any{
		"config_hash":      a.hash.String(),
		"software":         a.cfg.Software,
		"members":          members,
		"threshold":        a.fed.Threshold,
		"min_contributors": a.fed.MinContributors,
		"max_decryptions":  a.fed.MaxDecryptions,
		"he":               a.fed.HE,
		"dp":               a.fed.DP,
		"accountant":       audit.AccountantSettings(a.fed),
		"model":            a.fed.Model,
		"training":         a.fed.Training,
		"schema":           a.fed.Data.Schema,
	}
	if a.params != nil {
		body["he_log_q"] = a.params.LogQ()
		body["he_slots"] = a.params.Slots()
		body["he_flooding_sigma"] = a.params.FloodingSigma()
		body["he_precision_bits"] = a.params.PrecisionBits(len(a.fed.Contributors()), a.fed.Threshold)
		body["he_security"] = audit.SecurityLevel(a.fed.HE)
	}
	if pkDigest != nil {
		body["collective_public_key"] = hex.EncodeToString(pkDigest)
		body["key_epoch"] = a.epoch
		body["decryption_budget"] = a.budget
		body["key_policy"] = a.params.Policy()
	}
	if u := audit.Unprotected(a.fed); len(u) > 0 {
		body["unprotected"] = u
	}
	if l := a.fed.Lineage; l != nil {
		// This version replaces an earlier one: members added or removed.
		body["lineage"] = l
	}
	a.appendAudit(audit.TypeSetup, body)
}

// auditRound records a completed round, and reports whether it did.
// Per-hospital facts are the hospitals' own signed claims, copied verbatim.
func (a *aggregator) auditRound(rep *Round, headers []federation.Header) bool {
	type upload struct {
		From   string `json:"from"`
		Digest string `json:"digest"`
		Claim  []byte `json:"claim"` // the hospital's signed claim envelope, verbatim (base64)
		// Facts is the claim decoded, for people reading the log; the
		// verifier checks it against the signed claim.
		Facts audit.ClaimFacts `json:"facts"`
	}
	var ups []upload
	for _, h := range headers {
		d := h.Digest()
		ups = append(ups, upload{From: h.From, Digest: hex.EncodeToString(d[:]), Claim: rep.SignedClaims[h.From],
			Facts: audit.FactsOf(rep.Claims[h.From])})
	}
	md := modelDigest(a.model)
	return a.appendAudit(audit.TypeRound, map[string]any{
		"round": rep.Number, "attempt": rep.Attempt, "contributors": rep.Included, "declined": rep.Declined,
		"dropped": rep.Dropped, "refused": rep.Refused, "decryption_set": rep.Set, "share_digests": rep.ShareDigests, "uploads": ups,
		"model_digest": hex.EncodeToString(md[:]), "bytes_up": rep.BytesUp, "nonce": hex.EncodeToString(a.nonce),
		"key_epoch": rep.Epoch, "decryption_first": rep.First, "decryption_count": rep.Count,
	})
}
