package sim

import (
	"fmt"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/model"
	"github.com/fedcrypt/fedcrypt/stats"
	"github.com/fedcrypt/fedcrypt/text"
)

// DefaultTextModel is the model of a federation on a text column when
// Config.Model names none ("", or the dense default "logreg"): softmax
// regression on the hash buckets (logistic for two classes).
const DefaultTextModel = "softmax"

// DefaultTextFeatures returns the featurization of a text column when
// Config.TextFeatures is nil, with DP (private) or without: unigrams and
// bigrams, sublinear tf, IDF from the statistics phase's document
// frequencies, l2 norm (mean norm for an embedding bag), in 2¹⁸ buckets
// without DP and 2¹¹ with it, since DP-SGD's noise covers every
// coordinate, so fewer buckets carry more signal each.
func DefaultTextFeatures(private bool) text.Config {
	c := text.Config{Buckets: 1 << 18, NGrams: 2, Sublinear: true, IDF: true, Norm: text.NormL2}
	if private {
		c.Buckets = 1 << 11
	}
	return c
}

// TextDefaults returns the settings of a simulation on the text column
// column: [Defaults] with the training settings that suit a text model.
func TextDefaults(column string) Config {
	c := Defaults()
	c.Text = column
	c.Model = DefaultTextModel
	c.Rounds, c.LocalSteps = 10, 10
	c.ClipNorm, c.SampleRate = 0.5, 0.5
	c.Local = model.OptimizerConfig{Name: model.OptAdam, LR: 0.1}
	return c
}

// textFeatures returns the featurization of the text column, the
// default's when none is set; its norm follows the model (mean for an
// embedding bag).
func (c *Config) textFeatures() text.Config {
	if c.TextFeatures != nil {
		return *c.TextFeatures
	}
	t := DefaultTextFeatures(c.DP)
	if sc, err := model.ParseSparseSpec(c.textModel(), 1, 3); err == nil && sc.Kind == model.KindEmbeddingBag {
		t.Norm = text.NormMean
	}
	return t
}

// textModel returns the spec of the text model.
func (c *Config) textModel() string {
	if c.Model == "" || c.Model == "logreg" {
		return DefaultTextModel
	}
	return c.Model
}

// sparseModel returns the text model on ds, whose inputs are the text
// featurization's buckets, then ds's numeric features.
func (c *Config) sparseModel(ds *data.Dataset) (*model.SparseConfig, *text.Config, error) {
	if ds.TextColumn != c.Text {
		return nil, nil, fmt.Errorf("--text %s: the data set was loaded with text column %q", c.Text, ds.TextColumn)
	}
	tc := c.textFeatures()
	if err := tc.Validate(); err != nil {
		return nil, nil, fmt.Errorf("--text %s: %w", c.Text, err)
	}
	sc, err := model.ParseSparseSpec(c.textModel(), tc.Buckets+len(ds.Features), len(ds.Classes))
	if err != nil {
		return nil, nil, fmt.Errorf("--model %s: %w", c.textModel(), err)
	}
	return &sc, &tc, nil
}

// maxTermsPerDoc returns the statistics spec's cap on the buckets one
// document counts in: none without IDF (no document frequencies are
// released).
func (c *Config) maxTermsPerDoc() int {
	switch {
	case c.Text == "" || !c.textFeatures().IDF:
		return 0
	case c.MaxTermsPerDoc > 0:
		return c.MaxTermsPerDoc
	}
	return stats.DefaultMaxTermsPerDoc
}

// statsLayout returns the statistics vector's layout on schema.
func (c *Config) statsLayout(schema data.Schema) (*stats.Layout, error) {
	spec := c.StatsSpec(schema)
	if spec.MaxTermsPerDoc > 0 {
		return stats.NewTextLayout(spec, schema, c.textFeatures())
	}
	return stats.NewLayout(spec, schema)
}
