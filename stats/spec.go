package stats

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
)

// Quantities a [Spec] may ask for besides the counts, which are always
// released.
const (
	QuantityMoments   = "moments"   // clamped sum and sum of squares: mean and variance
	QuantityHistogram = "histogram" // counts per bin: the distribution and its quantiles
)

// Limits on a [Spec], so that a configuration cannot ask for an absurd
// vector.
const (
	MaxBins     = 1024
	MaxFeatures = 1 << 14
)

// A Spec says which statistics a federation releases and how much privacy
// it spends on them. It is a plain value, serialized as JSON in the
// federation's configuration, checked by [Spec.Validate]; [NewLayout]
// turns it and the data schema into the layout every hospital encodes.
type Spec struct {
	// Features holds the declarations of some or all of the schema's
	// features, by name. A feature not listed releases its counts only
	// (rows with and without a value).
	Features []FeatureSpec `json:"features,omitempty"`
	// Quantities lists QuantityMoments and/or QuantityHistogram; empty
	// means both. A quantity applies to the features that declare what it
	// needs (bounds for moments, bins or edges for a histogram).
	Quantities []string `json:"quantities,omitempty"`
	// EpsilonShare is the fraction of the run's ε that the release costs on
	// its own, in (0, 1): [Layout.Calibrate] sets the noise so that the
	// release alone is (EpsilonShare·ε, δ)-DP; training then calibrates to
	// the run's ε with the release already in the ledger.
	EpsilonShare float64 `json:"epsilon_share"`
	// MaxRowsPerUnit is k, the most rows of one privacy unit (patient) a
	// hospital encodes: required, ≥ 1, with a privacy-unit column in the
	// schema, and 0 without one (every row is then its own unit).
	MaxRowsPerUnit int `json:"max_rows_per_unit,omitempty"`
	// MaxTermsPerDoc is the most hash buckets one document counts in, in
	// the text block's document frequencies ([NewTextLayout]): required,
	// ≥ 1, with a text block, and 0 without one.
	MaxTermsPerDoc int `json:"max_terms_per_doc,omitempty"`
}

// A FeatureSpec declares what is public about one feature.
type FeatureSpec struct {
	Name string `json:"name"`
	// Bounds are the declared range [lo, hi], lo < hi, public knowledge
	// (a clinical range, not the data's own): every value is clamped into
	// it. Without bounds the feature has no moments.
	Bounds *[2]float64 `json:"bounds,omitempty"`
	// Bins is a number of equal-width histogram bins over Bounds.
	Bins int `json:"bins,omitempty"`
	// Edges are declared histogram edges e₀ < … < e_B (B bins), instead of
	// Bins. A value below e₀ counts in the first bin, one at or above e_B
	// in the last.
	Edges []float64 `json:"edges,omitempty"`
}

// Validate reports the first inconsistency in s itself; [NewLayout] also
// checks it against the schema.
func (s Spec) Validate() error {
	if !(s.EpsilonShare > 0 && s.EpsilonShare < 1) {
		return fmt.Errorf("stats spec: epsilon share %v: must be in (0, 1)", s.EpsilonShare)
	}
	if s.MaxRowsPerUnit < 0 {
		return fmt.Errorf("stats spec: max rows per unit %d: must be ≥ 0", s.MaxRowsPerUnit)
	}
	if s.MaxTermsPerDoc < 0 || s.MaxTermsPerDoc > MaxTermsPerDoc {
		return fmt.Errorf("stats spec: max terms per doc %d: must be in [0, %d]", s.MaxTermsPerDoc, MaxTermsPerDoc)
	}
	for i, q := range s.Quantities {
		if q != QuantityMoments && q != QuantityHistogram || slices.Index(s.Quantities, q) != i {
			return fmt.Errorf("stats spec: quantity %q: want %q or %q, once each", q, QuantityMoments, QuantityHistogram)
		}
	}
	if len(s.Features) > MaxFeatures {
		return fmt.Errorf("stats spec: %d features, at most %d", len(s.Features), MaxFeatures)
	}
	for i, f := range s.Features {
		if f.Name == "" || slices.IndexFunc(s.Features, func(g FeatureSpec) bool { return g.Name == f.Name }) != i {
			return fmt.Errorf("stats spec: feature %d: name %q is empty or repeated", i+1, f.Name)
		}
		if err := f.validate(); err != nil {
			return fmt.Errorf("stats spec: feature %q: %w", f.Name, err)
		}
	}
	return nil
}

func (f FeatureSpec) validate() error {
	if b := f.Bounds; b != nil && !(finite(b[0]) && finite(b[1]) && b[0] < b[1] && finite(b[1]-b[0])) {
		return fmt.Errorf("bounds [%v, %v]: want finite lo < hi", b[0], b[1])
	}
	switch {
	case f.Bins < 0 || f.Bins > MaxBins:
		return fmt.Errorf("bins %d: want 0 to %d", f.Bins, MaxBins)
	case f.Bins > 0 && f.Bounds == nil:
		return fmt.Errorf("%d equal-width bins need declared bounds", f.Bins)
	case f.Bins > 0 && f.Edges != nil:
		return fmt.Errorf("both bins and edges declared")
	case f.Edges != nil && (len(f.Edges) < 2 || len(f.Edges) > MaxBins+1):
		return fmt.Errorf("%d edges: want 2 to %d", len(f.Edges), MaxBins+1)
	}
	for i, e := range f.Edges {
		if !finite(e) || i > 0 && !(e > f.Edges[i-1]) {
			return fmt.Errorf("edge %d: %v is not finite or not above the one before", i, e)
		}
	}
	return nil
}

// wants reports whether s asks for quantity q.
func (s Spec) wants(q string) bool { return len(s.Quantities) == 0 || slices.Contains(s.Quantities, q) }

// ParseSpec decodes a JSON spec, rejecting unknown fields, trailing data
// and invalid specs.
func ParseSpec(b []byte) (Spec, error) {
	var s Spec
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Spec{}, fmt.Errorf("stats spec: %w", err)
	}
	if dec.Decode(new(json.RawMessage)) != io.EOF {
		return Spec{}, fmt.Errorf("stats spec: trailing data after the JSON object")
	}
	if err := s.Validate(); err != nil {
		return Spec{}, err
	}
	return s, nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
