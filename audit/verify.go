package audit

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"

	"github.com/fedcrypt/fedcrypt/dp"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/internal/transport"
)

// Entry types written by the aggregator.
const (
	TypeSetup          = "setup"
	TypeRound          = "round"
	TypeRoundAbandoned = "round-abandoned"
	TypeResume         = "resume"
	TypeEnd            = "end"
)

// Anchor is a head hash recorded outside the log (in a sealed checkpoint):
// the log must contain an entry with this hash, the last completed round at
// that entry must be Round, and no round may complete after it.
type Anchor struct {
	Head  [32]byte
	Round uint64
}

// Options tune [VerifyRun].
type Options struct {
	// Anchor, when set, is the head of the last sealed checkpoint; without
	// it a log cut off after a complete end entry cannot be told from a
	// whole one, and the result says so (Run.Anchored is false).
	Anchor *Anchor
	// AllowUnprotected accepts runs without DP or without encryption; they
	// are reported (Run.Unprotected) either way.
	AllowUnprotected bool
}

// Failure says why a log does not verify and which entry is at fault
// (1-based; one past the last entry when entries are missing at the end).
// It wraps [ErrBadLog].
type Failure struct {
	Entry  int
	Reason string
}

func (f *Failure) Error() string { return fmt.Sprintf("entry %d: %s", f.Entry, f.Reason) }

// Unwrap makes errors.Is(f, ErrBadLog) hold.
func (f *Failure) Unwrap() error { return ErrBadLog }

// ClaimTolerance is the relative slack allowed between a claimed ε and the
// recomputed one, and above the cap: the accountants are deterministic, so
// only floating-point rounding separates an honest claim from the
// recomputation.
const ClaimTolerance = 1e-9

// VerifyRun checks a whole run's log against its federation config, read
// from r (named source in errors):
//
//   - the chain and every entry's signature, with keys from fed (never the
//     log), the first entry chained to fed's hash;
//   - order and completeness: a setup entry first that matches fed, round
//     numbers increasing, exactly one end entry and nothing after it, and the
//     anchor when given;
//   - every upload's claim: signed by its hospital with the key fed
//     registers, bound to this federation and round, consistent with fed's
//     DP and encryption settings;
//   - every hospital's ε, recomputed with fed's accountant from the claimed
//     parameters of every round it contributed to: a claim below the
//     recomputed ε, or above the cap, fails;
//   - runs without DP or encryption fail unless opt.AllowUnprotected.
//
// It returns what it established about the run, as far as it got, and a
// *[Failure] when the log does not verify; other errors are I/O errors.
func VerifyRun(r io.Reader, source string, fed *federation.Config, opt Options) (*Run, error) {
	raw, err := io.ReadAll(io.LimitReader(r, MaxLog+1))
	if err != nil {
		return nil, fmt.Errorf("read audit log %s: %w", source, err)
	}
	if len(raw) > MaxLog {
		return nil, fmt.Errorf("audit log %s: larger than %d bytes", source, MaxLog)
	}
	v := &verifier{fed: fed, hash: fed.Hash(), opt: opt, run: newRun(fed)}
	return v.run, v.verify(raw)
}

// VerifyFile is [VerifyRun] on the log at path.
func VerifyFile(path string, fed *federation.Config, opt Options) (*Run, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	defer f.Close()
	return VerifyRun(f, path, fed, opt)
}

// MinNoiseMultiplier is the smallest claimed noise multiplier whose ε
// [VerifyRun] recomputes; a claim below it fails (its ε is far above any
// cap a federation sets).
const MinNoiseMultiplier = 0.01

// MaxLog is the largest log [VerifyRun] reads (1 GiB).
const MaxLog = 1 << 30

type verifier struct {
	fed    *federation.Config
	hash   federation.Hash
	opt    Options
	run    *Run
	acct   dp.AccountantConfig
	events map[string][]dp.Event
	last   uint64 // the last completed round
}

func fail(entry int, format string, a ...any) *Failure {
	return &Failure{Entry: entry, Reason: fmt.Sprintf(format, a...)}
}

