package audit

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/fedcrypt/fedcrypt/dp"
	"github.com/fedcrypt/fedcrypt/federation"
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
	// Witnesses are signed heads the hospitals kept (see [Witness]): each
	// must be in the log where it was signed, and no two may disagree.
	// Unlike the checkpoint's anchor, the aggregator cannot rewrite them.
	Witnesses []Witness
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
//   - every witness in opt: signed by the aggregator, at its place in the
//     log, and consistent with every other witness;
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

// MaxLog is the largest log [VerifyRun] reads (1 GiB).
const MaxLog = 1 << 30

type verifier struct {
	fed    *federation.Config
	hash   federation.Hash
	opt    Options
	run    *Run
	acct   dp.AccountantConfig
	events map[string][]dp.Event
	last   uint64          // the last completed round
	nonces map[string]bool // of the completed rounds so far
	// ledgers is each hospital's ledger version in its latest claim.
	ledgers map[string]uint64
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
	v.events, v.nonces, v.ledgers = map[string][]dp.Event{}, map[string]bool{}, map[string]uint64{}
	ended := 0
	lastAt := make([]uint64, 0, len(entries)) // the last completed round after each entry
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
			if n == 1 {
				v.run.Federation, v.run.Started = v.fed.Name, e.Time
			}
			if k := len(v.run.Epochs); err == nil && k > 0 && v.run.Epochs[k-1].Entry == 0 {
				v.run.Epochs[k-1].Entry = n
			}
		case TypeRound:
			err = v.round(e, n)
		case TypeRoundAbandoned:
			err = v.abandoned(e, n)
		case TypeResume:
			ended = 0
			err = v.resume(e, n)
		case TypeEvaluation:
			err = v.evaluation(e, n)
		case TypeStatistics:
			err = v.statistics(e, n)
		case TypeRekey:
			err = v.rekey(e, n)
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
		lastAt = append(lastAt, v.last)
	}
	v.securityLeft()
	if err := v.witnesses(entries, heads, lastAt); err != nil {
		return err
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

func (v *verifier) setup(e *Entry) error {
	var b SetupBody
	if err := e.DecodeBody(&b); err != nil {
		return err
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
	if err := v.lineage(b.Lineage); err != nil {
		return err
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
			if g, _ := json.Marshal(b.Accountant); !bytes.Equal(g, want) {
				return fmt.Errorf("accountant settings %s, the federation's clients use %s", g, want)
			}
		}
	}
	v.run.Software, v.run.CollectiveKey = b.Software, b.CollectiveKey
	if v.fed.HE.Enabled {
		if k := len(v.run.Epochs); k > 0 && b.KeyEpoch <= v.run.Epochs[k-1].Epoch {
			return fmt.Errorf("key epoch %d after epoch %d: epochs only move forward", b.KeyEpoch, v.run.Epochs[k-1].Epoch)
		}
		if want := v.fed.DecryptionBudget(); b.DecryptionBudget != want {
			return fmt.Errorf("decryption budget %d, the config gives %d", b.DecryptionBudget, want)
		}
		v.run.Epochs = append(v.run.Epochs, Epoch{Epoch: b.KeyEpoch, CollectiveKey: b.CollectiveKey, Budget: b.DecryptionBudget})
	}
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

func (v *verifier) abandoned(e *Entry, n int) error {
	var b RoundAbandonedBody
	if err := e.DecodeBody(&b); err != nil {
		return err
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
	var b ResumeBody
	if err := e.DecodeBody(&b); err != nil {
		return err
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
	var b EndBody
	if err := e.DecodeBody(&b); err != nil {
		return err
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
