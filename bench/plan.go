package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	mrand "math/rand/v2"

	"github.com/fedcrypt/fedcrypt/dp"
	"github.com/fedcrypt/fedcrypt/model"
)

// PlanConfig is a planned federation.
type PlanConfig struct {
	Model    string `json:"model"` // logreg, mlp:H1,H2, ... (model.ParseSpec)
	Features int    `json:"features"`
	Classes  int    `json:"classes"`

	Hospitals  int `json:"hospitals"`
	KeyHolders int `json:"key_holders"` // 0: every hospital
	Threshold  int `json:"threshold"`
	Rounds     int `json:"rounds"`
	LocalSteps int `json:"local_steps"`
	// RowsPerHospital is the smallest hospital's row count (its δ and its
	// sampling rate are the binding ones).
	RowsPerHospital int     `json:"rows_per_hospital"`
	SampleRate      float64 `json:"sample_rate"` // 0: 64 rows per step

	Epsilon    float64 `json:"epsilon"`
	Delta      float64 `json:"delta"`
	Accountant string  `json:"accountant"` // rdp or pld
	Preset     string  `json:"preset"`     // compact or precise

	// The key's life, as federation.Config counts it: SpareRounds and
	// MaxDecryptions (attempts per round's sum; 0: fedcrypt init's
	// default) size the default budget,
	// DecryptionBudget (0: that default) overrides it, Evaluate adds the
	// private evaluation's decryption.
	SpareRounds      int    `json:"spare_rounds"`
	MaxDecryptions   int    `json:"max_decryptions"`
	DecryptionBudget uint64 `json:"decryption_budget"`
	Evaluate         bool   `json:"evaluate"`
}

// Validate reports the first setting out of range, naming its flag.
func (c PlanConfig) Validate() error {
	switch {
	case c.Features < 1:
		return fmt.Errorf("--features %d: must be at least 1", c.Features)
	case c.Classes < 2:
		return fmt.Errorf("--classes %d: must be at least 2", c.Classes)
	case c.Hospitals < 2:
		return fmt.Errorf("--hospitals %d: a federation needs at least 2", c.Hospitals)
	case c.KeyHolders < 0 || c.KeyHolders > c.Hospitals:
		return fmt.Errorf("--key-holders %d out of range [0, %d hospitals]", c.KeyHolders, c.Hospitals)
	case c.Threshold < 2:
		return fmt.Errorf("--threshold %d: must be at least 2", c.Threshold)
	case c.Threshold > c.keyHolders():
		return fmt.Errorf("--threshold %d exceeds the %d key holders", c.Threshold, c.keyHolders())
	case c.Rounds < 1:
		return fmt.Errorf("--rounds %d: must be at least 1", c.Rounds)
	case c.SpareRounds < 0:
		return fmt.Errorf("--spare-rounds %d: must not be negative", c.SpareRounds)
	case c.MaxDecryptions < 0:
		return fmt.Errorf("--max-decryptions %d: must be at least 1 (0: the default)", c.MaxDecryptions)
	case c.LocalSteps < 1:
		return fmt.Errorf("--local-steps %d: must be at least 1", c.LocalSteps)
	case c.RowsPerHospital < 1:
		return fmt.Errorf("--rows %d: must be at least 1", c.RowsPerHospital)
	case c.SampleRate < 0 || c.SampleRate > 1 || math.IsNaN(c.SampleRate):
		return fmt.Errorf("--sample-rate %v: must be in (0, 1]", c.SampleRate)
	case !(c.Epsilon > 0) || math.IsInf(c.Epsilon, 0):
		return fmt.Errorf("--epsilon %v: must be a finite number > 0", c.Epsilon)
	case !(c.Delta > 0 && c.Delta < 1):
		return fmt.Errorf("--delta %v: must be in (0, 1)", c.Delta)
	case c.Accountant != dp.KindRDP && c.Accountant != dp.KindPLD:
		return fmt.Errorf("--accountant %q: must be rdp or pld", c.Accountant)
	}
	if _, err := presetParams(c.Preset); err != nil {
		return fmt.Errorf("--preset: %w", err)
	}
	if _, err := model.ParseSpec(c.Model, c.Features, c.Classes); err != nil {
		return fmt.Errorf("--model: %w", err)
	}
	return nil
}

