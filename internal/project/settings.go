package project

import (
	"slices"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/fedavg"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/model"
	"github.com/fedcrypt/fedcrypt/stats"
	"github.com/fedcrypt/fedcrypt/text"
)

// settings fills the federation's training settings from the project and
// [Defaults]; fed.Validate checks their ranges.
func (f *File) settings(fed *federation.Config) error {
	d := f.Data
	if d.Label == "" {
		return f.errAt(at("data"), "data: label: missing")
	}
	column := ""
	if d.Text != nil {
		column = d.Text.Column
		if column == "" {
			return f.errAt(at("data", "text"), "data: text: column: name the free-text column")
		}
	}
	if len(d.Features) == 0 && column == "" {
		return f.errAt(at("data"), "data: features: list the columns every member's data set has, in order")
	}
	opt := data.Options{Label: d.Label, Classes: d.Classes, Drop: d.Drop, Missing: or(d.Missing, Defaults.Missing), PrivacyUnit: d.PrivacyUnit, Text: column}
	if err := opt.Validate(); err != nil {
		return f.errAt(at("data"), "data: %v", err)
	}
	schema := data.Schema{Features: d.Features, Label: d.Label, Classes: d.Classes, PrivacyUnit: d.PrivacyUnit, Text: column}
	if err := schema.Validate(); err != nil {
		return f.errAt(at("data"), "data: %v", err)
	}
	fed.Data = federation.DataSpec{Options: opt, Schema: schema, Normalize: or(d.Normalize, Defaults.Normalize)}
	var declared []stats.FeatureSpec
	for _, name := range d.Features {
		b, ok := d.Bounds[name]
		if !ok {
			continue
		}
		if len(b) != 2 {
			return f.errAt(at("data"), "data: bounds: %s: want [lo, hi], got %d values", name, len(b))
		}
		declared = append(declared, stats.FeatureSpec{Name: name, Bounds: &[2]float64{b[0], b[1]}})
	}
	for name := range d.Bounds {
		if !slices.Contains(d.Features, name) {
			return f.errAt(at("data"), "data: bounds: %q is not one of the features", name)
		}
	}
	fed.Data.Stats = stats.Default(schema, declared)
	if d.StatsShare != 0 {
		fed.Data.Stats.EpsilonShare = d.StatsShare
	}

	if f.Model == "" {
		if d.Text != nil {
			return f.errAt(at("model"), "model: missing (a text model: softmax or embag:DIM[:H1,...])")
		}
		return f.errAt(at("model"), "model: missing (logreg, softmax or mlp:H1[,H2...])")
	}
	if d.Text != nil {
		if err := f.textSettings(fed); err != nil {
			return err
		}
	} else {
		m, err := model.ParseSpec(f.Model, len(d.Features), len(d.Classes))
		if err != nil {
			return f.errAt(at("model"), "model %s: %v", f.Model, err)
		}
		fed.Model = m
	}

	fed.MaxDecryptions = f.MaxDecryptions
	if fed.MaxDecryptions == 0 {
		fed.MaxDecryptions = Defaults.MaxDecryptions
	}
	h := f.HE
	fed.HE = federation.HE{Enabled: h.Enabled == nil || *h.Enabled, Preset: or(h.Preset, Defaults.Preset),
		UpdateBound: h.UpdateBound, DecryptionBudget: h.DecryptionBudget, KeyEpochRounds: h.KeyEpochRounds}
	if fed.HE.UpdateBound == 0 {
		fed.HE.UpdateBound = Defaults.UpdateBound
	}
	p := f.DP
	fed.DP = federation.DP{Enabled: p.Enabled == nil || *p.Enabled, Epsilon: p.Epsilon, Delta: p.Delta,
		Accountant: or(p.Accountant, Defaults.Accountant), Noise: or(p.Noise, Defaults.Noise),
		ClipNorm: p.ClipNorm, SampleRate: p.SampleRate, PrivacyUnit: d.PrivacyUnit}

	t := f.Training
	spare := Defaults.SpareRounds
	if t.SpareRounds != nil {
		spare = *t.SpareRounds
	}
	momentum := Defaults.Momentum
	if t.Momentum != nil {
		momentum = *t.Momentum
	}
	fed.Training = federation.Training{Rounds: t.Rounds, LocalSteps: t.LocalSteps, SpareRounds: spare,
		Local:     model.OptimizerConfig{Name: or(t.Optimizer, Defaults.Optimizer), LR: t.LR, Momentum: momentum},
		Server:    fedavg.Config{Name: or(t.ServerOptimizer, Defaults.ServerOptimizer)},
		Weighting: or(t.Weighting, Defaults.Weighting)}
	if t.ServerOptimizer == "" {
		// sim's default server step, damped (see sim.Defaults).
		fed.Training.Server.LR, fed.Training.Server.Momentum = Defaults.ServerLR, Defaults.ServerMomentum
	}
	fed.Evaluation = federation.Evaluation(f.Evaluation)
	if fed.Evaluation.Enabled && fed.Evaluation.Bins == 0 {
		fed.Evaluation.Bins = federation.DefaultEvalBins
	}
	return nil
}

// textSettings fills the featurization of the text column, its cap in
// the statistics spec and the text model, from the project and
// [Defaults]: fewer buckets with DP, whose noise covers every bucket.
func (f *File) textSettings(fed *federation.Config) error {
	t := f.Data.Text
	private := f.DP.Enabled == nil || *f.DP.Enabled
	tc := text.Config{Buckets: t.Buckets, NGrams: t.NGrams, Seed: t.HashSeed, Sublinear: true, IDF: t.IDF == nil || *t.IDF, Norm: text.NormL2}
	if tc.Buckets == 0 {
		tc.Buckets = Defaults.TextBuckets
		if !private {
			tc.Buckets = Defaults.TextBucketsNoDP
		}
	}
	if tc.NGrams == 0 {
		tc.NGrams = 1
	}
	if err := tc.Validate(); err != nil {
		return f.errAt(at("data", "text"), "data: text: %v", err)
	}
	sc, err := model.ParseSparseSpec(f.Model, tc.Buckets+len(f.Data.Features), len(f.Data.Classes))
	if err != nil {
		return f.errAt(at("model"), "model %s: %v (with data.text: softmax or embag:DIM[:H1,...])", f.Model, err)
	}
	if sc.Kind == model.KindEmbeddingBag {
		tc.Norm = text.NormMean
	}
	ms := t.MaxTermsPerDoc
	switch {
	case tc.IDF && ms == 0:
		ms = stats.DefaultMaxTermsPerDoc
	case !tc.IDF && ms != 0:
		return f.errAt(at("data", "text"), "data: text: max_terms_per_doc %d with idf off: no document frequencies are released", ms)
	}
	fed.Data.Text, fed.Data.Stats.MaxTermsPerDoc, fed.SparseModel = &tc, ms, &sc
	return nil
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
