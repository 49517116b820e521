package client

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/fedcrypt/fedcrypt/dp"
	"github.com/fedcrypt/fedcrypt/vault"
)

const (
	sealKindLedger = "fedcrypt/ledger"
	// datasetKeyInfo derives the key of the data set digest from the
	// hospital's signing key: only the hospital can link a ledger to its
	// data, and a small data set's digest cannot be brute-forced by anyone
	// else.
	datasetKeyInfo = "fedcrypt/v1/dataset-digest-key"
	// ledgerKeyInfo derives the key that names the member's ledger.
	ledgerKeyInfo = "fedcrypt/v1/ledger-id-key"
)

// ledgerID names the member's ledger: a keyed digest of the federation's
// name and the member's id, so that the ledger's identity survives a new
// version of the federation (members added or removed) and a new export
// of the data, and reveals nothing to whoever sees it without the key.
func ledgerID(c *Client) (string, error) {
	key, err := hkdf.Key(sha256.New, c.cfg.Identity.SigningKey().Seed(), nil, ledgerKeyInfo, 32)
	if err != nil {
		return "", err
	}
	return dp.DatasetID(key, strings.NewReader(c.fed.Name+"\x00"+c.me.ID))
}

// ledger is the hospital's privacy budget as a member of its federation: a
// dp.Ledger (every spend, the accountant's ε after it, the cap) kept sealed
// to the hospital's own identity, across runs, whatever data file it
// brings to each. Its identity is the member in its federation, not the
// data's bytes: a data set exported again (rows reordered, a patient added)
// spends from the same budget. Every spend is sealed to disk before
// training starts, so a crash can lose a round's result but never
// under-count ε. Its version, the number of entries, only grows; every
// claim carries it, so a ledger restored from an older copy is caught
// (onWelcome, and audit verification).
type ledger struct {
	c         *Client
	l         *dp.Ledger
	store     dp.Store
	sigma     float64 // the noise multiplier this hospital trains with
	evalSigma float64 // that of its evaluation release (0 without one)
	epsilon   float64 // spent so far
}

// datasetCommitment is the keyed digest of the hospital's data set: the
// name of its ledger, and the commitment its claims carry.
func datasetCommitment(c *Client) ([32]byte, error) {
	var out [32]byte
	key, err := hkdf.Key(sha256.New, c.cfg.Identity.SigningKey().Seed(), nil, datasetKeyInfo, 32)
	if err != nil {
		return out, err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(c.cfg.Data.WriteCSV(pw)) }()
	id, err := dp.DatasetID(key, pr)
	pr.Close()
	if err != nil {
		return out, err
	}
	b, err := hex.DecodeString(id)
	if err != nil || len(b) != 32 {
		return out, fmt.Errorf("data set digest %q", id)
	}
	copy(out[:], b)
	return out, nil
}

