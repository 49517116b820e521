package sim

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/fedcrypt/fedcrypt/aggregator"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/dp"
	"github.com/fedcrypt/fedcrypt/fedavg"
	"github.com/fedcrypt/fedcrypt/model"
	"github.com/fedcrypt/fedcrypt/stats"
	"github.com/fedcrypt/fedcrypt/text"
	"github.com/fedcrypt/fedcrypt/vault"
)

// Config is a simulated federation. [Defaults] gives the settings of
// `fedcrypt sim` with no flags.
type Config struct {
	Hospitals int `json:"hospitals"`
	// Committee is how many hospitals hold key shares (the first ones);
	// 0 means all. Setup grows with the committee, not with the hospitals.
	Committee       int `json:"committee"`
	Threshold       int `json:"threshold"`
	MinContributors int `json:"min_contributors"` // 0: T+1 where there are that many hospitals, else T
	Rounds          int `json:"rounds"`
	LocalSteps      int `json:"local_steps"`

	DP          bool    `json:"dp"`
	Epsilon     float64 `json:"epsilon"` // each hospital's cap
	Delta       float64 `json:"delta"`
	Accountant  string  `json:"accountant"`
	Noise       string  `json:"noise"` // DP noise sampler: "fast" or "google"
	ClipNorm    float64 `json:"clip_norm"`
	SampleRate  float64 `json:"sample_rate"`
	PrivacyUnit string  `json:"privacy_unit"`

	HE          bool    `json:"he"`
	Preset      string  `json:"preset"`
	UpdateBound float64 `json:"update_bound"`

	Model     string                `json:"model"` // "logreg", "mlp:64", ...; with Text, a text model (model.ParseSparseSpec)
	Local     model.OptimizerConfig `json:"local"`
	Server    fedavg.Config         `json:"server"`
	Weighting string                `json:"weighting"`
	// Text is the data set's free-text column (loaded with
	// data.Options.Text), "" for none. With one the model is a text
	// model: Model is a text model's spec (model.ParseSparseSpec; "" or
	// "logreg" give DefaultTextModel) on TextFeatures' hash buckets, then
	// the numeric features. [TextDefaults] gives the settings that suit
	// it.
	Text string `json:"text,omitempty"`
	// TextFeatures is the text column's featurization; nil:
	// DefaultTextFeatures(DP). With IDF on, the weights come from the
	// statistics phase's DP document frequencies, each document counted
	// in at most MaxTermsPerDoc buckets (0: stats.DefaultMaxTermsPerDoc).
	TextFeatures   *text.Config `json:"text_features,omitempty"`
	MaxTermsPerDoc int          `json:"max_terms_per_doc,omitempty"`
	// Compress is the upload compression (compress.Parse), "" for none.
	Compress  string `json:"compress,omitempty"`
	Normalize string `json:"normalize"`
	// Bounds are features' declared ranges [lo, hi], by name: public
	// knowledge (clinical ranges, a data set's documentation), never
	// computed from the rows. The statistics phase releases the moments
	// and a histogram of each such feature, and the federation's
	// transform clamps to them; a feature without bounds releases a
	// histogram over a fixed grid (stats.Default).
	Bounds map[string][2]float64 `json:"bounds,omitempty"`
	// StatsShare is the share of ε the statistics release takes, in
	// (0, 1); 0 means stats.DefaultEpsilonShare.
	StatsShare float64     `json:"stats_share,omitempty"`
	Partition  data.Scheme `json:"partition"`
	// Sites names the hospitals of a site-native run ([RunSites]), one per
	// site in order; empty when the hospitals share one data set.
	Sites          []string `json:"sites,omitempty"`
	TestFraction   float64  `json:"test_fraction"`
	MaxDecryptions int      `json:"max_decryptions"`

	// EvalEpsilon, when positive, adds a private evaluation of the final
	// model: each hospital holds out EvalHoldout of its rows, and releases
	// its confusion counts on them with noise costing EvalEpsilon on its own,
	// within the same cap (training is calibrated to leave room for it).
	EvalEpsilon float64 `json:"eval_epsilon"`
	EvalHoldout float64 `json:"eval_holdout"`
	// StatisticsOnly runs the statistics phase alone (fedcrypt stats):
	// the hospitals release their statistics and the run ends before
	// training; Result.Metrics are then those of no model and left zero.
	StatisticsOnly bool `json:"statistics_only,omitempty"`
	// Dropout is the probability that a hospital fails in a round, at a
	// random stage (before upload, after upload, at decryption).
	Dropout float64 `json:"dropout"`
	// Seed makes the run reproducible (not fit for real data); nil draws
	// everything from crypto/rand.
	Seed *uint64 `json:"seed"`
	// OutDir receives the run's artefacts; empty keeps nothing.
	OutDir string `json:"out_dir"`
	// Recipients are extra age recipients (a researcher, an auditor) every
	// sealed output is also encrypted to.
	Recipients []string `json:"recipients"`
	// Timeout bounds each protocol wait (default 2 minutes).
	Timeout time.Duration `json:"timeout"`
	// Data is the caller's description of how it loaded the data set,
	// recorded in the run directory so a resumed run can load it again.
	Data   json.RawMessage `json:"data,omitempty"`
	Logger *slog.Logger    `json:"-"`
	// OnRound, if set, receives each round's report as it completes.
	OnRound func(RoundReport) `json:"-"`
	// AggregatorView, if set, receives a copy of every message the
	// aggregator receives, as it arrives: everything an honest-but-curious
	// aggregator learns, for analysing what it could infer.
	AggregatorView func(from string, msg []byte) `json:"-"`
}