func (c PlanConfig) keyHolders() int {
	if c.KeyHolders == 0 {
		return c.Hospitals
	}
	return c.KeyHolders
}

func (c PlanConfig) sampleRate() float64 {
	if c.SampleRate > 0 {
		return c.SampleRate
	}
	return min(1, benchBatch/float64(c.RowsPerHospital))
}

// LargeNoise is the noise multiplier from which a plan, and fedcrypt sim and
// init before they run, warn: noise of that many clipping norms on every
// step's sum drowns what a hospital's rows can teach unless its batches are
// large.
const LargeNoise = 4

// Plan is the cost estimate of a planned federation.
type Plan struct {
	Config      PlanConfig `json:"config"`
	Params      int        `json:"params"`
	Slots       int        `json:"slots"`
	Ciphertexts int        `json:"ciphertexts_per_update"`

	// Per hospital per round: a contributor uploads its encrypted update
	// and downloads the global model (float64s); a key holder in the
	// decryption set also downloads the sum and uploads one share.
	BytesUpPerHospital    int `json:"bytes_up_per_hospital"`
	BytesDownPerHospital  int `json:"bytes_down_per_hospital"`
	KeyHolderExtraUp      int `json:"key_holder_extra_bytes_up"`
	KeyHolderExtraDown    int `json:"key_holder_extra_bytes_down"`
	AggregatorBytesInPerR int `json:"aggregator_bytes_in_per_round"`

	// Expected seconds of one round with each party on a machine like the
	// one the costs were measured on, network transfer excluded: local
	// DP-SGD, encryption, the aggregator's sum of every upload, one
	// decryption share (key holders work in parallel), combination.
	RoundSeconds float64        `json:"round_seconds"`
	Breakdown    RoundBreakdown `json:"round_breakdown"`
	// PlaintextRoundSeconds is the same round without CKKS: the local
	// DP-SGD and the aggregator's plaintext additions of every upload;
	// RoundRatio is RoundSeconds ÷ PlaintextRoundSeconds (both 0 when the
	// costs lack the plaintext addition, bench files from before it).
	PlaintextRoundSeconds float64 `json:"plaintext_round_seconds"`
	RoundRatio            float64 `json:"round_ratio"`
	TotalSeconds          float64 `json:"total_seconds"`

	SampleRate      float64 `json:"sample_rate"`
	Steps           int     `json:"steps"`
	NoiseMultiplier float64 `json:"noise_multiplier"` // 0 when no σ reaches the target
	// ExpectedPrecisionBits is log₂ of Δ·hospitals/σ_slot: the precision of
	// the decrypted mean of every hospital's update at threshold T.
	ExpectedPrecisionBits float64 `json:"expected_precision_bits"`

	// The decryption protocol (issue 14): what a key holder of the
	// decryption set downloads per round, its checks' estimated time (from
	// the measured per-item costs), and the key's decryption budget.
	KeyHolder              KeyHolderBytes   `json:"key_holder_download"`
	KeyHolderVerifySeconds float64          `json:"key_holder_verify_seconds"`
	Budget                 DecryptionBudget `json:"decryption_budget"`
	// Command reproduces this plan (cmd/fedcrypt appends --bench).
	Command string `json:"command"`

	Warnings      []string `json:"warnings"`
	CostsMeasured string   `json:"costs_measured"` // machine and date of the costs
}

// RoundBreakdown splits RoundSeconds.
type RoundBreakdown struct {
	Train           float64 `json:"train"`
	Encrypt         float64 `json:"encrypt"`
	Aggregate       float64 `json:"aggregate"`
	DecryptionShare float64 `json:"decryption_share"`
	Combine         float64 `json:"combine"`
	// Verify is a key holder's checks of the round's sum (commitment,
	// fingerprints, endorsements) before its share.
	Verify float64 `json:"key_holder_verify"`
}