// openLedger loads the sealed ledger of the hospital's data set (or starts
// one) and calibrates the noise multiplier so that the federation's planned
// rounds fit what is left of the cap.
func openLedger(c *Client) (*ledger, error) {
	l := &ledger{c: c}
	d := c.fed.DP
	if !d.Enabled || !c.me.Contributor {
		return l, nil
	}
	id, err := ledgerID(c)
	if err != nil {
		return nil, err
	}
	cfg := dp.LedgerConfig{EpsilonCap: d.Epsilon, Delta: d.Delta, Accountant: dp.AccountantConfig{Kind: d.Accountant}}
	l.store = &sealedStore{c: c, path: c.statePath("ledger")}
	ctx := context.Background()
	l.l, err = dp.LoadLedger(ctx, l.store)
	if errors.Is(err, fs.ErrNotExist) {
		if old := legacyLedgers(c); len(old) > 0 {
			return nil, fmt.Errorf("%s holds a ledger per data set (%s), from an earlier fedcrypt; this version keeps one per member: start a new federation, or keep using the earlier version for this one", c.cfg.StateDir, filepath.Base(old[0]))
		}
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		units := c.cfg.Data.Rows()
		if c.units != nil {
			units = c.cfg.Data.NumUnits()
		}
		if l.l, err = dp.NewLedger(id, units, cfg); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	default:
		got := l.l.Config()
		if l.l.Dataset() != id {
			return nil, fmt.Errorf("ledger %s belongs to another member or federation", c.statePath("ledger"))
		}
		if got.Delta != cfg.Delta || got.Accountant.Kind != cfg.Accountant.Kind || got.EpsilonCap != cfg.EpsilonCap {
			return nil, fmt.Errorf("this member's ledger keeps ε ≤ %g at δ %g (%s); the federation asks ε ≤ %g at δ %g (%s)",
				got.EpsilonCap, got.Delta, got.Accountant.Kind, cfg.EpsilonCap, cfg.Delta, cfg.Accountant.Kind)
		}
	}
	l.epsilon = l.l.Epsilon()
	if e := c.fed.Evaluation; e.Enabled {
		// The evaluation release costs Epsilon on its own; training is
		// calibrated to leave room for it.
		if l.evalSigma, err = dp.CalibrateNoise(cfg.Accountant, e.Epsilon, d.Delta, 1, 1); err != nil {
			return nil, fmt.Errorf("calibrate the evaluation release: %w", err)
		}
	}
	spent := l.spentAndPlanned()
	planned := (c.fed.Training.Rounds + c.fed.Training.SpareRounds) * c.fed.Training.LocalSteps
	if l.epsilon >= d.Epsilon {
		l.sigma = math.Inf(1)
		return l, nil
	}
	l.sigma, err = dp.CalibrateNoise(cfg.Accountant, d.Epsilon, d.Delta, d.SampleRate, planned, spent...)
	if err != nil {
		return nil, fmt.Errorf("calibrate noise for ε ≤ %g over %d steps: %w", d.Epsilon, planned, err)
	}
	return l, nil
}

// reserve charges this round's steps if they fit the cap, sealing the
// ledger before it returns; it wraps dp.ErrBudgetExhausted otherwise.
func (l *ledger) reserve(round uint64) error {
	d := l.c.fed.DP
	if !d.Enabled {
		return nil
	}
	if math.IsInf(l.sigma, 1) {
		return fmt.Errorf("ε %.4g of cap %g already spent: %w", l.epsilon, d.Epsilon, dp.ErrBudgetExhausted)
	}
	unit := d.PrivacyUnit
	if unit == "" {
		unit = "record"
	}
	eps, err := l.l.Reserve(context.Background(), l.store, dp.Entry{
		Run:      l.roundPrefix() + strconv.FormatUint(round, 10),
		Kind:     dp.EntryTraining,
		Event:    dp.Event{SampleRate: d.SampleRate, NoiseMultiplier: l.sigma, Steps: l.c.fed.Training.LocalSteps},
		ClipNorm: d.ClipNorm, PrivacyUnit: unit,
	})
	if err != nil {
		return err
	}
	l.epsilon = eps
	return nil
}

// roundPrefix names this federation's rounds in the ledger: the prefix
// of "federation-HASH/round-N".
func (l *ledger) roundPrefix() string {
	return fmt.Sprintf("federation-%.16s/round-", l.c.hash.String())
}

// lastRound returns the last round of this federation the ledger charged
// training for, 0 if none.
func (l *ledger) lastRound() uint64 {
	if l.l == nil {
		return 0
	}
	prefix := l.roundPrefix()
	var last uint64
	for _, e := range l.l.Entries() {
		if r, ok := strings.CutPrefix(e.Run, prefix); ok {
			if n, err := strconv.ParseUint(r, 10, 64); err == nil {
				last = max(last, n)
			}
		}
	}
	return last
}

// spentAndPlanned lists the ledger's events and this federation's
// releases still to come (its statistics, its evaluation): what training
// must leave room for.
func (l *ledger) spentAndPlanned() []dp.Event {
	var ev []dp.Event
	for _, e := range l.l.Entries() {
		ev = append(ev, e.Event)
	}
	if !l.released(l.statsRun()) {
		ev = append(ev, l.c.release.Event())
	}
	if l.evalSigma > 0 && !l.released(l.runPrefix()+"evaluation") {
		ev = append(ev, dp.Event{SampleRate: 1, NoiseMultiplier: l.evalSigma, Steps: 1})
	}
	return ev
}

// released reports whether the ledger holds the release named run.
func (l *ledger) released(run string) bool {
	return slices.ContainsFunc(l.l.Entries(), func(e dp.Entry) bool { return e.Kind == dp.EntryRelease && e.Run == run })
}

