package stats

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/fedcrypt/fedcrypt/data"
	"gonum.org/v1/gonum/mat"
)

// TestLayoutByHand encodes three rows and reads every coordinate.
func TestLayoutByHand(t *testing.T) {
	spec := Spec{EpsilonShare: 0.1, Features: []FeatureSpec{{Name: "x", Bounds: &[2]float64{0, 10}, Bins: 2}}}
	schema := data.Schema{Features: []string{"x", "w"}, Label: "y", Classes: []string{"0", "1"}}
	l, err := NewLayout(spec, schema)
	if err != nil {
		t.Fatal(err)
	}
	// per class: rows; x: count, missing, Σu, Σu², 2 bins; w: count, missing
	if l.Len() != 2*(1+6+2) {
		t.Fatalf("length %d", l.Len())
	}
	nan := math.NaN()
	d := &data.Dataset{Name: "h", Features: schema.Features, Classes: schema.Classes, Label: "y",
		X: mat.NewDense(4, 2, []float64{2.5, 1, 20, nan, nan, 3, 5, 0}), Y: []float64{1, 1, 1, 0}}
	v, left, err := l.Encode(d)
	if err != nil || left != 0 {
		t.Fatal(err, left)
	}
	// class 0: the row (5, 0): u = 0, bin 1 (5 is the upper bin's lower edge)
	// class 1: (2.5, 1): u = −0.5, bin 0; (20, NaN): clamped to 10, u = 1, bin 1; (NaN, 3): w twice present, once missing
	want := []float64{
		1, 1, 0, 0, 0, 0, 1, 1, 0,
		3, 2, 1, 0.5, 1.25, 1, 1, 2, 1,
	}
	if !slices.Equal(v, want) {
		t.Errorf("vector\n%v, want\n%v", v, want)
	}
	// Δ₁ = √(1 + (1+2+1) + 1)
	if got := l.Sensitivity(); got != math.Sqrt(6) {
		t.Errorf("sensitivity %v, want √6", got)
	}
}

// bruteSensitivity returns the largest distance between the vector of d
// and that of d without one unit (one row without units).
func bruteSensitivity(t *testing.T, l *Layout, d *data.Dataset) float64 {
	t.Helper()
	full, _, err := l.Encode(d)
	if err != nil {
		t.Fatal(err)
	}
	var worst float64
	for i := range d.NumUnits() {
		v, _, err := l.Encode(without(d, i))
		if err != nil {
			t.Fatal(err)
		}
		worst = max(worst, distance(full, v))
	}
	return worst
}

// TestSensitivityBruteForce checks the stated sensitivity against every
// neighbouring data set of random small ones: no removal moves the vector
// further, and removing a worst-case row (a unit of k of them) moves it
// exactly that far, so a sensitivity off by any factor fails.
func TestSensitivityBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	quantities := [][]string{nil, {QuantityMoments}, {QuantityHistogram}}
	for _, k := range []int{0, 1, 3} {
		for _, q := range quantities {
			name := "records"
			if k > 0 {
				name = "units of " + string(rune('0'+k))
			}
			t.Run(name+"/"+strings.Join(q, "+"), func(t *testing.T) {
				spec, schema := testSpec()
				spec.Quantities = q
				spec.MaxRowsPerUnit = k
				if k > 0 {
					schema.PrivacyUnit = "patient"
				}
				l, err := NewLayout(spec, schema)
				if err != nil {
					t.Fatal(err)
				}
				delta := l.Sensitivity()
				for trial := range 20 {
					d := randomData(schema, 5+rng.IntN(20), k+2, rng)
					if got := bruteSensitivity(t, l, d); got > delta*(1+1e-12) {
						t.Fatalf("trial %d: a removal moves the vector by %v > sensitivity %v", trial, got, delta)
					}
				}
				// A worst-case row: every feature present at a bound (at
				// the lower one for one feature, whose u is −1).
				d := randomData(schema, 12, k+2, rng)
				worst := []float64{400, 18, 33, 7}
				rows := max(k, 1) + 2 // more rows than a unit may count
				for i := range rows {
					d.X.SetRow(i, worst)
					d.Y[i] = 2
					if d.Units != nil {
						d.Units[i] = -1
					}
				}
				if d.Units != nil {
					densify(d)
				}
				got := bruteSensitivity(t, l, d)
				if math.Abs(got-delta) > 1e-9*delta {
					t.Errorf("worst-case removal moves the vector by %v, stated sensitivity %v (ratio %.6f)", got, delta, got/delta)
				}
			})
		}
	}
}

