package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	mrand "math/rand/v2"
	"slices"
	"strings"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/dp"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/model"
	"github.com/fedcrypt/fedcrypt/protocol"
	"github.com/fedcrypt/fedcrypt/transport"
	"github.com/fedcrypt/fedcrypt/vault"
)

// The statistics phase, from a contributor's side. Asked for its
// statistics, a contributor encodes its training rows (stats.Layout),
// charges the release to its ledger, adds its own full Gaussian noise,
// seals the noisy vector beside its ledger and uploads it encrypted. Asked
// again (an abandoned attempt, or after a restart) it sends the same noisy
// vector: a release is made and charged once. Given the decrypted totals,
// every member computes the federation's transform from them alike and
// applies it to its rows; nothing fitted on its own rows shapes what
// leaves it.

// sealKindStats names the sealed copy of the member's noisy statistics.
const sealKindStats = "fedcrypt/stats-release"

// statsRun names the release in the ledger.
func (l *ledger) statsRun() string { return l.runPrefix() + "statistics" }

// onStats releases this contributor's statistics, or declines.
func (c *Client) onStats(ctx context.Context, conn transport.Conn, env *protocol.Envelope) error {
	rs, err := protocol.ParseRoundStart(env.Body)
	if err != nil || len(rs.Model) != 0 {
		return fmt.Errorf("statistics request: malformed")
	}
	c.round, c.nonce, c.upload = env.Round, slices.Clone(env.Nonce), nil
	if err := c.onAnnounce(env.Round, rs.Prev); err != nil {
		return err
	}
	if !c.me.Contributor {
		return nil
	}
	if c.fed.HE.Enabled && c.pk == nil {
		return c.decline(ctx, conn, "setup not complete")
	}
	v, err := c.statsVector()
	if errors.Is(err, dp.ErrBudgetExhausted) {
		return c.decline(ctx, conn, err.Error())
	}
	if err != nil {
		return fmt.Errorf("statistics: %w", err)
	}
	scale := c.fed.StatsScale()
	values := make([]float64, len(v))
	for i, x := range v {
		values[i] = max(-federation.StatsMax, min(federation.StatsMax, x)) * scale
	}
	d := c.fed.DP
	claim := protocol.Claim{Weight: 1, Encrypted: c.fed.HE.Enabled, Dataset: c.dataset, LedgerVersion: c.ledger.version(),
		DP: protocol.DPClaim{Enabled: d.Enabled, Epsilon: c.ledger.epsilon, Delta: d.Delta}}
	if d.Enabled {
		claim.DP.SampleRate, claim.DP.NoiseMultiplier, claim.DP.ClipNorm, claim.DP.Steps = 1, c.release.NoiseMultiplier, c.release.Sensitivity, 1
		claim.DP.Accountant, claim.DP.PrivacyUnit = d.Accountant, d.PrivacyUnit
	}
	if err := c.sendUpload(ctx, conn, protocol.KindStatsUp, values, claim); err != nil {
		return fmt.Errorf("statistics: %w", err)
	}
	c.log.Info("statistics released", "values", len(v), "epsilon", c.ledger.epsilon)
	return nil
}

