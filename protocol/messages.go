package protocol

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"math"
)

// Message kinds, the Kind of a [Envelope].
const (
	KindHello    = "hello"       // member → aggregator: I am here
	KindSetup    = "setup"       // aggregator → members: start the key ceremony
	KindPKShare  = "pk-share"    // key holder → aggregator: collective-public-key share
	KindPKShares = "pk-shares"   // aggregator → members: every key holder's signed share, relayed
	KindShamir   = "shamir"      // key holder → aggregator → one key holder: an age-encrypted Shamir share
	KindReady    = "ready"       // member → aggregator: setup finished, with the collective key's digest
	KindRound    = "round"       // aggregator → members: round r, its nonce, the global model
	KindUpload   = "upload"      // contributor → aggregator: an encrypted, weighted, clipped update
	KindDecline  = "decline"     // contributor → aggregator: not contributing this round, and why
	KindDecrypt  = "decrypt"     // aggregator → key holder: the signed decryption set and the sum
	KindShare    = "share"       // key holder → aggregator: a decryption share
	KindRefuse   = "refuse"      // key holder → aggregator: will not decrypt, and why
	KindResult   = "result"      // aggregator → members: the round's outcome and the audit log's head
	KindEval     = "eval"        // aggregator → contributors: score this model on your validation rows
	KindEvalUp   = "eval-upload" // contributor → aggregator: encrypted noisy confusion counts, with a claim
	KindDone     = "done"        // aggregator → members: the run is over, and the audit log's head
	// KindMismatch is the aggregator's answer to a member whose messages
	// carry another federation config's hash: the envelope carries the
	// aggregator's hash, the body (a Digest32) the member's.
	KindMismatch = "config-mismatch"
)

// Bundle is a list of encoded envelopes relayed verbatim (pk-shares).
type Bundle [][]byte

func (b Bundle) Marshal() []byte {
	var w writer
	w.u64(uint64(len(b)))
	for _, e := range b {
		w.bytes(e)
	}
	return w.b
}

func ParseBundle(data []byte) (Bundle, error) {
	r := reader{b: data}
	n := r.count("envelopes", 8)
	var b Bundle
	for i := 0; i < n && r.err == nil; i++ {
		b = append(b, r.bytes("envelope"))
	}
	return b, r.done("bundle")
}

// Shamir is one key holder's Shamir share for one other key holder,
// age-encrypted to the recipient so the aggregator relays what it cannot
// read.
type Shamir struct {
	To     string
	Sealed []byte
}

func (s Shamir) Marshal() []byte {
	var w writer
	w.str(s.To)
	w.bytes(s.Sealed)
	return w.b
}

func ParseShamir(data []byte) (Shamir, error) {
	r := reader{b: data}
	s := Shamir{To: r.str("to"), Sealed: r.bytes("sealed share")}
	return s, r.done("shamir share")
}

// Ready says a member finished setup, which collective key it computed, in
// which key epoch, and, for a key holder, the end of the decryption-budget
// ranges it has endorsed under that key: an aggregator that resumes a run
// continues after it.
type Ready struct {
	PublicKeyDigest []byte
	Epoch           uint64
	Endorsed        uint64
}

func (m Ready) Marshal() []byte {
	var w writer
	w.bytes(m.PublicKeyDigest)
	w.u64(m.Epoch)
	w.u64(m.Endorsed)
	return w.b
}

func ParseReady(data []byte) (Ready, error) {
	r := reader{b: data}
	m := Ready{PublicKeyDigest: r.bytes("public key digest"), Epoch: r.u64("key epoch"), Endorsed: r.u64("endorsed decryptions")}
	return m, r.done("ready")
}

// RoundStart announces a round: the global model every contributor starts
// from, and the signed audit-log head of the last round that ended (zero
// before any), so that a member that missed that round's result, or whose
// result the aggregator withheld, holds it before it takes part again. The
// round number and nonce are in the envelope.
type RoundStart struct {
	Model []float64
	Prev  PrevHead
}

// PrevHead is the head after the entry of the last round that ended:
// completed or abandoned, and its number.
type PrevHead struct {
	Completed bool
	Round     uint64
	Head      AuditHead
}

func (m RoundStart) Marshal() []byte {
	var w writer
	w.f64s(m.Model)
	w.bool(m.Prev.Completed)
	w.u64(m.Prev.Round)
	w.auditHead(m.Prev.Head)
	return w.b
}

