package audit

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/fedcrypt/fedcrypt/internal/transport"
)

type evaluationBody struct {
	Completed bool         `json:"completed"`
	Round     uint64       `json:"round"`
	Nonce     string       `json:"nonce"`
	Uploads   []uploadBody `json:"uploads"`
	// The decryption's key epoch and range of its budget.
	KeyEpoch        uint64 `json:"key_epoch"`
	DecryptionFirst uint64 `json:"decryption_first"`
	DecryptionCount uint64 `json:"decryption_count"`
}

// evaluation checks a private-evaluation entry: every release is a claim
// signed by its hospital for the evaluation's round and nonce, one
// unsampled Gaussian release (q = 1, one step) at the federation's δ, and
// it is added to the hospital's spends, so its ε is recomputed with the
// release included and checked against the claim and the cap.
func (v *verifier) evaluation(e *Entry, n int) error {
	var b evaluationBody
	if err := json.Unmarshal(e.Body, &b); err != nil {
		return fmt.Errorf("body: %w", err)
	}
	if !b.Completed {
		return nil // declined or abandoned: nothing was released
	}
	if !v.fed.Evaluation.Enabled {
		return fail(n, "an evaluation the federation does not ask for")
	}
	if want := uint64(v.fed.Training.Rounds) + 1; b.Round != want {
		return fail(n, "evaluation as round %d, want %d", b.Round, want)
	}
	if len(b.Uploads) < v.fed.MinContributors {
		return fail(n, "evaluation of %d releases, fewer than min-contributors %d", len(b.Uploads), v.fed.MinContributors)
	}
	if err := v.decryptions(n, b.Round, b.KeyEpoch, b.DecryptionFirst, b.DecryptionCount); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, u := range b.Uploads {
		if seen[u.From] {
			return fail(n, "two evaluation releases from %q", u.From)
		}
		seen[u.From] = true
		c, err := v.releaseClaim(u, b.Round, b.Nonce)
		if err == nil {
			err = v.trainedWith(c)
		}
		if err != nil {
			return fail(n, "evaluation: %s's claim: %v", u.From, err)
		}
		if err := v.spend(u.From, b.Round, c); err != nil {
			return fail(n, "evaluation: hospital %q: %v", u.From, err)
		}
		h := v.run.hospital(u.From)
		h.Spends[len(h.Spends)-1].Release = TypeEvaluation
	}
	return nil
}

// releaseClaim opens the signed claim of an evaluation release.
func (v *verifier) releaseClaim(u uploadBody, round uint64, nonce string) (transport.Claim, error) {
	var zero transport.Claim
	if nonce == "" {
		return zero, errors.New("the evaluation entry records no nonce")
	}
	c, err := v.openClaim(u, round, nonce)
	if err != nil {
		return zero, err
	}
	d := v.fed.DP
	switch {
	case c.Encrypted != v.fed.HE.Enabled || c.Weight != 1:
		return zero, fmt.Errorf("encrypted %v with weight %v, want %v and 1", c.Encrypted, c.Weight, v.fed.HE.Enabled)
	case !c.DP.Enabled || c.DP.SampleRate != 1 || c.DP.Steps != 1:
		return zero, errors.New("not one unsampled Gaussian release")
	case c.DP.Accountant != d.Accountant || c.DP.Delta != d.Delta || c.DP.PrivacyUnit != d.PrivacyUnit:
		return zero, fmt.Errorf("accountant %q at δ %g for unit %q, the federation uses %q at δ %g for %q",
			c.DP.Accountant, c.DP.Delta, c.DP.PrivacyUnit, d.Accountant, d.Delta, d.PrivacyUnit)
	}
	return c, nil
}