// Calibrate measures what a plan needs, at small sizes (seconds): DP-SGD
// steps of logistic regression and of the ~10k MLP, and the preset's CKKS
// costs on 100,000 parameters.
func Calibrate(ctx context.Context, preset string) (*Report, error) {
	s := Config{Quick: true, Reps: 2}.sizes()
	r := &Report{Quick: true, Reps: s.reps, Machine: ThisMachine()}
	var err error
	if r.DP, err = measureDP(ctx, s); err != nil {
		return nil, err
	}
	h, err := measureHE(ctx, preset, s)
	if err != nil {
		return nil, fmt.Errorf("ckks %s: %w", preset, err)
	}
	r.HE = []HEPreset{h}
	if r.PlainAggregate, err = measurePlainAggregate(ctx, s); err != nil {
		return nil, fmt.Errorf("plaintext aggregation: %w", err)
	}
	if err := r.measureKeyHolders(ctx, s, "fedcrypt plan  # calibration: key holder checks at 10 and 100 hospitals, 32,001 params", func(string, ...any) {}); err != nil {
		return nil, err
	}
	r.headline()
	return r, nil
}

// NewPlan estimates the costs of cfg from measured costs (a [Report] from
// [Run] or [Calibrate]).
func NewPlan(cfg PlanConfig, costs *Report) (*Plan, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p, _ := presetParams(cfg.Preset)
	mcfg, _ := model.ParseSpec(cfg.Model, cfg.Features, cfg.Classes)
	m, err := model.New(mcfg, mrand.New(mrand.NewPCG(1, 1)))
	if err != nil {
		return nil, fmt.Errorf("--model: %w", err)
	}
	n := m.NumParams()
	lit := p.Literal()
	pl := &Plan{Config: cfg, Params: n, Slots: p.Slots(), Ciphertexts: p.Ciphertexts(n),
		SampleRate: cfg.sampleRate(), Steps: cfg.Rounds * cfg.LocalSteps, Warnings: []string{}}
	pl.BytesUpPerHospital = p.UpdateSize(n)
	pl.BytesDownPerHospital = 8 * n
	pl.KeyHolderExtraUp = p.DecryptionShareSize(n, cfg.Threshold)
	pl.KeyHolderExtraDown = p.UpdateSize(n)
	pl.AggregatorBytesInPerR = cfg.Hospitals*pl.BytesUpPerHospital + cfg.Threshold*pl.KeyHolderExtraUp
	pl.KeyHolder = KeyHolderDownload(p, n, cfg.Hospitals, cfg.keyHolders(), cfg.Threshold)
	pl.Command = cfg.command()
	if fp, err := pl.budget(cfg, mcfg); err != nil {
		pl.warn("%v", err)
	} else {
		p = fp // the flooding of the planned key, for the precision
	}
	pl.ExpectedPrecisionBits = p.PrecisionBits(cfg.Hospitals, cfg.Threshold) + math.Log2(float64(cfg.Hospitals))

	if err := pl.estimateTime(cfg, costs); err != nil {
		return nil, err
	}
	acc := dp.AccountantConfig{Kind: cfg.Accountant}
	sigma, err := dp.CalibrateNoise(acc, cfg.Epsilon, cfg.Delta, pl.SampleRate, pl.Steps)
	switch {
	case err != nil:
		pl.warn("no noise multiplier reaches ε = %g over %d steps at sampling rate %.3g: %v", cfg.Epsilon, pl.Steps, pl.SampleRate, err)
	case sigma >= LargeNoise:
		pl.warn("budget small for %d rounds × %d steps: noise multiplier %.3g ≥ %d (noise of at least %[4]d clipping norms per step); fewer rounds or steps, more rows, or a larger ε", cfg.Rounds, cfg.LocalSteps, sigma, LargeNoise)
	}
	if err == nil {
		pl.NoiseMultiplier = sigma
	}
	if n := cfg.RowsPerHospital; cfg.Delta >= 1/float64(n) {
		pl.warn("δ = %g ≥ 1/n = %.3g for %d rows: a mechanism that publishes one whole record at random satisfies it", cfg.Delta, 1/float64(n), n)
	}
	if cfg.Hospitals > lit.MaxAddends {
		pl.warn("preset %s sums at most %d updates, the federation has %d hospitals: use the precise preset or fewer contributors per round", cfg.Preset, lit.MaxAddends, cfg.Hospitals)
	}
	if kh := cfg.keyHolders(); kh > lit.MaxKeyHolders {
		pl.warn("preset %s allows at most %d key holders, the plan has %d: a smaller committee (--key-holders) or the precise preset", cfg.Preset, lit.MaxKeyHolders, kh)
	}
	if pl.ExpectedPrecisionBits < 16 {
		pl.warn("preset %s leaves %.1f bits of precision on the mean after flooding (%d hospitals, T = %d): below 16; use the precise preset", cfg.Preset, pl.ExpectedPrecisionBits, cfg.Hospitals, cfg.Threshold)
	}
	return pl, nil
}

