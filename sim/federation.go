package sim

import (
	"fmt"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/model"
	"github.com/fedcrypt/fedcrypt/text"
	"github.com/fedcrypt/fedcrypt/vault"
)

// Parties names who takes part in a federation NewFederation builds.
type Parties struct {
	Name    string   // the federation's name
	Members []string // member ids, in order; the first Config.Committee hold key shares
	// Rows is each member's row count, recorded in the config; nil leaves
	// it out (a deployment's members declare theirs when they join).
	Rows []int
	// Auditors receive the sealed checkpoints, model and each member's own
	// evaluation release.
	Auditors []vault.Recipient
	// SpareRounds is how many rounds of every member's budget are kept
	// for abandoned and retried rounds.
	SpareRounds int
}

// NewFederation builds and validates the config of a federation of cfg's
// settings on data of ds's schema, generating every party's keys: the
// aggregator's ("aggregator") and each member's, returned by id. The
// in-memory and multi-process simulations and a deployment's init all
// build their federation here, so they agree on every setting.
func NewFederation(cfg Config, ds *data.Dataset, p Parties) (*federation.Config, map[string]*vault.Identity, error) {
	if n := len(p.Members); cfg.Committee < 0 || cfg.Committee > n {
		return nil, nil, fmt.Errorf("--committee %d out of range [0, %d members]", cfg.Committee, n)
	}
	if p.Rows != nil && len(p.Rows) != len(p.Members) {
		return nil, nil, fmt.Errorf("sim: %d row counts for %d members", len(p.Rows), len(p.Members))
	}
	var mcfg model.Config
	var sparse *model.SparseConfig
	var tc *text.Config
	var err error
	if cfg.Text != "" {
		if sparse, tc, err = cfg.sparseModel(ds); err != nil {
			return nil, nil, err
		}
	} else if mcfg, err = model.ParseSpec(cfg.Model, len(ds.Features), len(ds.Classes)); err != nil {
		return nil, nil, fmt.Errorf("--model %s: %w", cfg.Model, err)
	}
	minContrib := cfg.MinContributors
	if minContrib == 0 {
		minContrib = min(cfg.Threshold+1, len(p.Members))
	}
	fed := &federation.Config{
		Version: federation.Version, Name: p.Name,
		Threshold: cfg.Threshold, MinContributors: minContrib, MaxDecryptions: cfg.MaxDecryptions,
		HE: federation.HE{Enabled: cfg.HE, Preset: cfg.Preset, UpdateBound: cfg.UpdateBound},
		DP: federation.DP{Enabled: cfg.DP, Epsilon: cfg.Epsilon, Delta: cfg.Delta, Accountant: cfg.Accountant, Noise: cfg.Noise,
			ClipNorm: cfg.ClipNorm, SampleRate: cfg.SampleRate, PrivacyUnit: cfg.PrivacyUnit},
		Model: mcfg, SparseModel: sparse,
		Data: federation.DataSpec{Options: ds.Options(), Schema: ds.Schema(), Normalize: cfg.Normalize, Stats: cfg.StatsSpec(ds.Schema()),
			Text: tc},
		Training: federation.Training{Rounds: cfg.Rounds, LocalSteps: cfg.LocalSteps, Local: cfg.Local, Server: cfg.Server,
			Weighting: cfg.Weighting, Compress: cfg.Compress, SpareRounds: p.SpareRounds},
	}
	if cfg.EvalEpsilon > 0 {
		fed.Evaluation = federation.Evaluation{Enabled: true, Epsilon: cfg.EvalEpsilon, Holdout: cfg.EvalHoldout, Bins: federation.DefaultEvalBins}
	}
	for i, r := range p.Auditors {
		fed.Auditors = append(fed.Auditors, federation.Party{ID: fmt.Sprintf("auditor%d", i+1), Recipient: r.String()})
	}
	keys := map[string]*vault.Identity{}
	party := func(id string) (federation.Party, error) {
		if _, dup := keys[id]; dup {
			return federation.Party{}, fmt.Errorf("--members: %q named twice (or as the aggregator)", id)
		}
		k, err := identity(cfg.Seed, id)
		if err != nil {
			return federation.Party{}, err
		}
		keys[id] = k
		return federation.Party{ID: id, Recipient: k.Recipient().String(), SigningKey: vault.FormatSigningKey(k.SigningPublicKey())}, nil
	}
	if fed.Aggregator, err = party("aggregator"); err != nil {
		return nil, nil, err
	}
	for i, id := range p.Members {
		mp, err := party(id)
		if err != nil {
			return nil, nil, err
		}
		m := federation.Member{Party: mp, Contributor: true, KeyHolder: cfg.Committee == 0 || i < cfg.Committee}
		if p.Rows != nil {
			m.Rows = p.Rows[i]
		}
		fed.Members = append(fed.Members, m)
	}
	if err := fed.Validate(); err != nil {
		return nil, nil, err
	}
	return fed, keys, nil
}
