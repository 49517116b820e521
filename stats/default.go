package stats

import (
	"math"
	"slices"

	"github.com/fedcrypt/fedcrypt/data"
)

// DefaultEpsilonShare is the share of a run's ε the statistics release
// takes unless the federation says otherwise.
const DefaultEpsilonShare = 0.1

// DefaultBins is the number of equal-width histogram bins of a feature
// whose bounds are declared and whose bins are not.
const DefaultBins = 16

// DefaultMaxRowsPerUnit is k, the rows of one patient a hospital counts,
// when the data name a privacy unit and the federation does not say.
const DefaultMaxRowsPerUnit = 4

// LogEdges returns the histogram edges of a feature nothing is known
// about: 0 and ±10^(i/2) for i = −6 … 12, a symmetric grid of half-decades
// from 0.001 to 10⁶ (38 bins), fixed in advance so that it reveals
// nothing about any data set. Quantiles read from it are good to the
// width of a half-decade bin, with enough rows.
func LogEdges() []float64 {
	var pos []float64
	for i := -6; i <= 12; i++ {
		pos = append(pos, math.Pow(10, float64(i)/2))
	}
	edges := make([]float64, 0, 2*len(pos)+1)
	for _, v := range slices.Backward(pos) {
		edges = append(edges, -v)
	}
	edges = append(edges, 0)
	return append(edges, pos...)
}

// Default returns the statistics a federation on schema releases: every
// feature declared in declared (by name) as declared, with DefaultBins
// equal-width bins where it has bounds and neither bins nor edges; every
// other feature with a histogram over [LogEdges]. The ε share is
// DefaultEpsilonShare and k is DefaultMaxRowsPerUnit when the schema names
// a privacy unit.
func Default(schema data.Schema, declared []FeatureSpec) Spec {
	s := Spec{EpsilonShare: DefaultEpsilonShare}
	if schema.PrivacyUnit != "" {
		s.MaxRowsPerUnit = DefaultMaxRowsPerUnit
	}
	for _, name := range schema.Features {
		i := slices.IndexFunc(declared, func(f FeatureSpec) bool { return f.Name == name })
		if i < 0 {
			s.Features = append(s.Features, FeatureSpec{Name: name, Edges: LogEdges()})
			continue
		}
		f := declared[i]
		if f.Bounds != nil && f.Bins == 0 && f.Edges == nil {
			f.Bins = DefaultBins
		}
		s.Features = append(s.Features, f)
	}
	return s
}
