package audit

import (
	"cmp"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/fedcrypt/fedcrypt/federation"
)

// Head is the aggregator's statement of its log's head after one entry:
// the federation, the entry's type (round, round-abandoned or end), the
// round it reports (for an end entry, the last completed round), how many
// entries the log holds with it, and the SHA-256 of its line. The
// aggregator signs it with the key that signs the entries and sends it to
// the members, who keep it as a [Witness].
type Head struct {
	Config  federation.Hash
	Type    string
	Round   uint64
	Entries uint64
	Hash    [32]byte
}

// headDomain separates a head signature from an entry signature
// ("fedcrypt/audit/v1\n" ‖ JSON) and from a protocol message's
// ("fedcrypt/envelope/v1" ‖ …): neither domain is a prefix of another.
const headDomain = "fedcrypt/audit-head/v1\n"

// Types of entry whose head the aggregator signs for its members.
var witnessedTypes = []string{TypeRound, TypeRoundAbandoned, TypeEnd}

// signingInput is
//
//	"fedcrypt/audit-head/v1\n" ‖ config hash ‖ len(type) ‖ type ‖ round ‖ entries ‖ hash
//
// with big-endian 8-byte integers.
func (h *Head) signingInput() []byte {
	b := make([]byte, 0, len(headDomain)+32+8+len(h.Type)+16+32)
	b = append(b, headDomain...)
	b = append(b, h.Config[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(len(h.Type)))
	b = append(b, h.Type...)
	b = binary.BigEndian.AppendUint64(b, h.Round)
	b = binary.BigEndian.AppendUint64(b, h.Entries)
	return append(b, h.Hash[:]...)
}

// SignHead signs h with the aggregator's key.
func SignHead(key ed25519.PrivateKey, h Head) []byte {
	return ed25519.Sign(key, h.signingInput())
}

// ErrBadHeadSignature is returned by [VerifyHead] when a head's signature
// does not verify.
var ErrBadHeadSignature = errors.New("audit head signature does not verify")

// VerifyHead checks that sig is the signature of h by fed's aggregator,
// with the key fed registers, and that h is of fed's log.
func VerifyHead(fed *federation.Config, h Head, sig []byte) error {
	if h.Config != fed.Hash() {
		return fmt.Errorf("audit head of another federation (config hash %.16s…)", h.Config.String())
	}
	if !slices.Contains(witnessedTypes, h.Type) {
		return fmt.Errorf("audit head of a %q entry, which is never signed", h.Type)
	}
	key, err := fed.Aggregator.PublicKey()
	if err != nil {
		return err
	}
	if !ed25519.Verify(key, h.signingInput(), sig) {
		return ErrBadHeadSignature
	}
	return nil
}

// Witness is a signed head one hospital kept: evidence, outside the
// aggregator's reach, of what its log held at the end of a round.
type Witness struct {
	Hospital  string
	Head      Head
	Signature []byte
}

// WitnessFacts says which of a hospital's witnesses [VerifyRun] checked.
type WitnessFacts struct {
	Hospital string `json:"hospital"`
	Heads    int    `json:"heads"`        // signed heads checked
	Entry    int    `json:"latest_entry"` // the latest one's entry
	Round    uint64 `json:"latest_round"` // and the round it reports
}

// witnesses checks every witness against the log: the aggregator's
// signature, no two witnesses with different heads for one entry or one
// completed round, and each head at its position in the log, on an entry
// of the type and round it was signed for. The hash chain fixes every
// entry up to a witnessed head, so no round before it can have been
// rewritten; a log cut off before it lacks it. lastAt[i] is the last
// completed round after entry i+1.
func (v *verifier) witnesses(entries []Entry, heads [][32]byte, lastAt []uint64) error {
	ws := slices.Clone(v.opt.Witnesses)
	if len(ws) == 0 {
		return nil
	}
	slices.SortStableFunc(ws, func(a, b Witness) int {
		return cmp.Or(cmp.Compare(a.Head.Entries, b.Head.Entries), cmp.Compare(a.Hospital, b.Hospital))
	})
	// A failure names the entry the witness is for, within the log or
	// one past its end.
	at := func(w *Witness) int { return int(min(max(w.Head.Entries, 1), uint64(len(entries))+1)) }
	for i := range ws {
		w := &ws[i]
		if _, ok := v.fed.Member(w.Hospital); !ok {
			return fail(at(w), "witness of %q: not a member of the federation", w.Hospital)
		}
		if w.Head.Entries == 0 {
			return fail(1, "witness of hospital %q round %d: a head of no entry", w.Hospital, w.Head.Round)
		}
		if err := VerifyHead(v.fed, w.Head, w.Signature); err != nil {
			return fail(at(w), "witness of hospital %q round %d: %v (forged or altered)", w.Hospital, w.Head.Round, err)
		}
	}
	if err := equivocation(ws, at); err != nil {
		return err
	}
	rounds := map[int]RoundFacts{}
	for _, r := range v.run.Rounds {
		rounds[r.Entry] = r
	}
	facts := map[string]*WitnessFacts{}
	for i := range ws {
		w := &ws[i]
		if w.Head.Entries > uint64(len(entries)) {
			return fail(len(entries)+1, "missing: witness of hospital %q round %d: head of entry %d, the log ends at entry %d (cut off)",
				w.Hospital, w.Head.Round, w.Head.Entries, len(entries))
		}
		n := int(w.Head.Entries)
		if heads[n-1] != w.Head.Hash {
			return fail(n, "witness of hospital %q round %d: entry %d is not the one the aggregator signed for it (log rewritten)",
				w.Hospital, w.Head.Round, n)
		}
		e := &entries[n-1]
		var round uint64
		switch e.Type {
		case TypeRound, TypeRoundAbandoned:
			round = rounds[n].Round
		case TypeEnd:
			round = lastAt[n-1]
		}
		if e.Type != w.Head.Type || round != w.Head.Round {
			return fail(n, "witness of hospital %q round %d: signed as a %s entry of round %d, the log has a %s entry of round %d there",
				w.Hospital, w.Head.Round, w.Head.Type, w.Head.Round, e.Type, round)
		}
		f := facts[w.Hospital]
		if f == nil {
			f = &WitnessFacts{Hospital: w.Hospital}
			facts[w.Hospital] = f
		}
		f.Heads++
		f.Entry, f.Round = n, w.Head.Round
	}
	for _, m := range v.fed.Members {
		if f := facts[m.ID]; f != nil {
			v.run.Witnesses = append(v.run.Witnesses, *f)
		}
	}
	return nil
}

// equivocation fails when two witnesses (ws sorted by entry) hold
// different heads for one entry, or one completed round at two entries:
// the aggregator showed hospitals different logs.
func equivocation(ws []Witness, at func(*Witness) int) error {
	completed := map[uint64]*Witness{}
	for i := range ws {
		w := &ws[i]
		if i > 0 {
			p := &ws[i-1]
			if p.Head.Entries == w.Head.Entries && p.Head.Hash != w.Head.Hash {
				return fail(at(w), "hospitals %q and %q hold different signed heads for entry %d (rounds %d and %d): the aggregator equivocated",
					p.Hospital, w.Hospital, w.Head.Entries, p.Head.Round, w.Head.Round)
			}
		}
		if w.Head.Type != TypeRound {
			continue
		}
		if p := completed[w.Head.Round]; p != nil && p.Head.Entries != w.Head.Entries {
			return fail(at(w), "hospitals %q and %q hold signed heads of round %d completed at entries %d and %d: the aggregator equivocated",
				p.Hospital, w.Hospital, w.Head.Round, p.Head.Entries, w.Head.Entries)
		}
		completed[w.Head.Round] = w
	}
	return nil
}
