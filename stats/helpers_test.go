package stats

import (
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/fedcrypt/fedcrypt/data"
	"gonum.org/v1/gonum/mat"
)

// testSpec declares four features in every way a feature can be declared:
// bounds and equal-width bins, bounds alone, declared edges alone, nothing.
func testSpec() (Spec, data.Schema) {
	spec := Spec{
		EpsilonShare: 0.5,
		Features: []FeatureSpec{
			{Name: "chol", Bounds: &[2]float64{100, 400}, Bins: 6},
			{Name: "age", Bounds: &[2]float64{18, 90}},
			{Name: "bmi", Edges: []float64{15, 20, 25, 30, 40}},
		},
	}
	schema := data.Schema{Features: []string{"chol", "age", "bmi", "ward"}, Label: "y", Classes: []string{"a", "b", "c"}}
	return spec, schema
}

// randomData returns rows rows under schema with values spread over and
// beyond the declared ranges, about one cell in five missing, and with
// units when the schema has a privacy unit (unitRows rows per unit at most).
func randomData(schema data.Schema, rows, unitRows int, rng *rand.Rand) *data.Dataset {
	nf := len(schema.Features)
	d := &data.Dataset{Name: "h", Features: schema.Features, X: mat.NewDense(rows, nf, nil),
		Y: make([]float64, rows), Classes: schema.Classes, Label: schema.Label, PrivacyUnit: schema.PrivacyUnit}
	for i := range rows {
		for j := range nf {
			v := -50 + 500*rng.Float64()
			if rng.IntN(5) == 0 {
				v = math.NaN()
			}
			d.X.Set(i, j, v)
		}
		d.Y[i] = float64(rng.IntN(len(schema.Classes)))
	}
	if schema.PrivacyUnit != "" {
		for i := range rows {
			u := i / max(1, 1+rng.IntN(unitRows))
			d.Units = append(d.Units, u)
		}
		densify(d)
	}
	return d
}

// densify renumbers d's units densely in order of first appearance.
func densify(d *data.Dataset) {
	index := map[int]int{}
	d.UnitIDs = nil
	for i, u := range d.Units {
		k, ok := index[u]
		if !ok {
			k = len(d.UnitIDs)
			index[u] = k
			d.UnitIDs = append(d.UnitIDs, "p"+strconv.Itoa(u))
		}
		d.Units[i] = k
	}
}

// without returns d with the rows of unit (or, without units, row) i
// removed.
func without(d *data.Dataset, i int) *data.Dataset {
	var keep []int
	for r := range d.Rows() {
		if d.Units == nil && r != i || d.Units != nil && d.Units[r] != i {
			keep = append(keep, r)
		}
	}
	return d.Subset(keep)
}

func distance(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += (a[i] - b[i]) * (a[i] - b[i])
	}
	return math.Sqrt(s)
}