func ParseRoundStart(data []byte) (RoundStart, error) {
	r := reader{b: data}
	m := RoundStart{Model: r.f64s("model")}
	m.Prev.Completed, m.Prev.Round = r.bool("previous round completed"), r.u64("previous round")
	m.Prev.Head = r.auditHead()
	if r.err == nil && m.Prev.Head.Entries == 0 && (m.Prev.Completed || m.Prev.Round != 0) {
		r.fail(errors.New("a previous round without its audit head"))
	}
	return m, r.done("round announcement")
}

// DPClaim is what a contributor states about the DP-SGD it ran for an
// upload and the budget it has spent.
type DPClaim struct {
	Enabled         bool
	SampleRate      float64
	NoiseMultiplier float64
	ClipNorm        float64
	Steps           uint64
	Accountant      string
	PrivacyUnit     string // "" = record-level
	Epsilon         float64
	Delta           float64
}

// Claim is the small, separately signed part of an upload that the audit
// log keeps: the contributor's weight, whether the payload is encrypted, its
// DP parameters and ε, and the payload's SHA-256. Signed by the contributor
// as an envelope of kind "claim" bound to the round and nonce, it lets an
// auditor check each hospital's participation and ε against the hospital's
// own key, without the ciphertext.
type Claim struct {
	Weight        float64
	Encrypted     bool
	DP            DPClaim
	PayloadDigest [32]byte
	// Dataset is a keyed commitment to the data set the hospital used
	// (HMAC-SHA256 of its rows under a key only the hospital holds): it
	// names the same data in every round and run without revealing it, and
	// a small data set's digest cannot be brute-forced by others.
	Dataset [32]byte
	// LedgerVersion is the number of entries in the hospital's privacy
	// ledger once this upload's spend is recorded: it only grows, so a
	// ledger restored from an older copy shows as a version going back.
	LedgerVersion uint64
	// Transform is the digest of the federation's transform the hospital
	// trained or evaluated with ([data.Transform.Digest]), from the
	// statistics phase; zero in the statistics release's own claim.
	Transform [32]byte
	// Site is an evaluation release's own counts, sealed to the
	// federation's auditors and signed by the hospital (vault.SealBytes of
	// kind SealKindSite): its per-site scores, read by the auditors alone.
	// Empty in every other claim, and then not on the wire, so that claims
	// without it keep their encoding. A claim cut where its site release
	// begins therefore parses as one without; the hospital's signature on
	// the claim's envelope is what binds the whole.
	Site []byte
}

// SealKindSite is the sealed kind of a claim's per-site evaluation
// release.
const SealKindSite = "fedcrypt/site-evaluation"

// SiteCounts is the payload of a sealed per-site evaluation release
// (Claim.Site): the hospital's noisy counts in the federation's layout
// (stats.Scores), each a big-endian two's-complement int64.
type SiteCounts struct {
	Counts []int64
}

func (s SiteCounts) Marshal() []byte {
	var w writer
	w.u64(uint64(len(s.Counts)))
	for _, v := range s.Counts {
		w.u64(uint64(v))
	}
	return w.b
}

func ParseSiteCounts(data []byte) (SiteCounts, error) {
	r := reader{b: data}
	n := r.count("site counts", 8)
	s := SiteCounts{Counts: make([]int64, n)}
	for i := range s.Counts {
		s.Counts[i] = int64(r.u64("site count"))
	}
	if err := r.done("site counts"); err != nil {
		return SiteCounts{}, err
	}
	return s, nil
}

// KindClaim is the envelope kind of a signed [Claim].
const KindClaim = "claim"

func (c Claim) Marshal() []byte {
	var w writer
	w.f64(c.Weight)
	w.bool(c.Encrypted)
	w.bool(c.DP.Enabled)
	w.f64(c.DP.SampleRate)
	w.f64(c.DP.NoiseMultiplier)
	w.f64(c.DP.ClipNorm)
	w.u64(c.DP.Steps)
	w.str(c.DP.Accountant)
	w.str(c.DP.PrivacyUnit)
	w.f64(c.DP.Epsilon)
	w.f64(c.DP.Delta)
	w.b = append(w.b, c.PayloadDigest[:]...)
	w.b = append(w.b, c.Dataset[:]...)
	w.u64(c.LedgerVersion)
	w.b = append(w.b, c.Transform[:]...)
	if len(c.Site) > 0 {
		w.bytes(c.Site)
	}
	return w.b
}

