package stats

import (
	"fmt"
	"math"
	"slices"

	"github.com/fedcrypt/fedcrypt/data"
)

// A Layout is where each statistic sits in the flat vector a hospital
// encodes and the federation sums. It is built by [NewLayout] from a
// validated [Spec] and the schema, is immutable and safe for concurrent
// use. The vector holds one block per class c (in the schema's order),
// each
//
//	rows_c, then per feature j (in the schema's order):
//	  count_j    rows with a value
//	  missing_j  rows without one
//	  sum_j      Σ uᵢ      (moments only)
//	  sumsq_j    Σ uᵢ²     (moments only)
//	  hist_j,b   rows whose value falls in bin b, b = 0 … B_j − 1 (histogram only)
//
// where u = (clamp(x, lo, hi) − m)/h ∈ [−1, 1] is the value rescaled by
// the declared bounds (m = (lo + hi)/2, h = (hi − lo)/2), so that every
// coordinate a row touches moves by at most 1. With a text block
// ([NewTextLayout]) the class blocks are followed by one document
// frequency per hash bucket, over every class. Its length is
//
//	C · (1 + Σⱼ (2 + 2·moments_j + B_j)) + buckets
type Layout struct {
	features []featureLayout
	classes  []string
	unit     string // the privacy-unit column, "" for records
	k        int    // rows per unit at most (1 for records)
	share    float64
	block    int         // coordinates per class
	text     *textLayout // nil without a text block
}

type featureLayout struct {
	name    string
	bounds  *[2]float64 // nil: none declared
	moments bool
	edges   []float64 // nil: no histogram
	off     int       // offset within a class block
}

// width is the number of coordinates of the feature in one class block.
func (f *featureLayout) width() int {
	w := 2
	if f.moments {
		w += 2
	}
	if f.edges != nil {
		w += len(f.edges) - 1
	}
	return w
}

// bins returns the number of histogram bins (0 without a histogram).
func (f *featureLayout) bins() int { return max(len(f.edges)-1, 0) }

// NewLayout returns the layout of spec's statistics over data with schema.
// It fails if spec is invalid, names a feature the schema lacks, does not
// match the schema's privacy unit (MaxRowsPerUnit ≥ 1 with one, 0
// without), declares MaxTermsPerDoc (a text block: [NewTextLayout]), or
// the schema has neither a numeric feature nor a text column.
func NewLayout(spec Spec, schema data.Schema) (*Layout, error) {
	if spec.MaxTermsPerDoc != 0 {
		return nil, fmt.Errorf("stats layout: max terms per doc %d without a text block", spec.MaxTermsPerDoc)
	}
	return newLayout(spec, schema)
}

// newLayout returns the layout of the class blocks, without a text block.
func newLayout(spec Spec, schema data.Schema) (*Layout, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if err := schema.Validate(); err != nil {
		return nil, fmt.Errorf("stats layout: %w", err)
	}
	if len(schema.Features) == 0 && schema.Text == "" {
		return nil, fmt.Errorf("stats layout: the schema has no numeric feature")
	}
	for _, f := range spec.Features {
		if !slices.Contains(schema.Features, f.Name) {
			return nil, fmt.Errorf("stats layout: feature %q is not in the schema", f.Name)
		}
	}
	l := &Layout{classes: slices.Clone(schema.Classes), unit: schema.PrivacyUnit, k: 1, share: spec.EpsilonShare}
	switch {
	case schema.PrivacyUnit != "" && spec.MaxRowsPerUnit < 1:
		return nil, fmt.Errorf("stats layout: privacy unit %q needs max rows per unit ≥ 1", schema.PrivacyUnit)
	case schema.PrivacyUnit == "" && spec.MaxRowsPerUnit != 0:
		return nil, fmt.Errorf("stats layout: max rows per unit %d without a privacy-unit column", spec.MaxRowsPerUnit)
	case schema.PrivacyUnit != "":
		l.k = spec.MaxRowsPerUnit
	}
	off := 1
	for _, name := range schema.Features {
		f := featureLayout{name: name, off: off}
		if i := slices.IndexFunc(spec.Features, func(g FeatureSpec) bool { return g.Name == name }); i >= 0 {
			fs := spec.Features[i]
			if fs.Bounds != nil {
				f.bounds = &[2]float64{fs.Bounds[0], fs.Bounds[1]}
				f.moments = spec.wants(QuantityMoments)
			}
			if spec.wants(QuantityHistogram) {
				f.edges = histogramEdges(fs)
			}
		}
		off += f.width()
		l.features = append(l.features, f)
	}
	l.block = off
	return l, nil
}

// histogramEdges returns the declared or equal-width edges of f, nil
// without a histogram.
func histogramEdges(f FeatureSpec) []float64 {
	if f.Edges != nil {
		return slices.Clone(f.Edges)
	}
	if f.Bins == 0 {
		return nil
	}
	lo, hi := f.Bounds[0], f.Bounds[1]
	e := make([]float64, f.Bins+1)
	for b := range e {
		e[b] = lo + (hi-lo)*float64(b)/float64(f.Bins)
	}
	e[f.Bins] = hi
	return e
}

// Len returns the length of the vector.
func (l *Layout) Len() int { return len(l.classes)*l.block + l.Buckets() }

