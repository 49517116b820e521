package text

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/fedcrypt/fedcrypt/model"
)

// Counts returns the raw n-gram counts of the documents, one row each: column j of row i counts
// the unigrams (and, with NGrams 2, bigrams of adjacent tokens) of document i that hash to bucket
// j. Repeated n-grams and n-grams that collide in one bucket are merged into one entry. An empty
// document is an empty row. The error names the document (its index in docs), never its text,
// if it is not valid UTF-8.
func (t *Transform) Counts(docs []string) (*model.CSR, error) {
	if err := t.Config.Validate(); err != nil {
		return nil, err
	}
	x := model.NewCSR(t.Buckets)
	h0 := t.seeded()
	var (
		idx  []int
		ones []float64
		prev []byte
	)
	for i, doc := range docs {
		idx, prev = idx[:0], prev[:0]
		first := true
		ok := eachToken(doc, func(tok []byte) {
			idx = append(idx, t.hashTokens(h0, tok, nil))
			if t.NGrams >= 2 && !first {
				idx = append(idx, t.hashTokens(h0, prev, tok))
			}
			prev = append(prev[:0], tok...)
			first = false
		})
		if !ok {
			return nil, fmt.Errorf("text: document %d is not valid UTF-8", i)
		}
		for len(ones) < len(idx) {
			ones = append(ones, 1)
		}
		if err := x.AppendRow(idx, ones[:len(idx)]); err != nil {
			return nil, fmt.Errorf("text: document %d: %w", i, err) // unreachable: buckets in range
		}
	}
	return x, nil
}

// DocumentFrequencies returns, per bucket, the number of rows of counts in which it occurs: the
// statistic IDF is computed from. With maxPerDoc > 0 a document counts in at most maxPerDoc
// buckets, those of its largest counts (ties to the lower bucket): then adding or removing one
// document changes the vector by at most 1 in at most maxPerDoc buckets, an L2 sensitivity of
// √maxPerDoc (L∞ 1), which is what a federation's DP release of the sum over hospitals needs
// (Gaussian noise of standard deviation σ·√maxPerDoc for noise multiplier σ). maxPerDoc ≤ 0
// counts every bucket: for central, non-private IDF.
func DocumentFrequencies(counts *model.CSR, maxPerDoc int) []float64 {
	df := make([]float64, counts.Cols)
	var order []int
	for i := range counts.Rows {
		idx, val := counts.Row(i)
		if maxPerDoc <= 0 || len(idx) <= maxPerDoc {
			for _, j := range idx {
				df[j]++
			}
			continue
		}
		order = order[:0]
		for k := range idx {
			order = append(order, k)
		}
		slices.SortFunc(order, func(a, b int) int {
			return cmp.Or(cmp.Compare(val[b], val[a]), cmp.Compare(idx[a], idx[b]))
		})
		for _, k := range order[:maxPerDoc] {
			df[idx[k]]++
		}
	}
	return df
}

// SetIDF sets the IDF weights from document frequencies df (one per bucket) over n documents,
// with the smoothing of scikit-learn's TfidfVectorizer:
//
//	idf_j = ln((1 + n) / (1 + df_j)) + 1
//
// (Spärck Jones 1972; Manning, Raghavan & Schütze 2008, §6.2). Noisy frequencies (a DP release)
// are clamped into [0, n] first, so every weight is at least 1. It fails if idf is off in the
// Config, df has the wrong length, or n or a frequency is not finite or n < 1.
func (t *Transform) SetIDF(df []float64, n float64) error {
	switch {
	case !t.Config.IDF:
		return fmt.Errorf("text: IDF weights set on a transform with idf off")
	case len(df) != t.Buckets:
		return fmt.Errorf("text: %d document frequencies for %d buckets", len(df), t.Buckets)
	case !(n >= 1) || math.IsInf(n, 0):
		return fmt.Errorf("text: document count %v: want a finite number ≥ 1", n)
	}
	idf := make([]float64, len(df))
	for j, v := range df {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("text: document frequency of bucket %d is not finite", j)
		}
		idf[j] = math.Log((1+n)/(1+min(max(v, 0), n))) + 1
	}
	t.IDF = idf
	return nil
}

// FitIDF sets the IDF weights from the document frequencies of the training rows' counts (the
// output of [Transform.Counts] on them). This fits a statistic on data: it is for central,
// non-private training; a private or federated run takes document frequencies released with
// DP ([Transform.SetIDF]) or leaves IDF off.
func (t *Transform) FitIDF(counts *model.CSR) error {
	if counts.Cols != t.Buckets {
		return fmt.Errorf("text: counts have %d columns, transform %d buckets", counts.Cols, t.Buckets)
	}
	return t.SetIDF(DocumentFrequencies(counts, 0), float64(max(counts.Rows, 1)))
}

// Weight turns the counts from [Transform.Counts] into the model's input, in place: per entry
//
//	w = tf            (or 1 + ln tf with Sublinear)
//	w ← w · idf_j     (with IDF)
//
// then per row, with Norm l2, w ← w / ‖w‖₂, or with Norm mean, w ← w / Σ w. Empty rows stay
// empty. It fails if IDF is on but not set.
func (t *Transform) Weight(x *model.CSR) error {
	if err := t.Validate(); err != nil {
		return err
	}
	if x.Cols != t.Buckets {
		return fmt.Errorf("text: counts have %d columns, transform %d buckets", x.Cols, t.Buckets)
	}
	for i := range x.Rows {
		idx, val := x.Row(i)
		s := 0.0
		for k, j := range idx {
			v := val[k]
			if t.Sublinear && v > 0 {
				v = 1 + math.Log(v)
			}
			if t.IDF != nil {
				v *= t.IDF[j]
			}
			val[k] = v
			if t.Norm == NormL2 {
				s += v * v
			} else {
				s += v
			}
		}
		if t.Norm == NormNone || s == 0 {
			continue
		}
		if t.Norm == NormL2 {
			s = math.Sqrt(s)
		}
		for k := range val {
			val[k] /= s
		}
	}
	return nil
}

// Apply returns the model's input for the documents: [Transform.Counts] then [Transform.Weight].
func (t *Transform) Apply(docs []string) (*model.CSR, error) {
	x, err := t.Counts(docs)
	if err != nil {
		return nil, err
	}
	if err := t.Weight(x); err != nil {
		return nil, err
	}
	return x, nil
}
