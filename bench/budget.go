package bench

import (
	"fmt"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/he"
	"github.com/fedcrypt/fedcrypt/model"
	"github.com/fedcrypt/fedcrypt/sim"
)

// DecryptionBudget is the collective key's lifetime decryption budget for
// a planned federation (federation.Config.DecryptionBudget, he.KeyPolicy):
// L ciphertext decryptions, the flooding noise sized for all of them.
type DecryptionBudget struct {
	// Budget is L: the config's, or federation.Config's default (every
	// planned and spare round and the evaluation, each decrypted up to
	// MaxDecryptions times).
	Budget uint64 `json:"budget"`
	// MaxForPreset is he.Params.MaxDecryptions for the preset, the key
	// holders and the hospitals: the largest L the preset can flood.
	MaxForPreset uint64 `json:"max_for_preset"`
	// PlannedUse is what the planned run decrypts when every round's sum
	// is decrypted at the first attempt: rounds × ciphertexts (and the
	// evaluation's); Fraction is PlannedUse ÷ Budget.
	PlannedUse uint64  `json:"planned_use"`
	Fraction   float64 `json:"fraction_used"`
	// SecurityBitsLeft is he.Params.SecurityBits(PlannedUse): the
	// statistical security of the flooding after the planned run;
	// SecurityBitsAtBudget after all L decryptions (the preset's s).
	SecurityBitsLeft     float64 `json:"security_bits_left"`
	SecurityBitsAtBudget float64 `json:"security_bits_at_budget"`
}

// budget fills pl.Budget from the federation config the plan describes
// and returns the parameters with the planned key's flooding; an error
// says why the preset cannot flood the budget.
func (pl *Plan) budget(cfg PlanConfig, mcfg model.Config) (*he.Params, error) {
	fed := federation.Config{Threshold: cfg.Threshold, MaxDecryptions: cfg.maxDecryptions(),
		HE:       federation.HE{Enabled: true, Preset: cfg.Preset, DecryptionBudget: cfg.DecryptionBudget},
		Model:    mcfg,
		Training: federation.Training{Rounds: cfg.Rounds, SpareRounds: cfg.SpareRounds},
		Data:     federation.DataSpec{Schema: data.Schema{Classes: make([]string, cfg.Classes)}},
	}
	fed.Evaluation.Enabled = cfg.Evaluate
	for i := range cfg.Hospitals {
		fed.Members = append(fed.Members, federation.Member{Party: federation.Party{ID: memberID(i)}, Contributor: true, KeyHolder: i < cfg.keyHolders()})
	}
	bare, err := fed.HE.Params()
	if err != nil {
		return nil, err
	}
	kp := fed.KeyPolicy()
	b := &pl.Budget
	b.Budget, b.MaxForPreset = kp.Decryptions, bare.MaxDecryptions(kp)
	b.PlannedUse = uint64(cfg.Rounds * pl.Ciphertexts)
	if cfg.Evaluate {
		b.PlannedUse += uint64(bare.Ciphertexts(cfg.Classes * cfg.Classes))
	}
	b.Fraction = float64(b.PlannedUse) / float64(b.Budget)
	p, err := bare.WithPolicy(kp)
	if err != nil {
		return nil, fmt.Errorf("the %s preset cannot flood this key's budget of %d decryptions (%d key holders, %d contributors; at most %d fit): a smaller --decryption-budget, fewer --max-decryptions or --spare-rounds, or key epochs",
			cfg.Preset, b.Budget, kp.KeyHolders, kp.Contributors, b.MaxForPreset)
	}
	b.SecurityBitsLeft, b.SecurityBitsAtBudget = p.SecurityBits(b.PlannedUse), p.SecurityBits(b.Budget)
	return p, nil
}

// command is the fedcrypt plan command line of cfg.
func (c PlanConfig) command() string {
	s := fmt.Sprintf("fedcrypt plan --model %s --features %d --classes %d --hospitals %d --key-holders %d --threshold %d --rounds %d --local-steps %d --rows %d",
		c.Model, c.Features, c.Classes, c.Hospitals, c.keyHolders(), c.Threshold, c.Rounds, c.LocalSteps, c.RowsPerHospital)
	if c.SampleRate > 0 {
		s += fmt.Sprintf(" --sample-rate %g", c.SampleRate)
	}
	s += fmt.Sprintf(" --epsilon %g --delta %g --accountant %s --preset %s --spare-rounds %d --max-decryptions %d",
		c.Epsilon, c.Delta, c.Accountant, c.Preset, c.SpareRounds, c.maxDecryptions())
	if c.DecryptionBudget > 0 {
		s += fmt.Sprintf(" --decryption-budget %d", c.DecryptionBudget)
	}
	if c.Evaluate {
		s += " --evaluate"
	}
	return s
}

// maxDecryptions is MaxDecryptions, or fedcrypt init's default.
func (c PlanConfig) maxDecryptions() int {
	if c.MaxDecryptions == 0 {
		return sim.Defaults().MaxDecryptions
	}
	return c.MaxDecryptions
}
