package aggregator

import (
	"context"
	"encoding/hex"
	"math"

	"github.com/fedcrypt/fedcrypt/audit"
	"github.com/fedcrypt/fedcrypt/protocol"
	"github.com/fedcrypt/fedcrypt/stats"
)

// Evaluation is the private evaluation of the final model: the sums of the
// contributors' noisy counts on their own validation rows (confusion
// counts and score histograms, stats.Scores; each released with Gaussian
// noise charged to its ledger), decrypted by a quorum like any sum. Nobody
// learns one hospital's counts from the sum; each hospital's own release
// travels in its signed claim, sealed to the auditors (Sealed).
type Evaluation struct {
	Contributors []string `json:"contributors"`
	stats.ScoreMetrics
	Bins    int     `json:"bins"`    // probability bins per histogram (0: no AUC)
	Epsilon float64 `json:"epsilon"` // each release's own ε
	// NoiseStdDev is the standard deviation of the noise in each total
	// count: the root sum of the contributors' variances.
	NoiseStdDev float64 `json:"noise_std_dev"`
	// Spent is each contributor's ε after its release, as its signed
	// claim states: what its ledger holds, the release included.
	Spent  map[string]float64 `json:"spent_epsilon,omitempty"`
	Reason string             `json:"reason,omitempty"`
	// Sealed holds each contributor's own release, sealed to the
	// auditors (audit.OpenSite reads it); empty without auditors.
	Sealed map[string][]byte `json:"-"`
	// Sigma is each contributor's claimed noise multiplier.
	Sigma map[string]float64 `json:"-"`
	// Sites are the contributors' own releases as an auditor opened them,
	// and SiteMean their mean: filled by whoever holds an auditor's
	// identity (a simulation's researcher), never by the aggregator.
	Sites    []audit.SiteScores `json:"sites,omitempty"`
	SiteMean *audit.SiteMean    `json:"site_mean,omitempty"`
}

// evaluate runs the private evaluation after the last round.
func (a *aggregator) evaluate(ctx context.Context) *Evaluation {
	layout := a.fed.EvalScores()
	r := uint64(a.fed.Training.Rounds) + 1
	rep := &Round{Number: r, Declined: map[string]string{}, Refused: map[string]string{},
		Claims: map[string]protocol.Claim{}, SignedClaims: map[string][]byte{}}
	a.cur = rep
	defer func() { a.cur = nil }()
	ev := &Evaluation{Epsilon: a.fed.Evaluation.Epsilon, Bins: layout.Bins}
	sum, headers, _, err := a.gather(ctx, r, protocol.KindEval, protocol.KindEvalUp, a.model, layout.Len(), rep)
	if err == nil && sum != nil {
		// The totals are rounded to counts: the decrypted sum's CKKS
		// error is far below one count.
		scale := a.fed.EvalScale()
		for i := range sum {
			sum[i] = math.Round(sum[i] / scale)
		}
		ev.ScoreMetrics, err = layout.Metrics(sum)
	}
	if err != nil || sum == nil {
		ev.Reason = rep.Reason
		if err != nil {
			ev.Reason = err.Error()
		}
		a.appendAudit(audit.EvaluationBody{Reason: ev.Reason, Declined: rep.Declined, Dropped: rep.Dropped})
		return ev
	}
	ev.Contributors = rep.Included
	var variance float64
	ev.Spent, ev.Sigma = map[string]float64{}, map[string]float64{}
	for id, c := range rep.Claims {
		variance += c.DP.NoiseMultiplier * c.DP.NoiseMultiplier
		ev.Spent[id], ev.Sigma[id] = c.DP.Epsilon, c.DP.NoiseMultiplier
		if len(c.Site) > 0 {
			if ev.Sealed == nil {
				ev.Sealed = map[string][]byte{}
			}
			ev.Sealed[id] = c.Site
		}
	}
	ev.NoiseStdDev = math.Sqrt(variance) * layout.Sensitivity()
	body := audit.EvaluationBody{Completed: true, Round: r, Nonce: hex.EncodeToString(a.nonce), Contributors: ev.Contributors,
		Totals: sum, Confusion: ev.Confusion, Accuracy: ev.Accuracy, AUC: ev.AUC, Bins: ev.Bins, Epsilon: ev.Epsilon, NoiseStdDev: ev.NoiseStdDev,
		Decryption: rep.decryption()}
	for _, h := range headers {
		body.Uploads = append(body.Uploads, audit.UploadClaim{From: h.From, Claim: rep.SignedClaims[h.From]})
	}
	a.appendAudit(body)
	return ev
}
