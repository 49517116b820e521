package federation

import (
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/model"
	"github.com/fedcrypt/fedcrypt/stats"
	"github.com/fedcrypt/fedcrypt/text"
	"gonum.org/v1/gonum/mat"
)

// Transforms are what the federation computes from the statistics phase's
// totals and every member applies to its rows: the numeric transform
// (imputation, normalization) and, with a text column, the text
// featurization with its IDF weights. The aggregator, each member and an
// auditor reading the log compute them alike ([Config.Transforms]).
type Transforms struct {
	Summary *stats.Summary
	// Numeric is nil for a schema of a text column and no numeric
	// feature.
	Numeric *data.Transform
	// Text is nil without a text column.
	Text *text.Transform
	// Notes name the numeric figures that fell back from a DP estimate
	// too noisy to use; TextNote says how the IDF estimate degraded, if
	// it did.
	Notes    []string
	TextNote string
}

// Transforms decodes the statistics phase's totals, each carrying Gaussian
// noise of standard deviation noiseStd, into the federation's transforms:
// [Config.StatsTransform], then [Config.TextTransform] with a text column.
func (c *Config) Transforms(totals []float64, noiseStd float64) (*Transforms, error) {
	s, tf, notes, err := c.StatsTransform(totals, noiseStd)
	if err != nil {
		return nil, err
	}
	t := &Transforms{Summary: s, Numeric: tf, Notes: notes}
	if c.Data.Text != nil {
		if t.Text, t.TextNote, err = c.TextTransform(s); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// TransformDigest names the transforms a member trained with, in its
// signed claims: without a text transform the numeric transform's digest
// ([data.Transform.Digest]), as before text columns existed; with one, the
// SHA-256 of a label and both digests (the numeric one of a nil transform
// when the schema has no numeric feature).
func TransformDigest(numeric *data.Transform, tt *text.Transform) [32]byte {
	if tt == nil {
		return numeric.Digest()
	}
	n, t := numeric.Digest(), tt.Digest()
	h := sha256.New()
	h.Write([]byte("fedcrypt/transforms: numeric, text\x00"))
	h.Write(n[:])
	h.Write(t[:])
	var d [32]byte
	h.Sum(d[:0])
	return d
}

// Digest is [TransformDigest] of t's transforms.
func (t *Transforms) Digest() [32]byte { return TransformDigest(t.Numeric, t.Text) }

// Dense returns the model input of d's rows for a federation without a
// text column: its features through the numeric transform.
func (t *Transforms) Dense(d *data.Dataset) (*mat.Dense, error) {
	if t.Text != nil || t.Numeric == nil {
		return nil, errors.New("transforms: a text federation's rows are sparse")
	}
	out := mat.NewDense(d.Rows(), len(d.Features), nil)
	if err := t.Numeric.Apply(out, d.X); err != nil {
		return nil, err
	}
	return out, nil
}

// Sparse returns the model input of d's rows for a federation with a text
// column: the text column's documents through the text transform, then
// the numeric features through the numeric transform as columns after the
// hash buckets.
func (t *Transforms) Sparse(d *data.Dataset) (*model.CSR, error) {
	if t.Text == nil {
		return nil, errors.New("transforms: the federation has no text column")
	}
	x, err := t.Text.Apply(d.Text)
	if err != nil {
		return nil, fmt.Errorf("text column %q: %w", d.TextColumn, err)
	}
	if t.Numeric == nil {
		return x, nil
	}
	num := mat.NewDense(d.Rows(), len(d.Features), nil)
	if err := t.Numeric.Apply(num, d.X); err != nil {
		return nil, err
	}
	return model.AppendColumns(x, num), nil
}

// Outputs returns the number of outputs of the federation's model: its
// predictions' columns (1 for a binary classifier).
func (c *Config) Outputs() int {
	if c.SparseModel != nil {
		return c.SparseModel.Outputs
	}
	return c.Model.Outputs
}
