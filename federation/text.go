package federation

import (
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"reflect"

	"github.com/fedcrypt/fedcrypt/model"
	"github.com/fedcrypt/fedcrypt/stats"
	"github.com/fedcrypt/fedcrypt/text"
)

// validateModel checks that exactly one of Model and SparseModel is set
// and valid, and that a sparse model fits the text featurization and the
// schema.
func (c *Config) validateModel() error {
	if c.SparseModel == nil {
		if c.Data.Text != nil {
			return errors.New("federation config: data.text featurizes a text column: the model must be a sparse_model")
		}
		if err := c.Model.Validate(); err != nil {
			return fmt.Errorf("federation config: %w", err)
		}
		return nil
	}
	if !reflect.ValueOf(c.Model).IsZero() {
		return errors.New("federation config: both model and sparse_model are set: want one")
	}
	sm := c.SparseModel
	if err := sm.Validate(); err != nil {
		return fmt.Errorf("federation config: sparse_model: %w", err)
	}
	if c.Data.Text == nil {
		return errors.New("federation config: sparse_model needs data.text, the featurization of its input")
	}
	nf := len(c.Data.Schema.Features)
	if want := c.Data.Text.Buckets + nf; sm.Inputs != want {
		return fmt.Errorf("federation config: sparse_model inputs %d: want %d (data.text buckets %d, then %d numeric features)", sm.Inputs, want, c.Data.Text.Buckets, nf)
	}
	k := len(c.Data.Schema.Classes)
	want := k
	if k == 2 {
		want = 1
	}
	if sm.Outputs != want {
		return fmt.Errorf("federation config: sparse_model outputs %d: want %d for %d classes", sm.Outputs, want, k)
	}
	return nil
}

// validateText checks the text section against the schema, the loading
// options and the statistics spec.
func (d DataSpec) validateText() error {
	ms := d.Stats.MaxTermsPerDoc
	switch {
	case d.Text == nil && d.Schema.Text != "":
		return fmt.Errorf("federation config: data.schema.text %q needs data.text, its featurization", d.Schema.Text)
	case d.Text == nil && ms != 0:
		return fmt.Errorf("federation config: data.stats.max_terms_per_doc %d without a text column", ms)
	case d.Text == nil:
		return nil
	case d.Schema.Text == "":
		return errors.New("federation config: data.text without a text column in data.schema.text")
	case d.Options.Text != d.Schema.Text:
		return fmt.Errorf("federation config: data.options.text %q is not data.schema.text %q", d.Options.Text, d.Schema.Text)
	}
	if err := d.Text.Validate(); err != nil {
		return fmt.Errorf("federation config: data.text: %w", err)
	}
	switch {
	case d.Text.IDF && ms < 1:
		return fmt.Errorf("federation config: data.text idf needs data.stats.max_terms_per_doc ≥ 1, the buckets one document counts in (default %d)", stats.DefaultMaxTermsPerDoc)
	case !d.Text.IDF && ms != 0:
		return fmt.Errorf("federation config: data.stats.max_terms_per_doc %d with data.text idf off: no document frequencies are released", ms)
	}
	return nil
}

// NumParams returns the number of parameters of the federation's model,
// dense or sparse: the length of the global model and of an uncompressed
// update. It fails if the config declares no valid model.
func (c *Config) NumParams() (int, error) {
	if err := c.validateModel(); err != nil {
		return 0, err
	}
	if c.SparseModel != nil {
		return c.SparseModel.NumParams(), nil
	}
	return c.Model.NumParams(), nil
}

// NewParams returns the initial parameters of the federation's model,
// dense ([model.New]) or sparse ([model.NewSparse]), drawn from rng.
func (c *Config) NewParams(rng *mrand.Rand) ([]float64, error) {
	if err := c.validateModel(); err != nil {
		return nil, err
	}
	if c.SparseModel != nil {
		m, err := model.NewSparse(*c.SparseModel, rng)
		if err != nil {
			return nil, err
		}
		return m.Params(), nil
	}
	m, err := model.New(c.Model, rng)
	if err != nil {
		return nil, err
	}
	return m.Params(), nil
}

// TextTransform returns the featurization every member applies to the
// text column, from the statistics phase's decoded totals s: with IDF on,
// IDF weights from the DP document frequencies of s's text block
// ([stats.TextSummary.IDF]), and the note that estimate makes, if any. It
// fails if the config has no text column, or IDF is on and s has no text
// block of the config's buckets.
func (c *Config) TextTransform(s *stats.Summary) (*text.Transform, string, error) {
	if c.Data.Text == nil {
		return nil, "", errors.New("text transform: the federation has no text column")
	}
	t, err := text.New(*c.Data.Text)
	if err != nil {
		return nil, "", fmt.Errorf("text transform: %w", err)
	}
	if !t.Config.IDF {
		return t, "", nil
	}
	if s == nil || s.Text == nil {
		return nil, "", errors.New("text transform: IDF is on but the statistics have no text block")
	}
	df, n, note := s.Text.IDF()
	if err := t.SetIDF(df, n); err != nil {
		return nil, "", fmt.Errorf("text transform: %w", err)
	}
	return t, note, nil
}
