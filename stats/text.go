package stats

import (
	"fmt"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/text"
)

// DefaultMaxTermsPerDoc is the number of hash buckets one document counts
// in, at most, in the text block's document frequencies, unless the
// federation says otherwise: a document's L2 sensitivity is its square
// root. Each document counts in the buckets of its largest n-gram counts
// ([text.DocumentFrequencies]): its frequent words, whose IDF is worth
// having; the rare ones it leaves out have document frequencies below the
// release's noise anyway. A medical abstract has 103 distinct unigrams
// (median; 55 to 145 from the first to the ninth decile). On the
// abstracts split over 3 hospitals at ε 0.3 (a tenth of ε 3), 2,048
// unigram buckets, caps of 16, 32, 64 and 128 gave accuracies within a
// point of each other (0.51–0.52, exact IDF 0.510), and 16 and 32 the
// IDF weights closest to the exact ones (mean error 0.67 per occurrence,
// against 0.76 and 0.97); 32 leaves out fewer of a document's words
// (stats/textidf_test.go).
const DefaultMaxTermsPerDoc = 32

// MaxTermsPerDoc bounds [Spec.MaxTermsPerDoc].
const MaxTermsPerDoc = 1 << 16

// textLayout is the text block: one document frequency per hash bucket,
// after the class blocks.
type textLayout struct {
	column    string // the schema's text column
	cfg       text.Config
	maxPerDoc int
	off       int // offset of the block in the vector
}

// NewTextLayout returns the layout of spec's statistics over data with
// schema and a text column featurized by featurize: the class blocks of
// [NewLayout] (which may hold no numeric feature), then the text block,
// per bucket the number of documents in which it occurs, each document
// counted in at most spec.MaxTermsPerDoc buckets (those of its largest
// n-gram counts, [text.DocumentFrequencies]). Only featurize's hashing
// (Buckets, NGrams, Seed) matters here. It fails if the schema names no
// text column, spec.MaxTermsPerDoc is not in [1, MaxTermsPerDoc], or for
// any reason NewLayout fails.
func NewTextLayout(spec Spec, schema data.Schema, featurize text.Config) (*Layout, error) {
	if schema.Text == "" {
		return nil, fmt.Errorf("stats layout: a text block needs a text column in the schema")
	}
	if spec.MaxTermsPerDoc < 1 {
		return nil, fmt.Errorf("stats layout: text column %q needs max terms per doc ≥ 1", schema.Text)
	}
	if err := featurize.Validate(); err != nil {
		return nil, fmt.Errorf("stats layout: %w", err)
	}
	l, err := newLayout(spec, schema)
	if err != nil {
		return nil, err
	}
	l.text = &textLayout{column: schema.Text, cfg: featurize, maxPerDoc: spec.MaxTermsPerDoc, off: len(l.classes) * l.block}
	return l, nil
}

// Buckets returns the length of the text block, 0 without one.
func (l *Layout) Buckets() int {
	if l.text == nil {
		return 0
	}
	return l.text.cfg.Buckets
}

// encodeText adds to v the capped document frequencies of the documents of
// rows of d.
func (l *Layout) encodeText(v []float64, d *data.Dataset, rows []int) error {
	tt, err := text.New(text.Config{Buckets: l.text.cfg.Buckets, NGrams: l.text.cfg.NGrams, Seed: l.text.cfg.Seed, Norm: text.NormNone})
	if err != nil {
		return err
	}
	docs := make([]string, len(rows))
	for k, i := range rows {
		docs[k] = d.Text[i]
	}
	counts, err := tt.Counts(docs)
	if err != nil {
		return fmt.Errorf("data set %q: %w", d.Name, err)
	}
	for j, c := range text.DocumentFrequencies(counts, l.text.maxPerDoc) {
		v[l.text.off+j] += c
	}
	return nil
}

// TextSummary is the text block decoded: the federation's document
// frequencies, from which [TextSummary.IDF] estimates the IDF weights.
type TextSummary struct {
	// Documents is the number of documents, the rows over every class
	// (each row holds one document, perhaps empty).
	Documents Estimate `json:"documents"`
	// Frequencies holds the noisy per-bucket document frequencies as
	// summed; each carries noise of standard deviation NoiseStdDev.
	Frequencies []float64 `json:"frequencies"`
	NoiseStdDev float64   `json:"noise_std_dev"`
	// MaxTermsPerDoc is the cap each document was counted under.
	MaxTermsPerDoc int `json:"max_terms_per_doc"`
}

// detect is the number of noise standard deviations a document frequency
// must exceed to be told from 0: below it, [TextSummary.IDF] floors it.
const detect = 2

// IDF returns the document frequencies and the document count to give
// [text.Transform.SetIDF], estimated from the noisy totals, and a note
// when the noise decided some of them.
//
// With n the noisy document count (at least 1) and s the noise standard
// deviation of a frequency, each frequency is clamped to
//
//	df_j = min(max(d̂f_j, 2s), n)
//
// A bucket whose noisy frequency is below 2s cannot be told from one in
// no document: rather than the IDF of a random frequency (the largest
// weight, ln(1+n)+1, for half of the rare buckets, and a noise-driven one
// for the rest), it takes that of a frequency at the noise level, the
// same for all of them. As the numeric transform falls back to the
// declared bounds, the estimate degrades to no IDF: when 2s ≥ n every
// weight is 1. Frequencies above 2s keep their noisy value, whose relative
// error is below one half.
func (t *TextSummary) IDF() (df []float64, n float64, note string) {
	n = max(t.Documents.Value, 1)
	floor := min(detect*t.NoiseStdDev, n)
	df = make([]float64, len(t.Frequencies))
	low := 0
	for j, v := range t.Frequencies {
		if floor > 0 && v < floor {
			low++
		}
		df[j] = min(max(v, floor), n)
	}
	switch {
	case floor >= n:
		note = fmt.Sprintf("text: the document frequencies' noise (2σ = %.3g) is at least the documents (%.3g): every IDF weight is 1", detect*t.NoiseStdDev, n)
	case low > 0:
		note = fmt.Sprintf("text: %d of %d buckets' document frequencies are below the noise (2σ = %.3g): they take the IDF of that frequency", low, len(df), floor)
	}
	return df, n, note
}

// decodeText returns the text block of totals, whose coordinates carry
// noise of standard deviation noiseStd, with rows the decoded row count.
func (l *Layout) decodeText(totals []float64, noiseStd float64, rows Estimate) *TextSummary {
	b := totals[l.text.off:][:l.text.cfg.Buckets]
	return &TextSummary{Documents: rows, Frequencies: append([]float64(nil), b...), NoiseStdDev: noiseStd, MaxTermsPerDoc: l.text.maxPerDoc}
}

// textSensitivity returns the squared L2 norm one row's text block has at
// most: one in each of at most MaxTermsPerDoc buckets.
func (l *Layout) textSensitivity() float64 {
	if l.text == nil {
		return 0
	}
	return float64(min(l.text.maxPerDoc, l.text.cfg.Buckets))
}
