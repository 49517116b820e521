package client

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/fedcrypt/fedcrypt/audit"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/protocol"
	"github.com/fedcrypt/fedcrypt/vault"
)

// SealKindWitness names a hospital's sealed witness file.
const SealKindWitness = "fedcrypt/witness"

// witnessName is the state file's name (before ".age") for one federation:
// a hospital keeps one witness per federation it takes part in.
func witnessName(fed federation.Hash) string { return "witness-" + fed.String()[:16] }

// onHead checks the signed head a result or end-of-run message carries and
// keeps it. A head that is missing, not signed by the aggregator, or that
// does not move the log forward (fewer entries than a head already held,
// or a round not after the last completed one) is a protocol error: the
// hospital stops rather than take part in a log the aggregator rewrote.
func (c *Client) onHead(h audit.Head, sig []byte) error {
	agg := c.fed.Aggregator.ID
	if h.Entries == 0 {
		return fmt.Errorf("aggregator %q round %d: no signed audit head with the %s message", agg, h.Round, h.Type)
	}
	if err := audit.VerifyHead(c.fed, h, sig); err != nil {
		return fmt.Errorf("aggregator %q round %d: %w", agg, h.Round, err)
	}
	if err := advances(c.witnesses, h); err != nil {
		return fmt.Errorf("aggregator %q round %d: %w", agg, h.Round, err)
	}
	if n := len(c.witnesses); n > 0 && c.witnesses[n-1].Head == h {
		return nil // the same head again
	}
	c.witnesses = append(c.witnesses, audit.Witness{Hospital: c.me.ID, Head: h, Signature: slices.Clone(sig)})
	b, err := marshalWitness(c.me.ID, c.hash, c.witnesses)
	if err != nil {
		return err
	}
	if err := c.sealWitness(b); err != nil {
		return fmt.Errorf("keep the audit head of round %d: %w", h.Round, err)
	}
	return nil
}

// onAnnounce takes a round announcement's head of the last round that
// ended: it keeps it like a result's, unless it already holds it. Then,
// before the hospital takes part in a round after the last one it took part
// in, it must hold a head that covers that one: an aggregator that withholds
// heads could otherwise rewrite every round from there on with no hospital
// holding evidence against it.
func (c *Client) onAnnounce(round uint64, prev protocol.PrevHead) error {
	agg := c.fed.Aggregator.ID
	if prev.Head.Entries != 0 {
		typ := audit.TypeRoundAbandoned
		if prev.Completed {
			typ = audit.TypeRound
		}
		h := audit.Head{Config: c.hash, Type: typ, Round: prev.Round, Entries: prev.Head.Entries, Hash: prev.Head.Hash}
		held := slices.ContainsFunc(c.witnesses, func(w audit.Witness) bool { return w.Head == h })
		if !held {
			if err := c.onHead(h, prev.Head.Sig); err != nil {
				return err
			}
		}
	}
	if c.took == 0 || round <= c.took {
		return nil
	}
	covered := slices.ContainsFunc(c.witnesses, func(w audit.Witness) bool {
		return w.Head.Type == audit.TypeEnd || w.Head.Round >= c.took
	})
	if !covered {
		return fmt.Errorf("aggregator %q announced round %d without a signed audit-log head for round %d, in which this hospital took part (head withheld)", agg, round, c.took)
	}
	return nil
}

// advances checks that h may follow the heads held (oldest first): more
// entries than the latest, a round not before the latest round reported,
// and never again a round that completed (an end reports the last
// completed round itself, and no earlier one).
func advances(held []audit.Witness, h audit.Head) error {
	if len(held) == 0 {
		return nil
	}
	last := held[len(held)-1].Head
	if last == h {
		return nil
	}
	if h.Entries <= last.Entries {
		return fmt.Errorf("signed head of entry %d does not advance past entry %d, signed for round %d: the aggregator's audit log is behind the one this member witnessed "+
			"(an aggregator started afresh on a federation that already ran, or one rewinding its log); an interrupted run continues with aggregator serve --resume on its output directory, and a new run needs a new federation (fedcrypt init)",
			h.Entries, last.Entries, last.Round)
	}
	var completed, latest uint64
	for _, w := range held {
		switch {
		case w.Head.Type == audit.TypeRound && w.Head.Round == h.Round && h.Type != audit.TypeEnd:
			return fmt.Errorf("round %d completed at entry %d with head %x…; a second signed head (entry %d) for it",
				h.Round, w.Head.Entries, w.Head.Hash[:6], h.Entries)
		case w.Head.Type == audit.TypeRound:
			completed, latest = max(completed, w.Head.Round), max(latest, w.Head.Round)
		case w.Head.Type == audit.TypeRoundAbandoned:
			latest = max(latest, w.Head.Round)
		}
	}
	switch {
	case h.Type == audit.TypeEnd && h.Round < completed:
		return fmt.Errorf("signed end of the run after round %d, when round %d completed (rounds rewound)", h.Round, completed)
	case h.Type != audit.TypeEnd && h.Round < latest:
		return fmt.Errorf("signed head of round %d after one of round %d (rounds rewound)", h.Round, latest)
	case h.Type != audit.TypeEnd && h.Round <= completed:
		return fmt.Errorf("signed head of round %d after round %d completed (rounds rewound)", h.Round, completed)
	}
	return nil
}