// Defaults returns the settings of `fedcrypt sim` with no flags. The DP-SGD
// and federation settings were chosen by TestTuneDefaults on synthetic data
// of wdbc's shape (public data: the search costs no hospital privacy and
// never sees wdbc's test rows); the server optimizer and the learning rates
// by TestTuneCalibration, on validation rows carved from the training rows
// of wdbc and of data.MultiSite's four hospitals, for calibrated
// probabilities (the median Brier score), with the features normalized by
// the federation's transform from the statistics phase: FedAvgM with a
// damped server step (learning rate 0.3, momentum 0.9; at server learning
// rate 1 the momentum inflated the weights into overconfident predictions)
// over 10 rounds of 10 local steps.
func Defaults() Config {
	return Config{
		Hospitals: 3, Threshold: 2, Rounds: 10, LocalSteps: 10,
		DP: true, Epsilon: 1, Delta: 1e-5, Accountant: "rdp", Noise: "fast", ClipNorm: 1, SampleRate: 0.2,
		HE: true, Preset: "precise", UpdateBound: 4,
		Model: "logreg", Local: model.OptimizerConfig{Name: "sgd", LR: 0.1, Momentum: 0.5},
		Server: fedavg.Config{Name: fedavg.FedAvgM, LR: 0.3, Momentum: 0.9}, Weighting: "equal", Normalize: "zscore",
		Partition: data.Scheme{Kind: "iid"}, TestFraction: 0.2, MaxDecryptions: 3, EvalHoldout: 0.2,
	}
}