func TestEncodeUnitsLeftOut(t *testing.T) {
	spec, schema := testSpec()
	schema.PrivacyUnit, spec.MaxRowsPerUnit = "patient", 2
	l, err := NewLayout(spec, schema)
	if err != nil {
		t.Fatal(err)
	}
	d := randomData(schema, 10, 1, rand.New(rand.NewPCG(3, 4)))
	for i := range d.Units {
		d.Units[i] = i % 3 // units of 4, 3 and 3 rows
	}
	densify(d)
	v, left, err := l.Encode(d)
	if err != nil {
		t.Fatal(err)
	}
	if left != 4 {
		t.Errorf("%d rows left out, want 4", left)
	}
	var rows float64
	for c := range 3 {
		rows += v[c*l.block]
	}
	if rows != 6 {
		t.Errorf("%v rows encoded, want 6", rows)
	}
}

func TestLayoutErrors(t *testing.T) {
	spec, schema := testSpec()
	l, err := NewLayout(spec, schema)
	if err != nil {
		t.Fatal(err)
	}
	other := schema
	other.Features = []string{"age", "chol", "bmi", "ward"}
	d := randomData(other, 3, 1, rand.New(rand.NewPCG(1, 1)))
	if _, _, err := l.Encode(d); err == nil {
		t.Error("encoded a data set with its features in another order")
	}
	withUnit := schema
	withUnit.PrivacyUnit = "patient"
	tests := []struct {
		name   string
		spec   func(*Spec)
		schema data.Schema
		want   string
	}{
		{"share", func(s *Spec) { s.EpsilonShare = 1 }, schema, "epsilon share 1"},
		{"quantity", func(s *Spec) { s.Quantities = []string{"mean"} }, schema, `quantity "mean"`},
		{"unknown feature", func(s *Spec) { s.Features[0].Name = "ldl" }, schema, `feature "ldl" is not in the schema`},
		{"repeated feature", func(s *Spec) { s.Features[1].Name = "chol" }, schema, "empty or repeated"},
		{"bounds", func(s *Spec) { s.Features[0].Bounds = &[2]float64{5, 5} }, schema, "bounds [5, 5]"},
		{"bins without bounds", func(s *Spec) { s.Features[2] = FeatureSpec{Name: "bmi", Bins: 3} }, schema, "need declared bounds"},
		{"edges", func(s *Spec) { s.Features[2].Edges = []float64{1, 3, 2} }, schema, "edge 2"},
		{"bins and edges", func(s *Spec) { s.Features[0].Edges = []float64{1, 2} }, schema, "both bins and edges"},
		{"k without unit", func(s *Spec) { s.MaxRowsPerUnit = 2 }, schema, "without a privacy-unit column"},
		{"unit without k", func(s *Spec) {}, withUnit, `privacy unit "patient" needs max rows per unit`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := testSpec()
			tt.spec(&s)
			_, err := NewLayout(s, tt.schema)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestParseSpec(t *testing.T) {
	spec, _ := testSpec()
	b := []byte(`{"features":[{"name":"chol","bounds":[100,400],"bins":6},{"name":"age","bounds":[18,90]},{"name":"bmi","edges":[15,20,25,30,40]}],"epsilon_share":0.5}`)
	got, err := ParseSpec(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Features[0].Bounds[1] != 400 || got.Features[2].Edges[4] != 40 || got.EpsilonShare != spec.EpsilonShare {
		t.Errorf("parsed %+v", got)
	}
	for _, bad := range []string{`{"epsilon_share":0.5,"x":1}`, `{"epsilon_share":0.5} {}`, `{"epsilon_share":0}`} {
		if _, err := ParseSpec([]byte(bad)); err == nil {
			t.Errorf("parsed %s", bad)
		}
	}
}
