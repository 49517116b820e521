package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"

	"github.com/fedcrypt/fedcrypt/dp"
	"github.com/fedcrypt/fedcrypt/vault"
)

const sealKindLedger = "fedcrypt/ledger"

// ledger is the hospital's privacy ledger for its data set: every DP-SGD
// spend, the accountant's ε after it, and the budget guard. It is sealed to
// the hospital's own identity after every change, before any result derived
// from the spend leaves the hospital, so a crash can lose a result but never
// under-count ε.
type ledger struct {
	c       *Client
	acct    *dp.Accountant
	sigma   float64 // the noise multiplier this hospital trains with
	epsilon float64 // spent so far
	cap     float64
	entries []ledgerEntry
}

// ledgerEntry is one round's spend.
type ledgerEntry struct {
	Federation      string  `json:"federation"` // config hash
	Round           uint64  `json:"round"`
	SampleRate      float64 `json:"sample_rate"`
	NoiseMultiplier float64 `json:"noise_multiplier"`
	Steps           int     `json:"steps"`
	ClipNorm        float64 `json:"clip_norm"`
	PrivacyUnit     string  `json:"privacy_unit,omitempty"`
	Epsilon         float64 `json:"epsilon"` // the accountant's ε after this entry
}

type ledgerFile struct {
	Accountant *dp.Accountant `json:"accountant"`
	Delta      float64        `json:"delta"`
	Entries    []ledgerEntry  `json:"entries"`
}

// openLedger loads the hospital's sealed ledger (or starts an empty one)
// and calibrates the noise multiplier so that the federation's planned
// rounds fit what is left of the cap.
func openLedger(c *Client) (*ledger, error) {
	l := &ledger{c: c}
	d := c.fed.DP
	if !d.Enabled || !c.me.Contributor {
		return l, nil
	}
	l.cap = d.Epsilon
	cfg := dp.AccountantConfig{Kind: d.Accountant}
	var err error
	if l.acct, err = dp.NewAccountant(cfg); err != nil {
		return nil, err
	}
	if path := c.statePath("ledger"); path != "" {
		writer := c.cfg.Identity.SigningPublicKey()
		raw, err := vault.Unseal(path, sealKindLedger, writer, c.cfg.Identity)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return nil, fmt.Errorf("ledger: %w", err)
		default:
			var f ledgerFile
			if err := json.Unmarshal(raw, &f); err != nil {
				return nil, fmt.Errorf("ledger %s: %w", path, err)
			}
			if f.Accountant.Config().Kind != d.Accountant || f.Delta != d.Delta {
				return nil, fmt.Errorf("ledger %s: kept with accountant %s and δ %g, the federation uses %s and δ %g",
					path, f.Accountant.Config().Kind, f.Delta, d.Accountant, d.Delta)
			}
			l.acct, l.entries = f.Accountant, f.Entries
			if l.epsilon, err = l.acct.Epsilon(d.Delta); err != nil {
				return nil, err
			}
		}
	}
	planned := c.fed.Training.Rounds * c.fed.Training.LocalSteps
	if l.epsilon >= l.cap {
		l.sigma = math.Inf(1)
		return l, nil
	}
	l.sigma, err = dp.CalibrateNoise(cfg, l.cap, d.Delta, d.SampleRate, planned, l.acct.Events()...)
	if err != nil {
		return nil, fmt.Errorf("calibrate noise for ε ≤ %g over %d steps: %w", l.cap, planned, err)
	}
	return l, nil
}

// reserve charges this round's steps if they fit the cap, and seals the
// ledger before returning; it wraps dp.ErrBudgetExhausted otherwise.
func (l *ledger) reserve(round uint64) error {
	d := l.c.fed.DP
	if !d.Enabled {
		return nil
	}
	steps := l.c.fed.Training.LocalSteps
	ev := dp.Event{SampleRate: d.SampleRate, NoiseMultiplier: l.sigma, Steps: steps}
	if math.IsInf(l.sigma, 1) {
		return fmt.Errorf("ε %.4g of cap %g spent: %w", l.epsilon, l.cap, dp.ErrBudgetExhausted)
	}
	eps, err := dp.Epsilon(l.acct.Config(), d.Delta, append(l.acct.Events(), ev)...)
	if err != nil {
		return err
	}
	if eps > l.cap*(1+1e-9) {
		return fmt.Errorf("round %d would bring ε to %.4g, over the cap %g: %w", round, eps, l.cap, dp.ErrBudgetExhausted)
	}
	if err := l.acct.Add(ev); err != nil {
		return err
	}
	l.epsilon = eps
	l.entries = append(l.entries, ledgerEntry{Federation: l.c.hash.String(), Round: round, SampleRate: d.SampleRate,
		NoiseMultiplier: l.sigma, Steps: steps, ClipNorm: d.ClipNorm, PrivacyUnit: d.PrivacyUnit, Epsilon: eps})
	return l.save()
}

func (l *ledger) save() error {
	b, err := json.Marshal(ledgerFile{Accountant: l.acct, Delta: l.c.fed.DP.Delta, Entries: l.entries})
	if err != nil {
		return err
	}
	if err := l.c.seal("ledger", sealKindLedger, b); err != nil {
		return fmt.Errorf("seal ledger: %w", err)
	}
	return nil
}

func (l *ledger) steps() int {
	n := 0
	for _, e := range l.entries {
		n += e.Steps
	}
	return n
}