// Features returns the feature names in the vector's order.
func (l *Layout) Features() []string {
	names := make([]string, len(l.features))
	for j, f := range l.features {
		names[j] = f.name
	}
	return names
}

// PrivacyUnit returns what one privacy unit is, as a ledger entry names
// it: "record", or the privacy-unit column.
func (l *Layout) PrivacyUnit() string {
	if l.unit == "" {
		return "record"
	}
	return l.unit
}

// Sensitivity returns the L2 sensitivity of the whole vector under adding
// or removing one privacy unit:
//
//	Δ₁ = √(1 + Σⱼ (2 + 2·moments_j + hist_j) + T) … for one row, hist_j = 1 with a histogram
//	Δ  = k · Δ₁                                   … for a unit of at most k rows
//
// One row adds 1 to its class's row count and, for every feature, either
// 1 to missing, or 1 to count, u and u² (each at most 1 in magnitude) to
// the moments and 1 to one bin; the present case is the larger. With a
// text block its document adds 1 to at most T = min(MaxTermsPerDoc,
// buckets) document frequencies (0 without one). The bound is attained by
// a row at a declared bound in every feature (|u| = 1) whose document
// fills T buckets, and for a unit by k such identical rows, whose vectors
// add in one direction.
func (l *Layout) Sensitivity() float64 {
	sq := 1 + l.textSensitivity()
	for _, f := range l.features {
		sq++
		if f.moments {
			sq += 2
		}
		if f.edges != nil {
			sq++
		}
	}
	return float64(l.k) * math.Sqrt(sq)
}

// Encode returns the vector of one hospital's rows. d must have the
// layout's features and classes in the same order (a data set loaded
// under the federation's schema, units harmonized); with a privacy unit,
// only the first k rows of each unit, in row order, are counted, and
// leftOut is the number of rows left out (a figure for the hospital
// itself: it is not DP). A feature the hospital does not measure is
// missing in every row and counts as missing.
func (l *Layout) Encode(d *data.Dataset) (v []float64, leftOut int, err error) {
	if err := d.Validate(); err != nil {
		return nil, 0, fmt.Errorf("stats encode: %w", err)
	}
	if !slices.Equal(d.Features, l.Features()) {
		return nil, 0, fmt.Errorf("stats encode: data set %q has features %d, the layout %d (or in another order)", d.Name, len(d.Features), len(l.features))
	}
	if !slices.Equal(d.Classes, l.classes) {
		return nil, 0, fmt.Errorf("stats encode: data set %q has %d classes, the layout %d (or in another order)", d.Name, len(d.Classes), len(l.classes))
	}
	if d.PrivacyUnit != l.unit {
		return nil, 0, fmt.Errorf("stats encode: data set %q has privacy unit %q, the layout %q", d.Name, d.PrivacyUnit, l.unit)
	}
	if l.text != nil && d.TextColumn != l.text.column {
		return nil, 0, fmt.Errorf("stats encode: data set %q has text column %q, the layout %q", d.Name, d.TextColumn, l.text.column)
	}
	v = make([]float64, l.Len())
	var seen []int
	if d.Units != nil {
		seen = make([]int, d.NumUnits())
	}
	kept := make([]int, 0, d.Rows())
	for i := range d.Rows() {
		if seen != nil {
			if seen[d.Units[i]] == l.k {
				leftOut++
				continue
			}
			seen[d.Units[i]]++
		}
		kept = append(kept, i)
		l.addRow(v, rowOf(d, i), int(d.Y[i]))
	}
	if l.text != nil {
		if err := l.encodeText(v, d, kept); err != nil {
			return nil, 0, fmt.Errorf("stats encode: %w", err)
		}
	}
	return v, leftOut, nil
}

// rowOf returns row i of d's numeric features, nil when it has none.
func rowOf(d *data.Dataset, i int) []float64 {
	if len(d.Features) == 0 {
		return nil
	}
	return d.X.RawRowView(i)
}

// addRow adds one row of class c to v.
func (l *Layout) addRow(v, row []float64, c int) {
	b := v[c*l.block:][:l.block]
	b[0]++
	for j, f := range l.features {
		x, s := row[j], b[f.off:][:f.width()]
		if math.IsNaN(x) {
			s[1]++
			continue
		}
		s[0]++
		i := 2
		if f.moments {
			u := f.rescale(x)
			s[i] += u
			s[i+1] += u * u
			i += 2
		}
		if f.edges != nil {
			s[i+f.bin(x)]++
		}
	}
}

// rescale returns u = (clamp(x) − m)/h ∈ [−1, 1].
func (f *featureLayout) rescale(x float64) float64 {
	lo, hi := f.bounds[0], f.bounds[1]
	x = min(max(x, lo), hi)
	u := (x - (lo/2 + hi/2)) / (hi/2 - lo/2)
	return min(max(u, -1), 1)
}

// bin returns the histogram bin of x: the b with e_b ≤ x < e_{b+1}, the
// first bin below e₀ and the last at or above e_B.
func (f *featureLayout) bin(x float64) int {
	b, _ := slices.BinarySearch(f.edges, x)
	// b is the first edge ≥ x; x in bin b−1 unless x equals edge b.
	if b < len(f.edges) && f.edges[b] == x {
		b++
	}
	return min(max(b-1, 0), len(f.edges)-2)
}
