package federation

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
)

// Lineage makes a config the next version of a federation: adding or
// removing a member writes a new config, whose hash (and so every key,
// message and audit log under it) is new, and whose lineage names the
// version it replaces. The members keep their ledgers: a member's ledger is
// named by the federation's [Config.Name], its id and its keys, so a member
// that carries over with the same id and keys spends from the budget it
// spent in every earlier version ([CheckSuccessor] holds the name, the DP
// budget and continuing members' keys fixed).
//
// Removed lists every member of an earlier version that this one does not
// have: the aggregator refuses their certificates by name, beside the
// certificates whose key is not the one a member's [Member.TLSKey] pins.
type Lineage struct {
	// Revision counts the versions: 2 for the first change (the first
	// version has no lineage), one more at each change after it.
	Revision int `json:"revision"`
	// Previous is the hex hash of the config this one replaces.
	Previous string `json:"previous"`
	// Added are the members new in this version, in config order.
	Added []string `json:"added,omitempty"`
	// Removed are the members of earlier versions that are not members of
	// this one, sorted.
	Removed []string `json:"removed,omitempty"`
}

// ErrNotSuccessor is wrapped by [CheckSuccessor] when a config cannot
// follow another.
var ErrNotSuccessor = errors.New("not the next version of the federation")

// Revision returns the config's version number: 1 without a lineage.
func (c *Config) Revision() int {
	if c.Lineage == nil {
		return 1
	}
	return c.Lineage.Revision
}

// validateLineage checks the lineage against the config's own members,
// and the form of every member's TLS key pin.
func (c *Config) validateLineage() error {
	for _, m := range c.Members {
		if m.TLSKey != "" && !isHex32(m.TLSKey) {
			return fmt.Errorf("federation config: member %q: tls_key_sha256 %q: want 64 lower-case hex digits", m.ID, m.TLSKey)
		}
	}
	l := c.Lineage
	if l == nil {
		return nil
	}
	if l.Revision < 2 {
		return fmt.Errorf("federation config: lineage revision %d: the first change makes revision 2", l.Revision)
	}
	if !isHex32(l.Previous) {
		return fmt.Errorf("federation config: lineage previous %q: want the previous config's hash, 64 lower-case hex digits", l.Previous)
	}
	seen := map[string]bool{}
	for _, id := range l.Added {
		if _, ok := c.Member(id); !ok || seen[id] {
			return fmt.Errorf("federation config: lineage added %q: not a member, or listed twice", id)
		}
		seen[id] = true
	}
	for _, id := range l.Removed {
		if !idPattern.MatchString(id) || seen[id] {
			return fmt.Errorf("federation config: lineage removed %q: not a member id, or listed twice", id)
		}
		seen[id] = true
		if _, ok := c.Member(id); ok || id == c.Aggregator.ID {
			return fmt.Errorf("federation config: lineage removed %q: it is a party of this version", id)
		}
	}
	if !slices.IsSorted(l.Removed) {
		return fmt.Errorf("federation config: lineage removed %q: want sorted ids", l.Removed)
	}
	return nil
}

func isHex32(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == 32 && hex.EncodeToString(b) == s
}

// NextLineage returns the lineage of next as the version after prev: its
// revision, prev's hash, the members next adds and every member removed so
// far that next does not have again. It does not check that next may
// follow prev ([CheckSuccessor] does).
func NextLineage(prev, next *Config) *Lineage {
	l := &Lineage{Revision: prev.Revision() + 1, Previous: prev.Hash().String()}
	for _, m := range next.Members {
		if _, ok := prev.Member(m.ID); !ok {
			l.Added = append(l.Added, m.ID)
		}
	}
	var removed []string
	if prev.Lineage != nil {
		removed = append(removed, prev.Lineage.Removed...)
	}
	for _, m := range prev.Members {
		removed = append(removed, m.ID)
	}
	for _, id := range removed {
		if _, ok := next.Member(id); !ok && !slices.Contains(l.Removed, id) {
			l.Removed = append(l.Removed, id)
		}
	}
	slices.Sort(l.Removed)
	return l
}