func ParseClaim(data []byte) (Claim, error) {
	r := reader{b: data}
	var c Claim
	c.Weight = r.f64("weight")
	c.Encrypted = r.bool("encrypted")
	c.DP.Enabled = r.bool("dp enabled")
	c.DP.SampleRate = r.f64("sample rate")
	c.DP.NoiseMultiplier = r.f64("noise multiplier")
	c.DP.ClipNorm = r.f64("clip norm")
	c.DP.Steps = r.u64("steps")
	c.DP.Accountant = r.str("accountant")
	c.DP.PrivacyUnit = r.str("privacy unit")
	c.DP.Epsilon = r.f64("epsilon")
	c.DP.Delta = r.f64("delta")
	r.at = "payload digest"
	copy(c.PayloadDigest[:], r.take(32))
	r.at = "data set commitment"
	copy(c.Dataset[:], r.take(32))
	c.LedgerVersion = r.u64("ledger version")
	r.at = "transform digest"
	copy(c.Transform[:], r.take(32))
	if r.err == nil && len(r.b) > 0 {
		c.Site = r.bytes("site release")
		if r.err == nil && len(c.Site) == 0 {
			return Claim{}, errors.New("claim: an empty site release is not encoded")
		}
	}
	if err := r.done("claim"); err != nil {
		return Claim{}, err
	}
	for _, v := range []float64{c.Weight, c.DP.SampleRate, c.DP.NoiseMultiplier, c.DP.ClipNorm, c.DP.Epsilon, c.DP.Delta} {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return Claim{}, fmt.Errorf("claim: number %v is negative, infinite or NaN", v)
		}
	}
	return c, nil
}

// Upload is a contributor's update for a round: its signed claim (an
// encoded envelope of kind "claim") and the payload, an encrypted update
// (package he) or, in runs without encryption, the update itself
// ([EncodePlainUpdate]).
// The payload comes first on the wire, so that [UploadFrame] builds an
// upload in one buffer.
type Upload struct {
	Claim   []byte
	Payload []byte
}

func (u Upload) Marshal() []byte { var w writer; w.bytes(u.Payload); w.bytes(u.Claim); return w.b }

func ParseUpload(data []byte) (Upload, error) {
	r := reader{b: data}
	u := Upload{Payload: r.bytes("payload"), Claim: r.bytes("claim")}
	return u, r.done("upload")
}

// UploadFrame lays out a whole upload message in one buffer: room for its
// envelope's frame, then the upload's body. The payload, of a size known in
// advance, is written in place, and the claim naming its digest follows: an
// update of tens of megabytes is never copied on its way to the transport.
type UploadFrame struct {
	buf   []byte
	frame int
}

// claimRoom is the room kept for a signed claim (a few hundred bytes), so
// that appending it does not move the payload.
const claimRoom = 2048

// NewUploadFrame returns a frame with frame bytes of room for the envelope
// and a payload of payload bytes.
func NewUploadFrame(frame, payload int) *UploadFrame {
	b := make([]byte, frame, frame+8+payload+8+claimRoom)
	var w writer
	w.u64(uint64(payload))
	b = append(b, w.b...)
	return &UploadFrame{buf: b[:len(b)+payload], frame: frame}
}

// Payload is the room for the payload, to be written in full.
func (u *UploadFrame) Payload() []byte { return u.buf[u.frame+8:] }

// Close appends the signed claim and returns the whole message, whose first
// frame bytes are the envelope's room, and the body after them.
func (u *UploadFrame) Close(claim []byte) (msg, body []byte) {
	var w writer
	w.bytes(claim)
	u.buf = append(u.buf, w.b...)
	return u.buf, u.buf[u.frame:]
}

// Decline says why a contributor sends no update this round.
// The same body is a key holder's refusal (KindRefuse), where Endorsed is
// the end of the decryption-budget ranges it has endorsed, so that an
// aggregator offering a range below it can move on.
type Decline struct {
	Reason   string
	Endorsed uint64
}

func (m Decline) Marshal() []byte { var w writer; w.str(m.Reason); w.u64(m.Endorsed); return w.b }

func ParseDecline(data []byte) (Decline, error) {
	r := reader{b: data}
	m := Decline{Reason: r.str("reason"), Endorsed: r.u64("endorsed decryptions")}
	return m, r.done("decline")
}