func (v *verifier) verify(raw []byte) error {
	entries, heads, err := v.chain(raw)
	if err != nil {
		return err
	}
	v.run.Entries = len(entries)
	if len(entries) == 0 {
		return fail(1, "the log is empty (no setup entry)")
	}
	v.acct = dp.AccountantConfig{Kind: v.fed.DP.Accountant}
	v.events = map[string][]dp.Event{}
	ended := 0
	for i := range entries {
		n, e := i+1, &entries[i]
		if ended != 0 && e.Type != TypeResume {
			return fail(n, "%s entry after the end entry %d", e.Type, ended)
		}
		if e.Writer != v.fed.Aggregator.ID {
			return fail(n, "%s entry written by %q, not the aggregator %q", e.Type, e.Writer, v.fed.Aggregator.ID)
		}
		if n == 1 && e.Type != TypeSetup {
			return fail(1, "first entry is %q, want setup", e.Type)
		}
		switch e.Type {
		case TypeSetup:
			// A resumed run sets up again (a fresh key ceremony).
			if n != 1 && entries[i-1].Type != TypeResume {
				return fail(n, "a second setup entry, not after a resume entry")
			}
			err = v.setup(e)
		case TypeRound:
			err = v.round(e, n)
		case TypeRoundAbandoned:
			err = v.abandoned(e, n)
		case TypeResume:
			ended = 0
			err = v.resume(e, n)
		case TypeEnd:
			ended = n
			err = v.end(e)
		default:
			err = fmt.Errorf("unknown entry type %q", e.Type)
		}
		if err != nil {
			var f *Failure
			if errors.As(err, &f) {
				return f
			}
			return fail(n, "%s: %v", e.Type, err)
		}
	}
	if err := v.anchor(heads); err != nil {
		return err
	}
	if ended == 0 {
		return fail(len(entries)+1, "missing: the log ends at entry %d without an end entry (tail cut off, or the run has not finished)", len(entries))
	}
	if len(v.run.Unprotected) > 0 && !v.opt.AllowUnprotected {
		return fail(1, "unprotected run (%s); accepted only with --allow-unprotected", joinList(v.run.Unprotected))
	}
	v.run.Verified = true
	return nil
}

