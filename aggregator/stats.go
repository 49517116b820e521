package aggregator

import (
	"context"
	"encoding/hex"
	"fmt"
	"math"

	"github.com/fedcrypt/fedcrypt/audit"
	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/protocol"
	"github.com/fedcrypt/fedcrypt/stats"
	"github.com/fedcrypt/fedcrypt/text"
)

// Statistics is the outcome of the statistics phase, before the first
// round: the sum of the contributors' noisy statistics vectors, decrypted
// by a quorum like any sum, and what the federation computes from it.
// Nobody learns one hospital's vector.
type Statistics struct {
	Contributors []string `json:"contributors"`
	// Totals is the decrypted sum (stats.Layout order); NoiseStdDev the
	// standard deviation of the noise in each of its values: the
	// contributors' σ, summed in quadrature.
	Totals      []float64 `json:"totals"`
	NoiseStdDev float64   `json:"noise_std_dev"`
	// Spent is each contributor's ε after its release, as its signed
	// claim states.
	Spent     map[string]float64 `json:"spent_epsilon,omitempty"`
	Summary   *stats.Summary     `json:"summary"`
	Transform *data.Transform    `json:"transform"`
	// Notes name the figures of the transform that fell back because the
	// release was too noisy to use there (stats.Summary.Transform).
	Notes []string `json:"notes,omitempty"`
	// Text is the featurization of a text column, with IDF weights from
	// the release's document frequencies when IDF is on, and TextNote
	// how that estimate degraded, if it did
	// (federation.Config.TextTransform); nil without a text column.
	Text     *text.Transform `json:"text_transform,omitempty"`
	TextNote string          `json:"text_note,omitempty"`
}

// Transforms returns the federation's transforms the statistics give.
func (st *Statistics) Transforms() *federation.Transforms {
	return &federation.Transforms{Summary: st.Summary, Numeric: st.Transform, Text: st.Text, Notes: st.Notes, TextNote: st.TextNote}
}

// setTransforms sets what the federation computes from the totals.
func (st *Statistics) setTransforms(in *federation.Transforms) {
	st.Summary, st.Transform, st.Notes, st.Text, st.TextNote = in.Summary, in.Numeric, in.Notes, in.Text, in.TextNote
}

// statistics runs the statistics phase, retrying an abandoned attempt up
// to MaxAttempts times. A contributor that released in an earlier attempt
// sends the same noisy vector again: a release is charged once.
func (a *aggregator) statistics(ctx context.Context) error {
	layout, err := a.fed.StatsLayout()
	if err != nil {
		return err
	}
	var reason string
	for attempt := 1; attempt <= a.cfg.MaxAttempts; attempt++ {
		rep := &Round{Number: 0, Attempt: attempt, Declined: map[string]string{}, Refused: map[string]string{},
			Claims: map[string]protocol.Claim{}, SignedClaims: map[string][]byte{}}
		a.cur = rep
		st, err := a.statisticsAttempt(ctx, layout, rep)
		a.cur = nil
		if err != nil {
			return err
		}
		if st != nil {
			a.stats = st
			return nil
		}
		reason = rep.Reason
		a.log.Warn("statistics phase abandoned", "attempt", attempt, "reason", reason)
		a.appendAudit(audit.StatisticsBody{Attempt: attempt, Reason: reason,
			Declined: rep.Declined, Dropped: rep.Dropped, Refused: rep.Refused})
	}
	return fmt.Errorf("statistics phase: %s: %w", reason, ErrQuorumLost)
}

// statisticsAttempt gathers and decrypts the contributors' vectors once. It
// returns nil statistics, with rep.Reason set, when the attempt must be
// abandoned.
func (a *aggregator) statisticsAttempt(ctx context.Context, layout *stats.Layout, rep *Round) (*Statistics, error) {
	sum, headers, _, err := a.gather(ctx, 0, protocol.KindStats, protocol.KindStatsUp, nil, layout.Len(), rep)
	if err != nil || sum == nil {
		return nil, err
	}
	scale := a.fed.StatsScale()
	totals := make([]float64, len(sum))
	for i, v := range sum {
		totals[i] = v / scale
	}
	st := &Statistics{Contributors: rep.Included, Totals: totals, Spent: map[string]float64{}}
	var variance float64
	for id, c := range rep.Claims {
		s := c.DP.NoiseMultiplier * c.DP.ClipNorm
		variance += s * s
		st.Spent[id] = c.DP.Epsilon
	}
	st.NoiseStdDev = math.Sqrt(variance)
	in, err := a.fed.Transforms(totals, st.NoiseStdDev)
	if err != nil {
		rep.Reason = err.Error()
		return nil, nil
	}
	st.setTransforms(in)
	body := audit.StatisticsBody{Completed: true, Attempt: rep.Attempt, Nonce: hex.EncodeToString(a.nonce),
		Totals: st.Totals, NoiseStdDev: st.NoiseStdDev, Transform: st.Transform, Notes: st.Notes,
		Decryption: rep.decryption()}
	if st.Text != nil {
		d := st.Text.Digest()
		body.TextTransform, body.TextNote = hex.EncodeToString(d[:]), st.TextNote
	}
	for _, h := range headers {
		body.Uploads = append(body.Uploads, audit.UploadClaim{From: h.From, Claim: rep.SignedClaims[h.From]})
	}
	a.appendAudit(body)
	a.statsMsg = a.envelope(protocol.KindStatsResult, protocol.StatsResult{Totals: totals, NoiseStdDev: st.NoiseStdDev, Contributors: st.Contributors}.Marshal())
	for _, m := range a.fed.Members {
		if a.online[m.ID] {
			a.send(ctx, m.ID, a.statsMsg)
		}
	}
	a.log.Info("statistics released", "contributors", len(st.Contributors), "noise_std_dev", st.NoiseStdDev, "fallbacks", len(st.Notes))
	return st, nil
}

// restoreStats takes the statistics phase's result from a checkpoint.
func (a *aggregator) restoreStats(r protocol.StatsResult) error {
	st := &Statistics{Contributors: r.Contributors, Totals: r.Totals, NoiseStdDev: r.NoiseStdDev}
	in, err := a.fed.Transforms(r.Totals, r.NoiseStdDev)
	if err != nil {
		return fmt.Errorf("the checkpoint's statistics: %w", err)
	}
	st.setTransforms(in)
	a.stats, a.statsMsg = st, a.envelope(protocol.KindStatsResult, r.Marshal())
	return nil
}