// DecryptRequest asks a key holder for its decryption share of a round's
// sum. It carries the aggregator's commitment to the sum (the signed
// headers of every upload summed, the decryption set of exactly T key
// holders, the budget range), every contributor's signed fingerprint of its
// upload, in the order of the commitment's uploads, the key holders' signed
// endorsements of the commitment, and the sum. The key holder checks all of
// it before it helps decrypt (package client).
type DecryptRequest struct {
	Attempt      uint64
	Commit       Commit
	Fingerprints [][]byte
	Endorsements [][]byte
	Sum          []byte
}

func (m DecryptRequest) Marshal() []byte {
	var w writer
	w.u64(m.Attempt)
	w.commit(&m.Commit)
	for _, list := range [][][]byte{m.Fingerprints, m.Endorsements} {
		w.u64(uint64(len(list)))
		for _, e := range list {
			w.bytes(e)
		}
	}
	w.bytes(m.Sum)
	return w.b
}

func ParseDecryptRequest(data []byte) (DecryptRequest, error) {
	r := reader{b: data}
	var m DecryptRequest
	m.Attempt = r.u64("attempt")
	m.Commit = r.commit()
	for _, list := range []*[][]byte{&m.Fingerprints, &m.Endorsements} {
		n := r.count("signed messages", 8)
		for i := 0; i < n && r.err == nil; i++ {
			*list = append(*list, r.bytes("signed message"))
		}
	}
	m.Sum = r.bytes("sum")
	return m, r.done("decryption request")
}

// Share is a key holder's decryption share of a round's sum.
type Share struct {
	Attempt uint64
	Share   []byte
}

func (m Share) Marshal() []byte { var w writer; w.u64(m.Attempt); w.bytes(m.Share); return w.b }

func ParseShare(data []byte) (Share, error) {
	r := reader{b: data}
	m := Share{Attempt: r.u64("attempt"), Share: r.bytes("share")}
	return m, r.done("decryption share")
}

// AuditHead is the aggregator's signed statement of its audit log's head
// after the entry a message reports: how many entries the log holds, that
// entry included, the SHA-256 of the entry's line, and the aggregator's
// ed25519 signature over the statement (package audit defines the signed
// bytes, which also bind the federation, the entry's type and its round).
// Members keep it as a witness of the log. The zero value says the
// aggregator could not write the entry.
type AuditHead struct {
	Entries uint64
	Hash    [32]byte
	Sig     []byte
}

func (w *writer) auditHead(h AuditHead) {
	w.u64(h.Entries)
	w.b = append(w.b, h.Hash[:]...)
	w.bytes(h.Sig)
}

// auditHead reads a head: either the zero value, or at least one entry
// with a signature of ed25519's size.
func (r *reader) auditHead() AuditHead {
	var h AuditHead
	h.Entries = r.u64("audit entries")
	r.at = "audit head"
	copy(h.Hash[:], r.take(32))
	h.Sig = r.bytes("audit head signature")
	switch {
	case r.err != nil:
	case h.Entries == 0 && (h.Hash != [32]byte{} || len(h.Sig) != 0):
		r.fail(errors.New("audit head of an empty log"))
	case h.Entries != 0 && len(h.Sig) != ed25519.SignatureSize:
		r.fail(fmt.Errorf("audit head signature of %d bytes", len(h.Sig)))
	}
	if len(h.Sig) == 0 {
		h.Sig = nil
	}
	return h
}

// Result tells members how a round ended, and the audit log's head after
// the round's entry (completed or abandoned).
type Result struct {
	Completed   bool
	Included    []string // contributors whose uploads were summed
	ModelDigest []byte   // SHA-256 of the new global model's parameters
	Reason      string   // why the round was abandoned, when it was
	Head        AuditHead
}

func (m Result) Marshal() []byte {
	var w writer
	w.bool(m.Completed)
	w.strs(m.Included)
	w.bytes(m.ModelDigest)
	w.str(m.Reason)
	w.auditHead(m.Head)
	return w.b
}

func ParseResult(data []byte) (Result, error) {
	r := reader{b: data}
	m := Result{Completed: r.bool("completed"), Included: r.strs("included"), ModelDigest: r.bytes("model digest"), Reason: r.str("reason")}
	m.Head = r.auditHead()
	return m, r.done("round result")
}

