package audit

import (
	"errors"
	"fmt"
	"math"

	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/protocol"
	"github.com/fedcrypt/fedcrypt/stats"
	"github.com/fedcrypt/fedcrypt/vault"
)

// EvaluationFacts is the run's private evaluation of its final model: the
// federation's noisy totals read as scores, and each hospital's own
// release, sealed to the auditors, which [EvaluationFacts.OpenSites] opens.
type EvaluationFacts struct {
	Entry        int      `json:"entry"`
	Contributors []string `json:"contributors"`
	Epsilon      float64  `json:"epsilon"` // each release's own ε
	Bins         int      `json:"bins"`
	NoiseStdDev  float64  `json:"noise_std_dev"` // of each total
	// Totals are the federation's scores; nil in a log written before the
	// totals were recorded.
	Totals *stats.ScoreMetrics `json:"totals,omitempty"`
	// Sealed is each contributor's own release, sealed to the auditors,
	// and Sigma its claimed noise multiplier.
	Sealed map[string][]byte  `json:"-"`
	Sigma  map[string]float64 `json:"-"`
	// Sites and SiteMean are filled by OpenSites.
	Sites    []SiteScores `json:"sites,omitempty"`
	SiteMean *SiteMean    `json:"site_mean,omitempty"`
}

// OpenSites opens the hospitals' sealed releases with an auditor's
// identity.
func (e *EvaluationFacts) OpenSites(fed *federation.Config, auditor *vault.Identity) error {
	var err error
	e.Sites, e.SiteMean, err = OpenSites(fed, e.Sealed, e.Sigma, auditor)
	return err
}

// evaluation checks a private-evaluation entry: every release is a claim
// signed by its hospital for the evaluation's round and nonce, one
// unsampled Gaussian release (q = 1, one step) at the federation's δ, and
// it is added to the hospital's spends, so its ε is recomputed with the
// release included and checked against the claim and the cap.
func (v *verifier) evaluation(e *Entry, n int) error {
	var b EvaluationBody
	if err := e.DecodeBody(&b); err != nil {
		return err
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
	layout := v.fed.EvalScores()
	facts := &EvaluationFacts{Entry: n, Epsilon: v.fed.Evaluation.Epsilon, Bins: layout.Bins, NoiseStdDev: b.NoiseStdDev,
		Sealed: map[string][]byte{}, Sigma: map[string]float64{}}
	if b.Totals != nil {
		m, err := layout.Metrics(b.Totals)
		if err != nil {
			return fail(n, "evaluation totals: %v", err)
		}
		facts.Totals = &m
	}
	auditors := len(v.fed.Auditors) > 0 && layout.Bins > 0
	var variance float64
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
		switch {
		case len(c.Site) > 0 && !auditors:
			return fail(n, "evaluation: %s's claim seals a site release, and the federation has no auditors for it", u.From)
		case len(c.Site) == 0 && auditors:
			return fail(n, "evaluation: %s's claim seals no site release to the auditors", u.From)
		case len(c.Site) > 0:
			facts.Sealed[u.From] = c.Site
		}
		facts.Contributors = append(facts.Contributors, u.From)
		facts.Sigma[u.From] = c.DP.NoiseMultiplier
		variance += c.DP.NoiseMultiplier * c.DP.NoiseMultiplier
	}
	if want := math.Sqrt(variance) * layout.Sensitivity(); b.Totals != nil && math.Abs(b.NoiseStdDev-want) > 1e-9*want {
		return fail(n, "evaluation: noise of each total %.6g, the claims give %.6g", b.NoiseStdDev, want)
	}
	v.run.Evaluation = facts
	return nil
}

// releaseClaim opens the signed claim of an evaluation release.
func (v *verifier) releaseClaim(u UploadClaim, round uint64, nonce string) (protocol.Claim, error) {
	var zero protocol.Claim
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
