package dp

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
)

// Store keeps one ledger durably. Save must not return before the bytes
// would survive a crash (written, synced, atomically replacing the previous
// version); Load returns what the last successful Save wrote, or an error
// wrapping fs.ErrNotExist when nothing was saved. The federation implements
// it with sealed age files; [FileStore] is a plain-file implementation.
type Store interface {
	Load(ctx context.Context) ([]byte, error)
	Save(ctx context.Context, b []byte) error
}

// Entry kinds.
const (
	EntryTraining = "dp-sgd"  // a DP-SGD run or federated round
	EntryRelease  = "release" // noisy statistics released outside training
)

// Entry is one spend recorded in a [Ledger].
type Entry struct {
	Run  string `json:"run"`  // the run or round it belongs to, e.g. "fed-3/round-12"
	Kind string `json:"kind"` // EntryTraining or EntryRelease
	Event
	ClipNorm    float64 `json:"clip_norm,omitempty"`
	PrivacyUnit string  `json:"privacy_unit"` // "record" or the privacy-unit column
	Epsilon     float64 `json:"epsilon"`      // the ledger's ε after this entry
}

// LedgerConfig is a ledger's budget: at most EpsilonCap at Delta, under
// the accountant Accountant.
type LedgerConfig struct {
	EpsilonCap float64          `json:"epsilon_cap"`
	Delta      float64          `json:"delta"`
	Accountant AccountantConfig `json:"accountant"`
}

// Validate reports the first setting out of range.
func (c LedgerConfig) Validate() error {
	if !(c.EpsilonCap > 0) || math.IsInf(c.EpsilonCap, 0) {
		return fmt.Errorf("dp: ledger epsilon cap %v: must be a finite number > 0", c.EpsilonCap)
	}
	if !(c.Delta > 0 && c.Delta < 1) {
		return fmt.Errorf("dp: ledger delta %v: must be in (0, 1)", c.Delta)
	}
	return c.Accountant.Validate()
}

// Ledger is the privacy spent on one data set across runs and federations.
// It serializes deterministically (MarshalJSON) and every ε in it can be
// recomputed from the entries and the accountant settings ([Ledger.Verify]).
// It is not safe for concurrent use.
type Ledger struct {
	dataset string
	rows    int
	cfg     LedgerConfig
	entries []Entry
}