// Done ends a run: the last completed round, and the audit log's head
// after the end entry.
type Done struct {
	Round uint64
	Head  AuditHead
}

func (m Done) Marshal() []byte { var w writer; w.u64(m.Round); w.auditHead(m.Head); return w.b }

func ParseDone(data []byte) (Done, error) {
	r := reader{b: data}
	m := Done{Round: r.u64("round")}
	m.Head = r.auditHead()
	return m, r.done("end of run")
}

// Key-ceremony commitments. Before any public-key share is revealed, each
// key holder commits to its share, and every key holder acknowledges the
// whole list of commitments: a key holder that chose its share after seeing
// the others' (a rogue share, so that a coalition knows the secret behind
// the collective key) or an aggregator that showed different commitments
// to different key holders is caught before any share is revealed.
const (
	KindPKCommit  = "pk-commit"  // key holder → aggregator: SHA-256 of its public-key share
	KindPKCommits = "pk-commits" // aggregator → members: every key holder's signed commitment, relayed
	KindPKAck     = "pk-ack"     // key holder → aggregator: the digest of the list of commitments it saw
	KindPKAcks    = "pk-acks"    // aggregator → members: every key holder's signed acknowledgement, relayed
)

// Digest32 is a body holding one SHA-256 digest: a commitment to a
// public-key share, or the digest of a list of commitments.
type Digest32 [32]byte

func (d Digest32) Marshal() []byte { return d[:] }

func ParseDigest32(data []byte) (Digest32, error) {
	r := reader{b: data}
	r.at = "digest"
	var d Digest32
	copy(d[:], r.take(32))
	return d, r.done("digest")
}

// KindAccept is the kind of a member's signed acceptance of a federation
// version, which it keeps beside its ledger and never sends: an envelope
// bound to the new config's hash, numbered by its revision (Round), whose
// body is the hash of the version it replaces.
const KindAccept = "accept-version"

// KindWelcome: aggregator → a member that (re)connected: the latest of its
// own signed messages the aggregator holds ([Welcome]).
const KindWelcome = "welcome"

// Welcome gives a member back the latest claim and endorsement it signed
// that the aggregator holds (each an encoded envelope, or empty), so that a
// member whose ledger or key-holder state was restored from an older copy
// finds out: its state must not be older than what it signed.
type Welcome struct {
	Claim       []byte
	Endorsement []byte
}

func (m Welcome) Marshal() []byte { var w writer; w.bytes(m.Claim); w.bytes(m.Endorsement); return w.b }

func ParseWelcome(data []byte) (Welcome, error) {
	r := reader{b: data}
	m := Welcome{Claim: r.bytes("claim"), Endorsement: r.bytes("endorsement")}
	return m, r.done("welcome")
}

// The statistics phase, before the first round: every contributor releases
// its noisy statistics vector (stats.Layout), encrypted under the
// collective key with a claim, as an evaluation upload is; a quorum
// decrypts only their sum, and the aggregator gives every member the
// totals, from which each computes the federation's transform. Its round
// number is 0.
const (
	KindStats       = "stats"        // aggregator → contributors: release your statistics
	KindStatsUp     = "stats-upload" // contributor → aggregator: the encrypted noisy vector, with a claim
	KindStatsResult = "stats-result" // aggregator → members: the decrypted totals
)

// StatsResult is the statistics phase's outcome: the decrypted sum of the
// contributors' vectors (divided by the encoding scale), the standard
// deviation of the noise in each of its values, and the contributors in
// the sum.
type StatsResult struct {
	Totals       []float64
	NoiseStdDev  float64
	Contributors []string
}

func (m StatsResult) Marshal() []byte {
	var w writer
	w.f64s(m.Totals)
	w.f64(m.NoiseStdDev)
	w.strs(m.Contributors)
	return w.b
}

func ParseStatsResult(data []byte) (StatsResult, error) {
	r := reader{b: data}
	m := StatsResult{Totals: r.f64s("totals"), NoiseStdDev: r.f64("noise standard deviation"), Contributors: r.strs("contributors")}
	if r.err == nil && (!(m.NoiseStdDev >= 0) || math.IsInf(m.NoiseStdDev, 0)) {
		r.fail(fmt.Errorf("noise standard deviation %v", m.NoiseStdDev))
	}
	return m, r.done("statistics result")
}