// reserveRelease charges a release to the ledger, sealed before it
// returns; it wraps dp.ErrBudgetExhausted if the release does not fit.
func (l *ledger) reserveRelease(run string, e dp.Entry) error {
	eps, err := l.l.Reserve(context.Background(), l.store, e)
	if err != nil {
		return fmt.Errorf("release %s: %w", run, err)
	}
	l.epsilon = eps
	return nil
}

// release charges the evaluation release to the ledger, sealed first, and
// returns the counts, of L2 sensitivity sensitivity, with Gaussian noise:
// Google's sampler, or dp's own keyed from Config.TrainRand when one was
// given.
func (l *ledger) release(counts []int64, sensitivity float64) ([]int64, error) {
	unit := l.c.fed.DP.PrivacyUnit
	if unit == "" {
		unit = "record"
	}
	out, err := l.l.ReleaseVectorFrom(context.Background(), l.store, l.runPrefix()+"evaluation", unit, counts, sensitivity, l.evalSigma, l.c.cfg.TrainRand)
	if err != nil {
		return nil, err
	}
	l.epsilon = l.l.Epsilon()
	return out, nil
}

func (l *ledger) runPrefix() string { return fmt.Sprintf("federation-%.16s/", l.c.hash.String()) }

// recalibrate keeps the noise multiplier fitted to what is left: when the
// hospital has trained in other than exactly the rounds before this one
// (it missed rounds, trained twice in an abandoned and retried round, or
// resumed after a crash), σ is calibrated anew so that the trainings still
// planned, this one included, spend what remains of the cap.
func (l *ledger) recalibrate(round uint64) error {
	d := l.c.fed.DP
	trained := 0
	for _, e := range l.l.Entries() {
		if strings.HasPrefix(e.Run, l.runPrefix()) && e.Kind == dp.EntryTraining {
			trained++
		}
	}
	spent := l.spentAndPlanned()
	if uint64(trained) == round-1 {
		return nil
	}
	// What is left is shared over the trainings still planned, and at
	// least over the rounds still to come.
	tr := l.c.fed.Training
	left := max(tr.Rounds-int(round)+1, tr.Rounds+tr.SpareRounds-trained, 1)
	sigma, err := dp.CalibrateNoise(l.l.Config().Accountant, d.Epsilon, d.Delta, d.SampleRate, left*l.c.fed.Training.LocalSteps, spent...)
	if errors.Is(err, dp.ErrBudgetExhausted) {
		return fmt.Errorf("round %d: ε %.4g of cap %g spent: %w", round, l.epsilon, d.Epsilon, err)
	}
	if err != nil {
		return err
	}
	l.sigma = sigma
	return nil
}

func (l *ledger) steps() int {
	if l.l == nil {
		return 0
	}
	n := 0
	for _, e := range l.l.Entries() {
		if e.Kind != dp.EntryRelease { // one-off releases are not DP-SGD steps
			n += e.Steps
		}
	}
	return n
}

// sealedStore keeps a ledger in a file sealed to the hospital's own
// identity and signed by it; without a state directory it keeps the bytes
// in memory.
type sealedStore struct {
	c    *Client
	path string // "" = memory only
	mem  []byte
}

func (s *sealedStore) Load(ctx context.Context) ([]byte, error) {
	if s.path == "" {
		if s.mem == nil {
			return nil, fs.ErrNotExist
		}
		return s.mem, nil
	}
	id := s.c.cfg.Identity
	return vault.Unseal(s.path, sealKindLedger, id.SigningPublicKey(), id)
}

func (s *sealedStore) Save(ctx context.Context, b []byte) error {
	if s.path == "" {
		s.mem = append(s.mem[:0], b...)
		return nil
	}
	id := s.c.cfg.Identity
	return vault.Seal(s.path, sealKindLedger, b, id.SigningKey(), id.Recipients()...)
}

// version is the ledger's version: the number of its entries.
func (l *ledger) version() uint64 {
	if l.l == nil {
		return 0
	}
	return uint64(len(l.l.Entries()))
}

// legacyLedgers lists the per-data-set ledgers earlier versions kept for
// this member.
func legacyLedgers(c *Client) []string {
	if c.cfg.StateDir == "" {
		return nil
	}
	old, _ := filepath.Glob(filepath.Join(c.cfg.StateDir, c.me.ID+".ledger-*.age"))
	return old
}