// digestPattern is the form of a data set identifier.
var digestPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// DatasetID returns the identifier of the data set read from r: the hex
// HMAC-SHA256 of its bytes under key (at least 16 bytes, kept by the
// hospital), so that the identifier reveals nothing about the contents to
// anyone without the key and names the same data set in every run.
func DatasetID(key []byte, r io.Reader) (string, error) {
	if len(key) < 16 {
		return "", fmt.Errorf("dp: data set digest key of %d bytes: need at least 16", len(key))
	}
	h := hmac.New(sha256.New, key)
	if _, err := io.Copy(h, r); err != nil {
		return "", fmt.Errorf("dp: data set digest: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// NewLedger returns an empty ledger for the data set dataset (a
// [DatasetID]) of rows rows (records, or privacy units).
func NewLedger(dataset string, rows int, cfg LedgerConfig) (*Ledger, error) {
	if !digestPattern.MatchString(dataset) {
		return nil, fmt.Errorf("dp: ledger data set %q: want 64 lower-case hex digits (DatasetID)", dataset)
	}
	if rows < 1 {
		return nil, fmt.Errorf("dp: ledger rows %d: must be ≥ 1", rows)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Accountant = cfg.Accountant.withDefaults()
	return &Ledger{dataset: dataset, rows: rows, cfg: cfg}, nil
}

// Dataset returns the data set identifier.
func (l *Ledger) Dataset() string { return l.dataset }

// Config returns the budget.
func (l *Ledger) Config() LedgerConfig { return l.cfg }

// Entries returns a copy of the entries in order.
func (l *Ledger) Entries() []Entry { return append([]Entry(nil), l.entries...) }

// Epsilon returns the ε spent so far (0 for an empty ledger).
func (l *Ledger) Epsilon() float64 {
	if len(l.entries) == 0 {
		return 0
	}
	return l.entries[len(l.entries)-1].Epsilon
}

// Warnings returns what is legal but unwise about the ledger's settings:
// a δ of at least 1/n allows releasing one record of n outright.
func (l *Ledger) Warnings() []string {
	var w []string
	if l.cfg.Delta >= 1/float64(l.rows) {
		w = append(w, fmt.Sprintf("delta %g is not below 1/n = 1/%d: the guarantee allows revealing a record outright", l.cfg.Delta, l.rows))
	}
	return w
}

// events returns the entries as accountant events.
func events(entries []Entry) []Event {
	ev := make([]Event, len(entries))
	for i, e := range entries {
		ev[i] = e.Event
	}
	return ev
}

// Check returns the ε the ledger would reach with e added, and an error
// wrapping [ErrBudgetExhausted] if that exceeds the cap. It records nothing.
func (l *Ledger) Check(e Entry) (float64, error) {
	if err := e.validate(); err != nil {
		return 0, err
	}
	eps, err := Epsilon(l.cfg.Accountant, l.cfg.Delta, append(events(l.entries), e.Event)...)
	if err != nil {
		return 0, err
	}
	if eps > l.cfg.EpsilonCap {
		return eps, fmt.Errorf("dp: data set %.12s…: %s %q would bring ε to %.4g, over the cap %g (spent %.4g): %w",
			l.dataset, e.Kind, e.Run, eps, l.cfg.EpsilonCap, l.Epsilon(), ErrBudgetExhausted)
	}
	return eps, nil
}

// Reserve records e, with the ε after it, and saves the ledger to store
// before returning: call it before the data is touched, so that the spend is
// on disk before any result derived from the data can leave the process.
// It refuses, recording nothing, with an error wrapping [ErrBudgetExhausted]
// when e would take ε over the cap. A failed Save leaves the ledger as it was.
func (l *Ledger) Reserve(ctx context.Context, store Store, e Entry) (float64, error) {
	eps, err := l.Check(e)
	if err != nil {
		return 0, err
	}
	e.Epsilon = eps
	l.entries = append(l.entries, e)
	b, err := l.MarshalJSON()
	if err == nil {
		err = store.Save(ctx, b)
	}
	if err != nil {
		l.entries = l.entries[:len(l.entries)-1]
		return 0, fmt.Errorf("dp: save ledger of data set %.12s…: %w", l.dataset, err)
	}
	return eps, nil
}

func (e Entry) validate() error {
	if e.Kind != EntryTraining && e.Kind != EntryRelease {
		return fmt.Errorf("dp: ledger entry kind %q: must be %q or %q", e.Kind, EntryTraining, EntryRelease)
	}
	if e.Run == "" {
		return errors.New("dp: ledger entry has no run name")
	}
	if e.PrivacyUnit == "" {
		return fmt.Errorf("dp: ledger entry %q has no privacy unit (\"record\" or a column)", e.Run)
	}
	if !(e.ClipNorm >= 0) || math.IsInf(e.ClipNorm, 0) {
		return fmt.Errorf("dp: ledger entry %q: clip norm %v", e.Run, e.ClipNorm)
	}
	if err := e.Event.Validate(); err != nil {
		return fmt.Errorf("dp: ledger entry %q: %w", e.Run, err)
	}
	return nil
}

// Verify recomputes the ε after every entry from the entries and the
// accountant settings, and reports the first that differs from the one
// recorded by more than 1e-9 relative.
func (l *Ledger) Verify() error {
	for i := range l.entries {
		eps, err := Epsilon(l.cfg.Accountant, l.cfg.Delta, events(l.entries[:i+1])...)
		if err != nil {
			return fmt.Errorf("dp: ledger entry %d: %w", i, err)
		}
		if rec := l.entries[i].Epsilon; math.Abs(eps-rec) > 1e-9*math.Max(1, eps) {
			return fmt.Errorf("dp: ledger entry %d (%q) records ε %v, recomputed %v", i, l.entries[i].Run, rec, eps)
		}
	}
	return nil
}

// ledgerJSON is the serialized form, version 1.
type ledgerJSON struct {
	Version int          `json:"version"`
	Dataset string       `json:"dataset"`
	Rows    int          `json:"rows"`
	Budget  LedgerConfig `json:"budget"`
	Entries []Entry      `json:"entries"`
}

// MarshalJSON encodes the ledger deterministically: fixed field order,
// entries in order, floats in their shortest exact form.
func (l *Ledger) MarshalJSON() ([]byte, error) {
	e := l.entries
	if e == nil {
		e = []Entry{}
	}
	return json.Marshal(ledgerJSON{Version: 1, Dataset: l.dataset, Rows: l.rows, Budget: l.cfg, Entries: e})
}

// UnmarshalLedger decodes and validates a ledger saved by MarshalJSON:
// settings, entries and that no entry exceeds the cap. Verify recomputes
// the recorded ε values.
func UnmarshalLedger(b []byte) (*Ledger, error) {
	var j ledgerJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return nil, fmt.Errorf("dp: decode ledger: %w", err)
	}
	if dec.More() {
		return nil, errors.New("dp: decode ledger: data after the ledger object")
	}
	if j.Version != 1 {
		return nil, fmt.Errorf("dp: decode ledger: version %d, want 1", j.Version)
	}
	l, err := NewLedger(j.Dataset, j.Rows, j.Budget)
	if err != nil {
		return nil, fmt.Errorf("dp: decode ledger: %w", err)
	}
	prev := 0.0
	for i, e := range j.Entries {
		if err := e.validate(); err != nil {
			return nil, fmt.Errorf("dp: decode ledger: entry %d: %w", i, err)
		}
		if !(e.Epsilon >= prev) || e.Epsilon > l.cfg.EpsilonCap {
			return nil, fmt.Errorf("dp: decode ledger: entry %d: ε %v not in [%v, cap %v]", i, e.Epsilon, prev, l.cfg.EpsilonCap)
		}
		prev = e.Epsilon
	}
	l.entries = j.Entries
	return l, nil
}

// LoadLedger reads the ledger in store.
func LoadLedger(ctx context.Context, store Store) (*Ledger, error) {
	b, err := store.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("dp: load ledger: %w", err)
	}
	return UnmarshalLedger(b)
}
