package data

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"
)

// Normalizations of [FitTransform].
const (
	NormalizeZScore = "zscore" // (x − mean) / standard deviation
	NormalizeMinMax = "minmax" // (x − min) / (max − min), into [0, 1] on the training rows
	NormalizeNone   = "none"
)

// A Transform imputes missing cells and normalizes columns with statistics
// fitted on training rows only ([FitTransform]), so that the same
// transform applies unchanged to test rows and to new patients. It is
// JSON-serializable to travel with a model; decoding validates it. A
// Transform is immutable once fitted and safe for concurrent use.
//
// Each cell becomes
//
//	x' = (clamp(x, Clamp[j]) − Shift[j]) / Scale[j],  with x = Fill[j] if x is missing (NaN)
//
// where clamp(x, [lo, hi]) = min(max(x, lo), hi) for a column with declared
// bounds and x itself for a column without (a nil Clamp, or a nil entry).
// [FitTransform] never clamps; a federation's transform, built from its
// DP statistics and declared bounds (package stats), does, so that no value
// a hospital holds moves the model more than the bounds allow.
//
// where, over the training rows of column j after imputation (n rows),
//
//	zscore: Shift = μ = (1/n) Σ xᵢ,  Scale = σ = √((1/n) Σ (xᵢ − μ)²)
//	minmax: Shift = min xᵢ,          Scale = max xᵢ − min xᵢ
//	none:   Shift = 0,               Scale = 1
//
// (σ is the population standard deviation, as in scikit-learn's
// StandardScaler, against whose pipeline BASELINES.md was measured). A
// column constant on the training rows gets Shift = its value and
// Scale = 1, so it maps to 0 instead of dividing by zero.
type Transform struct {
	Impute    string    `json:"impute"`    // "mean" or "median"
	Normalize string    `json:"normalize"` // "zscore", "minmax" or "none"
	Fill      []float64 `json:"fill"`      // per column: the value replacing a missing cell
	Shift     []float64 `json:"shift"`     // per column: subtracted
	Scale     []float64 `json:"scale"`     // per column: divided by, > 0
	// Clamp is nil (no column clamped) or holds one entry per column: nil,
	// or the bounds [lo, hi] (lo ≤ hi, finite) the column's value is
	// clamped into after imputation and before normalization. Absent from
	// the JSON when nil, so transforms written before it decode unchanged.
	Clamp []*[2]float64 `json:"clamp,omitempty"`
}

// FitTransform fits a Transform to the training rows x (NaN = missing):
// impute is "mean" or "median" ("" = "mean"), normalize is "zscore",
// "minmax" or "none" ("" = "zscore"). The median of an even count is the
// mean of the two middle values. It fails if a column has no observed
// value or x holds an infinite value.
func FitTransform(x *mat.Dense, impute, normalize string) (*Transform, error) {
	if impute == "" {
		impute = MissingMean
	}
	if normalize == "" {
		normalize = NormalizeZScore
	}
	if impute != MissingMean && impute != MissingMedian {
		return nil, fmt.Errorf("fit transform: impute %q: want %q or %q", impute, MissingMean, MissingMedian)
	}
	if normalize != NormalizeZScore && normalize != NormalizeMinMax && normalize != NormalizeNone {
		return nil, fmt.Errorf("fit transform: normalize %q: want %q, %q or %q", normalize, NormalizeZScore, NormalizeMinMax, NormalizeNone)
	}
	if x == nil || x.IsEmpty() {
		return nil, fmt.Errorf("fit transform: no training rows")
	}
	r, c := x.Dims()
	t := &Transform{
		Impute:    impute,
		Normalize: normalize,
		Fill:      make([]float64, c),
		Shift:     make([]float64, c),
		Scale:     make([]float64, c),
	}
	col := make([]float64, 0, r)
	for j := range c {
		col = col[:0]
		for i := range r {
			v := x.At(i, j)
			if math.IsInf(v, 0) {
				return nil, fmt.Errorf("fit transform: row %d, column %d: infinite value", i, j)
			}
			if !math.IsNaN(v) {
				col = append(col, v)
			}
		}
		if len(col) == 0 {
			return nil, fmt.Errorf("fit transform: column %d: no observed value in %d training rows to impute from", j, r)
		}
		observed := len(col)
		if impute == MissingMedian {
			t.Fill[j] = median(col)
		} else {
			t.Fill[j] = mean(col)
		}
		for range r - observed {
			col = append(col, t.Fill[j])
		}
		lo, hi := slices.Min(col), slices.Max(col)
		switch {
		case normalize == NormalizeNone:
			t.Shift[j], t.Scale[j] = 0, 1
		case lo == hi:
			t.Shift[j], t.Scale[j] = lo, 1
		case normalize == NormalizeMinMax:
			t.Shift[j], t.Scale[j] = lo, hi-lo
		default:
			mu := mean(col)
			var ss float64
			for _, v := range col {
				ss += (v - mu) * (v - mu)
			}
			t.Shift[j], t.Scale[j] = mu, math.Sqrt(ss/float64(len(col)))
		}
		if !(t.Scale[j] > 0) || math.IsInf(t.Scale[j], 0) {
			return nil, fmt.Errorf("fit transform: column %d: spread of the values not representable as a float64 scale", j)
		}
	}
	return t, nil
}

