package main

import (
	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/model"
	"github.com/fedcrypt/fedcrypt/sim"
)

// withTextDefaults returns the settings of a federation on cfg's text
// column: sim.TextDefaults(cfg.Text, cfg.DP) in every setting whose flag
// the command line did not set (set), cfg's own in the others. A setting
// without a flag (init has no --local-opt) takes the text default. The
// server optimizer is the caller's (serverOptFlags over the text
// default's), and the featurization textFlags.features.
func withTextDefaults(cfg sim.Config, set map[string]bool) sim.Config {
	td := sim.TextDefaults(cfg.Text, cfg.DP)
	orDefault(set, "model", &cfg.Model, td.Model)
	orDefault(set, "rounds", &cfg.Rounds, td.Rounds)
	orDefault(set, "local-steps", &cfg.LocalSteps, td.LocalSteps)
	orDefault(set, "clip", &cfg.ClipNorm, td.ClipNorm)
	orDefault(set, "update-bound", &cfg.UpdateBound, td.UpdateBound)
	orDefault(set, "sample-rate", &cfg.SampleRate, td.SampleRate)
	orDefault(set, "local-opt", &cfg.Local.Name, td.Local.Name)
	orDefault(set, "local-opt", &cfg.Local.Momentum, td.Local.Momentum)
	orDefault(set, "lr", &cfg.Local.LR, td.Local.LR)
	return cfg
}

// textFederation sets up cfg for a federation on the text column the
// data flags name, if any: the text defaults for what the command line
// left unset (set), the featurization of the text flags, and the server
// optimizer of sf over the text default's. Without a text column it
// sets the server optimizer over def's.
func textFederation(cfg *sim.Config, column string, tf *textFlags, sf *serverOptFlags, set map[string]bool) error {
	if err := tf.check(set); err != nil {
		return err
	}
	if column == "" {
		cfg.Server = sf.config(set, cfg.Server)
		return nil
	}
	cfg.Text = column
	*cfg = withTextDefaults(*cfg, set)
	cfg.Server = sf.config(set, sim.TextDefaults(column, cfg.DP).Server)
	fc := tf.features(set, cfg.DP, cfg.Model)
	if err := fc.Validate(); err != nil {
		return usagef("--text %s: %v", column, err)
	}
	cfg.TextFeatures = &fc
	return nil
}

// checkModel checks cfg's model spec on data of ds's shape: a text model
// (softmax, embag:DIM[:H1,...]) on the text featurization's buckets and
// the numeric features with a text column, else a dense one.
func checkModel(cfg sim.Config, ds *data.Dataset) error {
	if cfg.Text != "" {
		buckets := sim.DefaultTextFeatures(cfg.DP).Buckets
		if cfg.TextFeatures != nil {
			buckets = cfg.TextFeatures.Buckets
		}
		if _, err := model.ParseSparseSpec(cfg.Model, buckets+len(ds.Features), len(ds.Classes)); err != nil {
			return usagef("--model with --text: %v", err)
		}
		return nil
	}
	if _, err := model.ParseSpec(cfg.Model, len(ds.Features), len(ds.Classes)); err != nil {
		return usagef("--model: %v", err)
	}
	return nil
}