// Validate checks the settings a simulation adds to the federation's own.
func (c *Config) Validate() error {
	switch {
	case c.Hospitals < 2:
		return fmt.Errorf("--hospitals %d: a federation needs at least 2", c.Hospitals)
	case c.Threshold < 2:
		return fmt.Errorf("--threshold %d: must be at least 2", c.Threshold)
	case c.Threshold > c.Hospitals:
		return fmt.Errorf("--threshold %d exceeds --hospitals %d", c.Threshold, c.Hospitals)
	case len(c.Sites) > 0 && len(c.Sites) != c.Hospitals:
		return fmt.Errorf("%d sites for %d hospitals: a site-native run has one hospital per site", len(c.Sites), c.Hospitals)
	case c.Committee < 0 || c.Committee > c.Hospitals:
		return fmt.Errorf("--committee %d out of range [0, %d hospitals]", c.Committee, c.Hospitals)
	case c.Committee > 0 && c.Threshold > c.Committee:
		return fmt.Errorf("--threshold %d exceeds the committee of %d key holders", c.Threshold, c.Committee)
	case c.MinContributors < 0 || c.MinContributors > c.Hospitals:
		return fmt.Errorf("--min-contributors %d out of range [1, %d]", c.MinContributors, c.Hospitals)
	case c.Rounds < 1:
		return fmt.Errorf("--rounds %d: must be at least 1", c.Rounds)
	case c.LocalSteps < 1:
		return fmt.Errorf("--local-steps %d: must be at least 1", c.LocalSteps)
	case !(c.Dropout >= 0 && c.Dropout < 1):
		return fmt.Errorf("--dropout %v: must be in [0, 1)", c.Dropout)
	case !(c.TestFraction > 0 && c.TestFraction < 1):
		return fmt.Errorf("test fraction %v: must be in (0, 1)", c.TestFraction)
	case c.StatsShare != 0 && !(c.StatsShare > 0 && c.StatsShare < 1):
		return fmt.Errorf("--stats-share %v: must be in (0, 1)", c.StatsShare)
	}
	if c.DP {
		switch {
		case !(c.Epsilon > 0) || math.IsInf(c.Epsilon, 0):
			return fmt.Errorf("--epsilon %v: must be positive and finite", c.Epsilon)
		case !(c.Delta > 0 && c.Delta < 1):
			return fmt.Errorf("--delta %v: must be in (0, 1)", c.Delta)
		case !(c.ClipNorm > 0) || math.IsInf(c.ClipNorm, 0):
			return fmt.Errorf("--clip %v: must be positive", c.ClipNorm)
		case c.Accountant != "rdp" && c.Accountant != "pld":
			return fmt.Errorf("--accountant %q: want rdp or pld", c.Accountant)
		}
	}
	if !(c.SampleRate > 0 && c.SampleRate <= 1) {
		return fmt.Errorf("--sample-rate %v: must be in (0, 1]", c.SampleRate)
	}
	return nil
}

// minContributors applies the default: T+1 where the federation has that
// many hospitals, so that T−1 colluding key holders and the aggregator
// never face a sum of only T updates.
func (c *Config) minContributors() int {
	if c.MinContributors > 0 {
		return c.MinContributors
	}
	return min(c.Threshold+1, c.Hospitals)
}

// SpareRounds is how many rounds of every hospital's budget the run keeps
// for retried rounds: one when the simulation injects dropouts, else none.
// A run without retries ends below the ε cap by what they would have cost.
func (c *Config) SpareRounds() int {
	if c.Dropout > 0 {
		return 1
	}
	return 0
}

// NoiseMultiplier returns the noise multiplier every hospital's DP-SGD
// starts a fresh ledger with in a federation of these settings on data of
// schema, keeping spareRounds rounds for retries: the smallest for which
// the planned steps, (Rounds + spareRounds) × LocalSteps at SampleRate,
// cost at most Epsilon at Delta with the statistics release and the
// private evaluation's release already counted.
func (c *Config) NoiseMultiplier(schema data.Schema, spareRounds int) (float64, error) {
	layout, err := c.statsLayout(schema)
	if err != nil {
		return 0, err
	}
	release, err := layout.Calibrate(c.Epsilon, c.Delta)
	if err != nil {
		return 0, err
	}
	acct := dp.AccountantConfig{Kind: c.Accountant}
	spent := []dp.Event{release.Event()}
	if c.EvalEpsilon > 0 {
		z, err := dp.CalibrateNoise(acct, c.EvalEpsilon, c.Delta, 1, 1)
		if err != nil {
			return 0, fmt.Errorf("calibrate the evaluation release: %w", err)
		}
		spent = append(spent, dp.Event{SampleRate: 1, NoiseMultiplier: z, Steps: 1})
	}
	return dp.CalibrateNoise(acct, c.Epsilon, c.Delta, c.SampleRate, (c.Rounds+spareRounds)*c.LocalSteps, spent...)
}