// CheckSuccessor checks that next is the version of the federation that
// follows prev: its lineage names prev's hash and the next revision, and
// lists exactly the members added and removed ([NextLineage]); the name
// and the DP budget (cap, δ, accountant, privacy unit) are prev's, since
// every member's ledger is named by the federation's name and keeps one
// cap; and a member in both keeps its recipient and signing key, to which
// its ledger and key-holder state are sealed. The error, which wraps
// [ErrNotSuccessor], names the first difference.
func CheckSuccessor(prev, next *Config) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrNotSuccessor, fmt.Sprintf(format, a...))
	}
	want := NextLineage(prev, next)
	got := next.Lineage
	switch {
	case got == nil:
		return bad("the config has no lineage (it is a first version)")
	case got.Previous != want.Previous:
		return bad("its lineage follows config %.16s…, not %.16s…", got.Previous, want.Previous)
	case got.Revision != want.Revision:
		return bad("revision %d, the version after revision %d is %d", got.Revision, prev.Revision(), want.Revision)
	case !slices.Equal(got.Added, want.Added):
		return bad("its lineage adds %q, the members new since the previous version are %q", got.Added, want.Added)
	case !slices.Equal(got.Removed, want.Removed):
		return bad("its lineage removes %q, the members of earlier versions not in this one are %q", got.Removed, want.Removed)
	case next.Name != prev.Name:
		return bad("name %q, the previous version's is %q: members' ledgers are named by the federation's name, so a new name would start every budget afresh", next.Name, prev.Name)
	}
	p, n := prev.DP, next.DP
	if p.Enabled != n.Enabled || p.Epsilon != n.Epsilon || p.Delta != n.Delta || p.Accountant != n.Accountant || p.PrivacyUnit != n.PrivacyUnit {
		return bad("DP budget ε ≤ %g at δ %g (%s accountant, privacy unit %q), the previous version's is ε ≤ %g at δ %g (%s, %q): members' ledgers keep one budget across versions",
			n.Epsilon, n.Delta, n.Accountant, n.PrivacyUnit, p.Epsilon, p.Delta, p.Accountant, p.PrivacyUnit)
	}
	for _, m := range next.Members {
		old, ok := prev.Member(m.ID)
		if ok && (old.Recipient != m.Recipient || old.SigningKey != m.SigningKey) {
			return bad("member %q has other keys than in the previous version: its ledger and key-holder state are sealed to its keys; remove it and add it under a new id", m.ID)
		}
	}
	return nil
}

// Changes describes what next changes from prev, one phrase each, for a
// member to read before it accepts: members added and removed, roles,
// threshold, keys and TLS pins that changed.
func Changes(prev, next *Config) []string {
	var out []string
	l := NextLineage(prev, next)
	if len(l.Added) > 0 {
		out = append(out, fmt.Sprintf("adds %q", l.Added))
	}
	for _, m := range prev.Members {
		if _, ok := next.Member(m.ID); !ok {
			out = append(out, fmt.Sprintf("removes %q", m.ID))
		}
	}
	if p, n := prev.KeyHolders(), next.KeyHolders(); !slices.Equal(p, n) {
		out = append(out, fmt.Sprintf("key holders %q → %q", p, n))
	}
	if prev.Threshold != next.Threshold {
		out = append(out, fmt.Sprintf("threshold %d → %d", prev.Threshold, next.Threshold))
	}
	if prev.MinContributors != next.MinContributors {
		out = append(out, fmt.Sprintf("min_contributors %d → %d", prev.MinContributors, next.MinContributors))
	}
	for _, m := range next.Members {
		old, ok := prev.Member(m.ID)
		if ok && (old.Contributor != m.Contributor || old.KeyHolder != m.KeyHolder) {
			out = append(out, fmt.Sprintf("member %q's roles change", m.ID))
		}
		if ok && old.TLSKey != m.TLSKey {
			out = append(out, fmt.Sprintf("member %q's certificate key changes", m.ID))
		}
	}
	if prev.Aggregator != next.Aggregator {
		out = append(out, "the aggregator's keys change")
	}
	if prev.Training.Rounds != next.Training.Rounds {
		out = append(out, fmt.Sprintf("rounds %d → %d", prev.Training.Rounds, next.Training.Rounds))
	}
	return out
}