// statsVector returns the noisy vector this contributor releases: the one
// it released before, if it did, or a new one, charged to the ledger and
// sealed before it leaves.
func (c *Client) statsVector() ([]float64, error) {
	if c.statsSent != nil {
		return c.statsSent, nil
	}
	if v, err := c.restoreStatsRelease(); err != nil || v != nil {
		return v, err
	}
	v, left, err := c.layout.Encode(c.rows)
	if err != nil {
		return nil, err
	}
	if left > 0 {
		c.log.Info("statistics: rows beyond the per-patient limit left out", "rows", left, "limit", c.fed.Data.Stats.MaxRowsPerUnit)
	}
	if c.fed.DP.Enabled {
		if c.ledger.released(c.ledger.statsRun()) {
			return nil, fmt.Errorf("the ledger holds this federation's statistics release but its sealed copy %s is gone: the release cannot be made twice", c.statePath("stats"))
		}
		if err := c.release.AddNoise(v, c.trainRand); err != nil {
			return nil, err
		}
		if err := c.ledger.reserveRelease(c.ledger.statsRun(), c.release.Entry(c.ledger.statsRun())); err != nil {
			return nil, err
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if err := c.seal("stats", sealKindStats, b); err != nil {
		return nil, fmt.Errorf("keep the release: %w", err)
	}
	c.statsSent = v
	return v, nil
}

// restoreStatsRelease takes back the noisy vector sealed before a
// restart, nil if there is none.
func (c *Client) restoreStatsRelease() ([]float64, error) {
	path := c.statePath("stats")
	if path == "" {
		return nil, nil
	}
	id := c.cfg.Identity
	b, err := vault.Unseal(path, sealKindStats, id.SigningPublicKey(), id)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var v []float64
	if err := json.Unmarshal(b, &v); err != nil || len(v) != c.layout.Len() {
		return nil, fmt.Errorf("statistics release %s: not a vector of %d values", path, c.layout.Len())
	}
	if c.fed.DP.Enabled && !c.ledger.released(c.ledger.statsRun()) {
		// Sealed, then the process stopped before the ledger was: charge
		// it now, before it leaves.
		if err := c.ledger.reserveRelease(c.ledger.statsRun(), c.release.Entry(c.ledger.statsRun())); err != nil {
			return nil, err
		}
	}
	c.statsSent = v
	return v, nil
}

// onStatsResult takes the decrypted totals and applies the federation's
// transforms to this member's rows.
func (c *Client) onStatsResult(env *protocol.Envelope) error {
	r, err := protocol.ParseStatsResult(env.Body)
	if err != nil {
		return fmt.Errorf("statistics result from aggregator %q: %w", env.From, err)
	}
	in, err := c.fed.Transforms(r.Totals, r.NoiseStdDev)
	if err != nil {
		return fmt.Errorf("statistics result from aggregator %q: %w", env.From, err)
	}
	if c.inputs != nil {
		if c.inputs.Digest() != in.Digest() {
			return fmt.Errorf("aggregator %q sent statistics that give another transform than the one this member trains with", env.From)
		}
		return nil
	}
	c.inputs = in
	if len(in.Notes) > 0 {
		c.log.Info("federation transform: some figures fell back (statistics too noisy there)", "features", len(in.Notes))
	}
	if in.TextNote != "" {
		c.log.Info("federation text transform: " + in.TextNote)
	}
	if !c.me.Contributor {
		return nil
	}
	if c.learner, err = newLearner(c.fed, in, c.rows, c.units); err != nil {
		return err
	}
	if c.val != nil {
		if c.xval, err = featurize(in, c.val); err != nil {
			return fmt.Errorf("validation rows: %w", err)
		}
	}
	if n := absentColumns(c.rows); len(n) > 0 {
		c.log.Info("columns this hospital lacks are imputed with the federation's values", "columns", strings.Join(n, ","), "rows", c.rows.Rows())
	}
	return nil
}

// Transform returns the federation's numeric transform this member
// applies, nil before the statistics phase (and for a schema of a text
// column alone).
func (c *Client) Transform() *data.Transform {
	if c.inputs == nil {
		return nil
	}
	return c.inputs.Numeric
}

// featurize returns the model input of d's rows through the federation's
// transforms: sparse with a text column, dense otherwise.
func featurize(in *federation.Transforms, d *data.Dataset) (dp.Input, error) {
	if in.Text != nil {
		return in.Sparse(d)
	}
	return in.Dense(d)
}

// newLearner binds the federation's model to the training rows d through
// its transforms. Its initial weights are overwritten by each round's
// global model.
func newLearner(fed *federation.Config, in *federation.Transforms, d *data.Dataset, units []int) (dp.Learner, error) {
	rng := mrand.New(mrand.NewPCG(0, 0))
	if fed.SparseModel != nil {
		x, err := in.Sparse(d)
		if err != nil {
			return nil, err
		}
		m, err := model.NewSparse(*fed.SparseModel, rng)
		if err != nil {
			return nil, err
		}
		return dp.NewSparse(m, x, d.Y, units), nil
	}
	x, err := in.Dense(d)
	if err != nil {
		return nil, err
	}
	m, err := model.New(fed.Model, rng)
	if err != nil {
		return nil, err
	}
	return dp.NewDense(m, x, d.Y, units), nil
}

// absentColumns names the features with no value in any of d's rows.
func absentColumns(d *data.Dataset) []string {
	var out []string
	for j, name := range d.Features {
		absent := true
		for i := range d.Rows() {
			if !math.IsNaN(d.X.At(i, j)) {
				absent = false
				break
			}
		}
		if absent {
			out = append(out, name)
		}
	}
	return out
}