func (pl *Plan) warn(format string, a ...any) {
	pl.Warnings = append(pl.Warnings, fmt.Sprintf(format, a...))
}

// estimateTime fills the round time from measured costs: DP-SGD time per
// example scales with the parameters from the nearest measured model (never
// below it), CKKS costs with the ciphertexts.
func (pl *Plan) estimateTime(cfg PlanConfig, costs *Report) error {
	if costs == nil || len(costs.DP) == 0 {
		return errors.New("costs: no DP-SGD measurements")
	}
	var h *HEPreset
	for i := range costs.HE {
		if costs.HE[i].Preset == cfg.Preset {
			h = &costs.HE[i]
		}
	}
	if h == nil {
		return fmt.Errorf("costs: no measurements of preset %s", cfg.Preset)
	}
	near := costs.DP[0]
	for _, d := range costs.DP[1:] {
		if math.Abs(math.Log(float64(d.Params)/float64(pl.Params))) < math.Abs(math.Log(float64(near.Params)/float64(pl.Params))) {
			near = d
		}
	}
	for _, v := range []float64{near.Private.Best, h.EncryptAllCores.Best, h.Aggregate.Best, h.DecryptionShareMs.Best, h.CombineMs.Best} {
		if !(v > 0) || math.IsInf(v, 0) {
			return fmt.Errorf("costs: a measured figure is %v, want a positive number", v)
		}
	}
	perExample := 1 / near.Private.Best * max(1, float64(pl.Params)/float64(near.Params))
	examples := float64(cfg.LocalSteps) * pl.SampleRate * float64(cfg.RowsPerHospital)
	// Encryption and addition cost per ciphertext, whatever its slots
	// hold: the measured rates are per slot of full ciphertexts.
	slots := float64(pl.Ciphertexts * pl.Slots)
	b := RoundBreakdown{
		Train:           examples * perExample,
		Encrypt:         slots / h.EncryptAllCores.Best,
		Aggregate:       float64(cfg.Hospitals) * slots / h.Aggregate.Best,
		DecryptionShare: float64(pl.Ciphertexts) * h.DecryptionShareMs.Best / 1e3,
		Combine:         float64(pl.Ciphertexts) * h.CombineMs.Best / 1e3,
	}
	if v := costs.KeyHolderCosts; v.HeaderUs > 0 {
		b.Verify = v.Seconds(pl.KeyHolder)
		pl.KeyHolderVerifySeconds = b.Verify
	} else {
		pl.warn("costs carry no key holder measurements (a bench file from before the sum check): its verification time is not estimated")
	}
	pl.Breakdown = b
	pl.RoundSeconds = b.Train + b.Encrypt + b.Aggregate + b.DecryptionShare + b.Combine + b.Verify
	if r := costs.PlainAggregate.Best; r > 0 && !math.IsInf(r, 0) {
		pl.PlaintextRoundSeconds = b.Train + float64(cfg.Hospitals*pl.Params)/r
		pl.RoundRatio = pl.RoundSeconds / pl.PlaintextRoundSeconds
	}
	pl.TotalSeconds = pl.RoundSeconds * float64(cfg.Rounds)
	m := costs.Machine
	pl.CostsMeasured = fmt.Sprintf("%s, %d cores, %s", m.CPU, m.Cores, m.GoVersion)
	return nil
}