// sealWitness writes the witness file, sealed to the hospital and the
// federation's auditors: it holds nothing secret, and an auditor needs it.
// Without a state directory it does nothing.
func (c *Client) sealWitness(b []byte) error {
	path := c.statePath(witnessName(c.hash))
	if path == "" {
		return nil
	}
	auditors, err := c.fed.AuditorRecipients()
	if err != nil {
		return err
	}
	return vault.Seal(path, SealKindWitness, b, c.cfg.Identity.SigningKey(), append(c.cfg.Identity.Recipients(), auditors...)...)
}

// restoreWitness loads the hospital's witness of this federation, if the
// state directory has one.
func (c *Client) restoreWitness() error {
	path := c.statePath(witnessName(c.hash))
	if path == "" {
		return nil
	}
	ws, err := openWitness(path, c.me.ID, c.fed, c.cfg.Identity)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	c.witnesses = ws
	return err
}

// LoadWitness opens the witnesses hospitals kept of fed's audit log, for
// [audit.Options]: path is a sealed witness file, or a directory whose
// witness files of fed are all read, there and in its subdirectories (a
// hospital's state directory, or a simulation's hospitals directory). id is an identity the files are sealed to: the
// hospital's own, or one of the federation's auditors'. Each file must be
// written and signed by the member its name gives, for fed.
func LoadWitness(path string, fed *federation.Config, id *vault.Identity) ([]audit.Witness, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("witness: %w", err)
	}
	files := []string{path}
	if st.IsDir() {
		suffix := "." + witnessName(fed.Hash()) + ".age"
		files = nil
		for _, pattern := range []string{"*" + suffix, filepath.Join("*", "*"+suffix)} {
			m, err := filepath.Glob(filepath.Join(path, pattern))
			if err != nil {
				return nil, err
			}
			files = append(files, m...)
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("witness: no witness of federation %.16s… in %s", fed.Hash().String(), path)
		}
	}
	var out []audit.Witness
	for _, f := range files {
		member, _, ok := strings.Cut(filepath.Base(f), ".witness-")
		if !ok {
			return nil, fmt.Errorf("witness %s: not a witness file name (MEMBER.witness-HASH.age)", f)
		}
		ws, err := openWitness(f, member, fed, id)
		if err != nil {
			return nil, err
		}
		out = append(out, ws...)
	}
	return out, nil
}

// openWitness unseals the witness file at path written by member.
func openWitness(path, member string, fed *federation.Config, id *vault.Identity) ([]audit.Witness, error) {
	key, err := fed.SigningKey(member)
	if err != nil {
		return nil, fmt.Errorf("witness %s: %w", path, err)
	}
	b, err := vault.Unseal(path, SealKindWitness, key, id)
	if err != nil {
		return nil, fmt.Errorf("witness: %w", err)
	}
	ws, err := parseWitness(b, member, fed.Hash())
	if err != nil {
		return nil, fmt.Errorf("witness %s: %w", path, err)
	}
	return ws, nil
}

// witnessFile is the sealed payload: one hospital's signed heads of one
// federation's log, oldest first.
type witnessFile struct {
	Hospital   string        `json:"hospital"`
	ConfigHash string        `json:"config_hash"`
	Heads      []witnessHead `json:"heads"`
}

type witnessHead struct {
	Type      string `json:"type"`
	Round     uint64 `json:"round"`
	Entries   uint64 `json:"entries"`
	Hash      string `json:"hash"`
	Signature []byte `json:"signature"`
}

func marshalWitness(member string, fed federation.Hash, ws []audit.Witness) ([]byte, error) {
	f := witnessFile{Hospital: member, ConfigHash: fed.String(), Heads: []witnessHead{}}
	for _, w := range ws {
		f.Heads = append(f.Heads, witnessHead{Type: w.Head.Type, Round: w.Head.Round, Entries: w.Head.Entries,
			Hash: hex.EncodeToString(w.Head.Hash[:]), Signature: w.Signature})
	}
	return json.Marshal(f)
}

// parseWitness decodes a witness payload of member for the federation with
// config hash fed. Signatures are [audit.VerifyRun]'s to check.
func parseWitness(b []byte, member string, fed federation.Hash) ([]audit.Witness, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f witnessFile
	if err := dec.Decode(&f); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("data after the witness")
	}
	if f.Hospital != member {
		return nil, fmt.Errorf("the witness of %q, not of %q", f.Hospital, member)
	}
	if f.ConfigHash != fed.String() {
		return nil, fmt.Errorf("a witness of another federation (config hash %.16s…)", f.ConfigHash)
	}
	var ws []audit.Witness
	for i, h := range f.Heads {
		w := audit.Witness{Hospital: member, Signature: h.Signature,
			Head: audit.Head{Config: fed, Type: h.Type, Round: h.Round, Entries: h.Entries}}
		d, err := hex.DecodeString(h.Hash)
		if err != nil || len(d) != 32 {
			return nil, fmt.Errorf("head %d: hash %q is not 32 hex bytes", i+1, h.Hash)
		}
		copy(w.Head.Hash[:], d)
		if err := advances(ws, w.Head); err != nil || (len(ws) > 0 && ws[len(ws)-1].Head == w.Head) {
			return nil, fmt.Errorf("head %d does not follow the one before", i+1)
		}
		ws = append(ws, w)
	}
	return ws, nil
}

// resultHead is the head a round result carries, as signed.
func resultHead(fed federation.Hash, round uint64, res protocol.Result) audit.Head {
	typ := audit.TypeRoundAbandoned
	if res.Completed {
		typ = audit.TypeRound
	}
	return audit.Head{Config: fed, Type: typ, Round: round, Entries: res.Head.Entries, Hash: res.Head.Hash}
}