// RoundReport is one round as the simulation saw it.
type RoundReport struct {
	Round        uint64   `json:"round"`
	Attempt      int      `json:"attempt"`
	Completed    bool     `json:"completed"`
	Reason       string   `json:"reason,omitempty"`
	Contributors []string `json:"contributors"`
	Dropped      []string `json:"dropped,omitempty"`
	Declined     []string `json:"declined,omitempty"`
	DecryptSet   []string `json:"decryption_set,omitempty"`
	// Evaluated says whether the round's model was scored on the held-out
	// test rows; a multi-process run scores only the final model.
	Evaluated bool `json:"evaluated"`
	// SimTrainLoss is the loss on every hospital's training rows pooled:
	// a figure only a simulation can compute, released without DP. It is
	// shown on the terminal, labelled so, and never written to the run's
	// public files (rounds.csv, result.json). Zero when not scored.
	SimTrainLoss float64 `json:"-"`
	model.Metrics
	Epsilon float64 `json:"epsilon"` // largest ε claimed by any hospital so far
	BytesUp int64   `json:"bytes_up"`
	// Seconds is how long the round took; zero when it is not known (a
	// round before a resume that the killed process did not record).
	Seconds float64 `json:"seconds"`
}

// MarshalJSON omits what is not known of the round: the metrics of a
// round that was not scored, the duration of one not timed.
func (r RoundReport) MarshalJSON() ([]byte, error) {
	type plain RoundReport
	// The outer fields hide the embedded report's of the same names.
	k := struct {
		plain
		*model.Metrics
		Seconds *float64 `json:"seconds,omitempty"`
	}{plain: plain(r), Metrics: metricsOf(&r)}
	if r.Seconds > 0 {
		k.Seconds = &r.Seconds
	}
	return json.Marshal(k)
}

// Result is the outcome of a simulation.
type Result struct {
	model.Metrics
	// Epsilon is the largest ε of any hospital's ledger at the end: every
	// round's DP-SGD and the private evaluation's release.
	Epsilon         float64 `json:"epsilon"`
	Delta           float64 `json:"delta"`
	Accountant      string  `json:"accountant"`
	NoiseMultiplier float64 `json:"noise_multiplier"`
	Rounds          int     `json:"rounds"`
	// ResumedAfter is how many rounds had completed when this process
	// resumed the run (zero for a run not resumed); History holds them
	// too, rebuilt from the run's log and metrics file.
	ResumedAfter    int    `json:"resumed_after,omitempty"`
	Hospitals       int    `json:"hospitals"`
	Threshold       int    `json:"threshold"`
	MinContributors int    `json:"min_contributors"`
	Encrypted       bool   `json:"encrypted"`
	DP              bool   `json:"dp"`
	PrivacyUnit     string `json:"privacy_unit,omitempty"`
	// BytesUpPerRound is the mean over the completed rounds.
	BytesUpPerRound float64 `json:"bytes_up_per_round"`
	// Seconds is how long this process ran (after the resume, for a
	// resumed run).
	Seconds   float64       `json:"seconds"`
	Ended     string        `json:"ended"`
	Seeded    bool          `json:"seeded"`
	Params    int           `json:"params"`
	TrainRows []int         `json:"train_rows"`
	TestRows  int           `json:"test_rows"`
	History   []RoundReport `json:"history"`
	// Sites is the final model on each site's own held-out rows, in a
	// site-native run ([RunSites]).
	Sites []SiteResult `json:"sites,omitempty"`
	// Statistics is the statistics phase's release: the decrypted noisy
	// totals, what they say, and the federation's transform computed from
	// them, which the sealed model carries.
	Statistics *aggregator.Statistics `json:"statistics,omitempty"`
	// PrivateEvaluation is what the federation learned of the final model
	// from the hospitals' own validation rows (noisy totals only).
	PrivateEvaluation *aggregator.Evaluation `json:"private_evaluation,omitempty"`
	OutDir            string                 `json:"out,omitempty"`
	ConfigHash        string                 `json:"config_hash"`
}

// party is one simulated hospital.
type party struct {
	id   string
	key  *vault.Identity
	data *data.Dataset
}

// StatsSpec returns what the statistics phase releases on schema: the
// declared bounds' features with moments and histograms, the others a
// histogram over the fixed grid.
func (c *Config) StatsSpec(schema data.Schema) stats.Spec {
	var declared []stats.FeatureSpec
	for _, name := range schema.Features {
		if b, ok := c.Bounds[name]; ok {
			declared = append(declared, stats.FeatureSpec{Name: name, Bounds: &b})
		}
	}
	s := stats.Default(schema, declared)
	if c.StatsShare > 0 {
		s.EpsilonShare = c.StatsShare
	}
	s.MaxTermsPerDoc = c.maxTermsPerDoc()
	return s
}