// chain parses the log and checks links and signatures, recording every
// entry's hash.
func (v *verifier) chain(raw []byte) ([]Entry, [][32]byte, error) {
	keys := KeyFunc(v.fed.SigningKey)
	var heads [][32]byte
	entries, head, err := parseChainFunc(bytes.NewReader(raw), v.hash, func(e *Entry, h [32]byte) error {
		if err := checkSig(e, keys); err != nil {
			return err
		}
		heads = append(heads, h)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	v.run.Head = hex.EncodeToString(head[:])
	return entries, heads, nil
}

func (v *verifier) anchor(heads [][32]byte) error {
	a := v.opt.Anchor
	if a == nil {
		return nil
	}
	k := slices.Index(heads, a.Head)
	if k < 0 {
		return fail(len(heads)+1, "missing: no entry has the head %x… the checkpoint of round %d anchors (log cut off or rewritten)", a.Head[:6], a.Round)
	}
	// The last completed round at the anchored entry must be the
	// checkpoint's, and none may complete after it.
	var at uint64
	for _, r := range v.run.Rounds {
		switch {
		case r.Completed && r.Entry <= k+1:
			at = r.Round
		case r.Completed:
			return fail(r.Entry, "round %d completed after the last checkpoint (round %d)", r.Round, a.Round)
		}
	}
	if at != a.Round {
		return fail(k+1, "the checkpoint anchors this entry as round %d, the log has round %d completed there", a.Round, at)
	}
	v.run.Anchored, v.run.AnchorEntry = true, k+1
	return nil
}

// setupBody is what VerifyRun reads of a setup entry.
type setupBody struct {
	ConfigHash      string          `json:"config_hash"`
	Software        string          `json:"software"`
	Threshold       int             `json:"threshold"`
	MinContributors int             `json:"min_contributors"`
	HE              federation.HE   `json:"he"`
	DP              federation.DP   `json:"dp"`
	Members         []setupMember   `json:"members"`
	Unprotected     []string        `json:"unprotected"`
	CollectiveKey   string          `json:"collective_public_key"`
	Accountant      json.RawMessage `json:"accountant"`
}

type setupMember struct {
	ID          string `json:"id"`
	Contributor bool   `json:"contributor"`
	KeyHolder   bool   `json:"key_holder"`
	SigningKey  string `json:"signing_key"`
}

func (v *verifier) setup(e *Entry) error {
	var b setupBody
	if err := json.Unmarshal(e.Body, &b); err != nil {
		return fmt.Errorf("body: %w", err)
	}
	switch {
	case b.ConfigHash != v.hash.String():
		return errors.New("config hash is not the federation's")
	case b.Threshold != v.fed.Threshold || b.MinContributors != v.fed.MinContributors:
		return fmt.Errorf("threshold %d and min-contributors %d, the config says %d and %d", b.Threshold, b.MinContributors, v.fed.Threshold, v.fed.MinContributors)
	case b.HE != v.fed.HE:
		return errors.New("encryption settings differ from the config's")
	case b.DP != v.fed.DP:
		return errors.New("DP settings differ from the config's")
	case len(b.Members) != len(v.fed.Members):
		return fmt.Errorf("%d members, the config has %d", len(b.Members), len(v.fed.Members))
	}
	for i, m := range b.Members {
		c := v.fed.Members[i]
		if m.ID != c.ID || m.Contributor != c.Contributor || m.KeyHolder != c.KeyHolder || m.SigningKey != c.SigningKey {
			return fmt.Errorf("member %q differs from the config's", m.ID)
		}
	}
	if v.fed.DP.Enabled {
		// Clients account with the defaults of the config's accountant
		// kind; the entry records them in full for readers.
		v.acct = AccountantSettings(v.fed)
		if b.Accountant != nil {
			want, _ := json.Marshal(v.acct)
			var got dp.AccountantConfig
			if err := json.Unmarshal(b.Accountant, &got); err != nil {
				return fmt.Errorf("accountant: %w", err)
			}
			if g, _ := json.Marshal(got); !bytes.Equal(g, want) {
				return fmt.Errorf("accountant settings %s, the federation's clients use %s", g, want)
			}
		}
	}
	v.run.Software, v.run.CollectiveKey = b.Software, b.CollectiveKey
	v.run.Accountant = v.acct
	// The config decides what is unprotected; the entry's own list must
	// not hide anything.
	want := Unprotected(v.fed)
	if len(want) != len(b.Unprotected) {
		return fmt.Errorf("records %d unprotected settings, the config has %d", len(b.Unprotected), len(want))
	}
	return nil
}

// Unprotected lists, in words, what a federation runs without: DP, or
// encryption of updates. Empty for a fully protected federation.
func Unprotected(fed *federation.Config) []string {
	var u []string
	if !fed.DP.Enabled {
		u = append(u, "no differential privacy (--no-dp)")
	}
	if !fed.HE.Enabled {
		u = append(u, "updates not encrypted (--no-he)")
	}
	return u
}

type roundBody struct {
	Round         uint64            `json:"round"`
	Attempt       int               `json:"attempt"`
	Contributors  []string          `json:"contributors"`
	Declined      map[string]string `json:"declined"`
	Dropped       []string          `json:"dropped"`
	Refused       map[string]string `json:"refused"`
	DecryptionSet []string          `json:"decryption_set"`
	Uploads       []uploadBody      `json:"uploads"`
	ModelDigest   string            `json:"model_digest"`
	BytesUp       int64             `json:"bytes_up"`
	Reason        string            `json:"reason"`
}

type uploadBody struct {
	From   string      `json:"from"`
	Digest string      `json:"digest"`
	Claim  []byte      `json:"claim"`
	Facts  *ClaimFacts `json:"facts"`
}

func (v *verifier) round(e *Entry, n int) error {
	var b roundBody
	if err := json.Unmarshal(e.Body, &b); err != nil {
		return fmt.Errorf("body: %w", err)
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
	seen := map[string]bool{}
	for _, u := range b.Uploads {
		if seen[u.From] {
			return fail(n, "round %d: two uploads from %q", b.Round, u.From)
		}
		seen[u.From] = true
		if !slices.Contains(b.Contributors, u.From) {
			return fail(n, "round %d: upload from %q, who is not among the contributors", b.Round, u.From)
		}
		c, err := v.claim(u, b.Round)
		if err != nil {
			return fail(n, "round %d: %s's claim: %v", b.Round, u.From, err)
		}
		if u.Facts != nil && *u.Facts != FactsOf(c) {
			return fail(n, "round %d: %s's decoded facts differ from its signed claim", b.Round, u.From)
		}
		rf.Uploads = append(rf.Uploads, UploadFacts{From: u.From, Digest: u.Digest, PayloadDigest: hex.EncodeToString(c.PayloadDigest[:])})
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

// claim opens an upload's signed claim and checks it against the config.
func (v *verifier) claim(u uploadBody, round uint64) (transport.Claim, error) {
	var zero transport.Claim
	env, err := federation.ParseEnvelope(u.Claim)
	if err != nil {
		return zero, err
	}
	if env.Kind != transport.KindClaim || env.From != u.From || env.Round != round {
		return zero, fmt.Errorf("a %s from %q for round %d, not %s's claim for round %d", env.Kind, env.From, env.Round, u.From, round)
	}
	if m, ok := v.fed.Member(u.From); !ok || !m.Contributor {
		return zero, errors.New("not a contributor of this federation")
	}
	if err := v.fed.Verify(env, v.hash); err != nil {
		return zero, err
	}
	c, err := transport.ParseClaim(env.Body)
	if err != nil {
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
func (v *verifier) spend(id string, round uint64, c transport.Claim) error {
	h := v.run.hospital(id)
	s := Spend{Round: round, Claimed: c.DP.Epsilon, NoiseMultiplier: c.DP.NoiseMultiplier, SampleRate: c.DP.SampleRate,
		Steps: int(c.DP.Steps), ClipNorm: c.DP.ClipNorm}
	if !c.DP.Enabled {
		s.Claimed, s.Recomputed = math.Inf(1), math.Inf(1)
		h.Spends = append(h.Spends, s)
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

func (v *verifier) abandoned(e *Entry, n int) error {
	var b struct {
		Round    uint64            `json:"round"`
		Attempt  int               `json:"attempt"`
		Reason   string            `json:"reason"`
		Uploads  []string          `json:"uploads"`
		Declined map[string]string `json:"declined"`
		Dropped  []string          `json:"dropped"`
	}
	if err := json.Unmarshal(e.Body, &b); err != nil {
		return fmt.Errorf("body: %w", err)
	}
	if b.Round <= v.last {
		return fail(n, "abandoned round %d after round %d completed (out of order)", b.Round, v.last)
	}
	for _, id := range slices.Concat(b.Uploads, b.Dropped) {
		if _, ok := v.fed.Member(id); !ok {
			return fail(n, "abandoned round %d names %q, not a member", b.Round, id)
		}
	}
	v.run.Rounds = append(v.run.Rounds, RoundFacts{Entry: n, Round: b.Round, Attempt: b.Attempt, Reason: b.Reason,
		Contributors: b.Uploads, Declined: b.Declined, Dropped: b.Dropped})
	return nil
}

// resume checks a resume entry: the run continues after the round its
// checkpoint recorded, which is the last completed round or, when the run
// stopped between a round's entry and its checkpoint, the one before. A
// round redone after a resume is logged twice; the first one's spends
// still count (the hospitals trained and their sum was decrypted).
func (v *verifier) resume(e *Entry, n int) error {
	var b struct {
		AfterRound *uint64 `json:"after_round"`
	}
	if err := json.Unmarshal(e.Body, &b); err != nil {
		return fmt.Errorf("body: %w", err)
	}
	switch {
	case b.AfterRound == nil:
		return fail(n, "resume entry names no round to resume after")
	case *b.AfterRound > v.last || *b.AfterRound+1 < v.last:
		return fail(n, "resumes after round %d, the log's last completed round is %d (rounds missing or discarded)", *b.AfterRound, v.last)
	}
	v.last = *b.AfterRound
	v.run.Resumes++
	return nil
}

func (v *verifier) end(e *Entry) error {
	var b struct {
		Reason string `json:"reason"`
	}
	if err := json.Unmarshal(e.Body, &b); err != nil {
		return fmt.Errorf("body: %w", err)
	}
	v.run.Ended = b.Reason
	return nil
}

func joinList(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += "; "
		}
		out += x
	}
	return out
}
