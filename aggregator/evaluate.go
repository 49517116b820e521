package aggregator

import (
	"context"
	"encoding/hex"
	"math"

	"github.com/fedcrypt/fedcrypt/internal/transport"
)

// Evaluation is the private evaluation of the final model: the sums of the
// contributors' noisy confusion-matrix counts on their own validation rows
// (each released with Gaussian noise charged to its ledger), decrypted by a
// quorum like any sum. Nobody learns one hospital's counts.
type Evaluation struct {
	Contributors []string    `json:"contributors"`
	Confusion    [][]float64 `json:"confusion"` // [true][predicted], noisy totals clamped at 0
	Accuracy     float64     `json:"accuracy"`
	Precision    float64     `json:"precision"` // binary: of class 1; else macro average
	Recall       float64     `json:"recall"`
	F1           float64     `json:"f1"`
	Epsilon      float64     `json:"epsilon"` // each release's own ε
	// NoiseStdDev is the standard deviation of the noise in each total
	// count: every contributor's σ, summed over contributors.
	NoiseStdDev float64 `json:"noise_std_dev"`
	// Spent is each contributor's ε after its release, as its signed
	// claim states: what its ledger holds, the release included.
	Spent  map[string]float64 `json:"spent_epsilon,omitempty"`
	Reason string             `json:"reason,omitempty"`
}

// evaluate runs the private evaluation after the last round.
func (a *aggregator) evaluate(ctx context.Context) *Evaluation {
	k := len(a.fed.Data.Schema.Classes)
	r := uint64(a.fed.Training.Rounds) + 1
	rep := &Round{Number: r, Declined: map[string]string{}, Refused: map[string]string{},
		Claims: map[string]transport.Claim{}, SignedClaims: map[string][]byte{}}
	a.cur = rep
	defer func() { a.cur = nil }()
	ev := &Evaluation{Epsilon: a.fed.Evaluation.Epsilon}
	sum, headers, _, err := a.gather(ctx, r, transport.KindEval, transport.KindEvalUp, a.model, k*k, rep)
	if err != nil || sum == nil {
		ev.Reason = rep.Reason
		if err != nil {
			ev.Reason = err.Error()
		}
		a.appendAudit("evaluation", map[string]any{"completed": false, "reason": ev.Reason, "declined": rep.Declined, "dropped": rep.Dropped})
		return ev
	}
	ev.Contributors = rep.Included
	var variance float64
	ev.Spent = map[string]float64{}
	for id, c := range rep.Claims {
		variance += c.DP.NoiseMultiplier * c.DP.NoiseMultiplier
		ev.Spent[id] = c.DP.Epsilon
	}
	ev.NoiseStdDev = math.Sqrt(variance)
	scale := a.fed.EvalScale()
	ev.Confusion = make([][]float64, k)
	var total, diag float64
	for t := range k {
		ev.Confusion[t] = make([]float64, k)
		for p := range k {
			c := math.Max(0, math.Round(sum[t*k+p]/scale))
			ev.Confusion[t][p] = c
			total += c
			if t == p {
				diag += c
			}
		}
	}
	if total > 0 {
		ev.Accuracy = diag / total
	}
	ev.Precision, ev.Recall, ev.F1 = scores(ev.Confusion)
	type upload struct {
		From  string `json:"from"`
		Claim []byte `json:"claim"`
	}
	var ups []upload
	for _, h := range headers {
		ups = append(ups, upload{h.From, rep.SignedClaims[h.From]})
	}
	a.appendAudit("evaluation", map[string]any{"completed": true, "round": r, "nonce": hex.EncodeToString(a.nonce),
		"contributors": ev.Contributors, "uploads": ups,
		"confusion": ev.Confusion, "accuracy": ev.Accuracy, "epsilon": ev.Epsilon, "noise_std_dev": ev.NoiseStdDev,
		"decryption_set": rep.Set, "key_epoch": rep.Epoch, "decryption_first": rep.First, "decryption_count": rep.Count})
	return ev
}

// scores returns precision, recall and F1 from a confusion matrix: of class
// 1 for two classes, macro averages otherwise.
func scores(cm [][]float64) (precision, recall, f1 float64) {
	k := len(cm)
	one := func(c int) (p, r float64) {
		var col, row float64
		for i := range k {
			col += cm[i][c]
			row += cm[c][i]
		}
		if col > 0 {
			p = cm[c][c] / col
		}
		if row > 0 {
			r = cm[c][c] / row
		}
		return p, r
	}
	f := func(p, r float64) float64 {
		if p+r == 0 {
			return 0
		}
		return 2 * p * r / (p + r)
	}
	if k == 2 {
		p, r := one(1)
		return p, r, f(p, r)
	}
	for c := range k {
		p, r := one(c)
		precision += p / float64(k)
		recall += r / float64(k)
		f1 += f(p, r) / float64(k)
	}
	return precision, recall, f1
}