// mean returns the mean of a non-empty slice.
func mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// median returns the median of a non-empty slice, reordering it.
func median(v []float64) float64 {
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return v[n/2-1]/2 + v[n/2]/2
}

// Columns returns the number of columns t applies to.
func (t *Transform) Columns() int { return len(t.Fill) }

// Apply writes the transformed x into dst. dst may be x itself, an empty
// matrix (it is then sized), or a matrix of x's shape. It fails, leaving
// dst untouched, if x's column count is not t's or x holds an infinite
// value.
func (t *Transform) Apply(dst, x *mat.Dense) error {
	r, c := x.Dims()
	if c != t.Columns() {
		return fmt.Errorf("apply transform: %d columns, transform fitted on %d", c, t.Columns())
	}
	if dst.IsEmpty() {
		dst.ReuseAs(r, c)
	} else if dr, dc := dst.Dims(); dr != r || dc != c {
		return fmt.Errorf("apply transform: destination %d×%d, input %d×%d", dr, dc, r, c)
	}
	for i := range r {
		for j, v := range x.RawRowView(i) {
			if math.IsInf(v, 0) {
				return fmt.Errorf("apply transform: row %d, column %d: infinite value", i, j)
			}
		}
	}
	for i := range r {
		src, out := x.RawRowView(i), dst.RawRowView(i)
		for j, v := range src {
			if math.IsNaN(v) {
				v = t.Fill[j]
			}
			if t.Clamp != nil && t.Clamp[j] != nil {
				v = min(max(v, t.Clamp[j][0]), t.Clamp[j][1])
			}
			out[j] = (v - t.Shift[j]) / t.Scale[j]
		}
	}
	return nil
}

// Validate reports the first inconsistency in t.
func (t *Transform) Validate() error {
	switch {
	case t.Impute != MissingMean && t.Impute != MissingMedian:
		return fmt.Errorf("transform: impute %q: want %q or %q", t.Impute, MissingMean, MissingMedian)
	case t.Normalize != NormalizeZScore && t.Normalize != NormalizeMinMax && t.Normalize != NormalizeNone:
		return fmt.Errorf("transform: normalize %q: want %q, %q or %q", t.Normalize, NormalizeZScore, NormalizeMinMax, NormalizeNone)
	case len(t.Fill) == 0:
		return fmt.Errorf("transform: no columns")
	case len(t.Shift) != len(t.Fill) || len(t.Scale) != len(t.Fill):
		return fmt.Errorf("transform: %d fill, %d shift and %d scale values", len(t.Fill), len(t.Shift), len(t.Scale))
	case t.Clamp != nil && len(t.Clamp) != len(t.Fill):
		return fmt.Errorf("transform: %d clamp entries for %d columns", len(t.Clamp), len(t.Fill))
	}
	for j, b := range t.Clamp {
		if b != nil && !(finite(b[0]) && finite(b[1]) && b[0] <= b[1]) {
			return fmt.Errorf("transform: column %d: clamp [%v, %v] (want finite, lo ≤ hi)", j, b[0], b[1])
		}
	}
	for j := range t.Fill {
		if !finite(t.Fill[j]) || !finite(t.Shift[j]) || !finite(t.Scale[j]) || t.Scale[j] <= 0 {
			return fmt.Errorf("transform: column %d: fill %v, shift %v, scale %v (want finite, scale > 0)", j, t.Fill[j], t.Shift[j], t.Scale[j])
		}
	}
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// UnmarshalJSON decodes a Transform and validates it.
func (t *Transform) UnmarshalJSON(b []byte) error {
	type plain Transform
	var p struct {
		plain
		Clamp []*[]float64 `json:"clamp,omitempty"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("transform: %w", err)
	}
	if p.Clamp != nil {
		p.plain.Clamp = make([]*[2]float64, len(p.Clamp))
	}
	for j, c := range p.Clamp {
		if c == nil {
			continue
		}
		if len(*c) != 2 {
			return fmt.Errorf("transform: column %d: clamp of %d values, want [lo, hi]", j, len(*c))
		}
		p.plain.Clamp[j] = &[2]float64{(*c)[0], (*c)[1]}
	}
	if err := (*Transform)(&p.plain).Validate(); err != nil {
		return err
	}
	*t = Transform(p.plain)
	return nil
}

// Digest returns the SHA-256 of t's JSON encoding: what a hospital's
// signed claims name as the transform it trained with, so that an audit
// can check every hospital used the federation's.
func (t *Transform) Digest() [32]byte {
	b, err := json.Marshal(t)
	if err != nil {
		panic("data: transform digest: " + err.Error()) // a Transform of finite numbers always encodes
	}
	return sha256.Sum256(b)
}
