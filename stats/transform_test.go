package stats

import (
	"math"
	"strings"
	"testing"

	"github.com/fedcrypt/fedcrypt/data"
	"gonum.org/v1/gonum/mat"
)

func TestTransformFromSummary(t *testing.T) {
	l := clinicalLayout(t)
	ds := clinicalSites(2, 200, 5)
	// The second hospital does not measure age.
	for i := range ds[1].Rows() {
		ds[1].X.Set(i, 1, math.NaN())
	}
	s, err := l.Decode(sumEncoded(t, l, ds, nil, 0), 0)
	if err != nil {
		t.Fatal(err)
	}
	chol, age := exact(ds, 0, 100, 500), exact(ds, 1, 18, 90)
	tests := []struct {
		impute, normalize  string
		fill, shift, scale [2]float64
	}{
		{"mean", "zscore", [2]float64{chol.mean, age.mean}, [2]float64{chol.mean, age.mean}, [2]float64{math.Sqrt(chol.variance), math.Sqrt(age.variance)}},
		{"median", "minmax", [2]float64{s.Features[0].All.Median.Value, s.Features[1].All.Median.Value}, [2]float64{100, 18}, [2]float64{400, 72}},
		{"mean", "none", [2]float64{chol.mean, age.mean}, [2]float64{0, 0}, [2]float64{1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.impute+"/"+tt.normalize, func(t *testing.T) {
			tf, _, err := s.Transform(tt.impute, tt.normalize)
			if err != nil {
				t.Fatal(err)
			}
			for j := range 2 {
				if math.Abs(tf.Fill[j]-tt.fill[j]) > 1e-9*tt.fill[j] || math.Abs(tf.Shift[j]-tt.shift[j]) > 1e-9*math.Max(1, tt.shift[j]) || math.Abs(tf.Scale[j]-tt.scale[j]) > 1e-9*tt.scale[j] {
					t.Errorf("column %d: fill %v shift %v scale %v, want %v %v %v", j, tf.Fill[j], tf.Shift[j], tf.Scale[j], tt.fill[j], tt.shift[j], tt.scale[j])
				}
				if *tf.Clamp[j] != *s.Features[j].Bounds {
					t.Errorf("column %d: clamp %v", j, *tf.Clamp[j])
				}
			}
			// The hospital without age applies it: imputed, and an outlier
			// is clamped.
			x := mat.NewDense(2, 2, []float64{1e4, math.NaN(), 150, math.NaN()})
			var out mat.Dense
			if err := tf.Apply(&out, x); err != nil {
				t.Fatal(err)
			}
			if got, want := out.At(0, 0), (500-tt.shift[0])/tt.scale[0]; math.Abs(got-want) > 1e-9*math.Abs(want) {
				t.Errorf("outlier → %v, want the upper bound's %v", got, want)
			}
			if got, want := out.At(1, 1), (tt.fill[1]-tt.shift[1])/tt.scale[1]; math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
				t.Errorf("absent age → %v, want %v", got, want)
			}
		})
	}
}

func TestTransformErrors(t *testing.T) {
	s := edgesOnlySummary(t)
	for _, tt := range []struct{ impute, normalize, want string }{
		{"mean", "minmax", `feature "a": minmax needs declared bounds`},
		{"mode", "none", `impute "mode"`},
		{"mean", "robust", `normalize "robust"`},
	} {
		if _, _, err := s.Transform(tt.impute, tt.normalize); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s/%s: error %v, want %q", tt.impute, tt.normalize, err, tt.want)
		}
	}
}

// edgesOnlySummary returns the exact statistics of two rows: feature "a"
// with a histogram and no bounds, "b" with counts only.
func edgesOnlySummary(t *testing.T) *Summary {
	spec := Spec{EpsilonShare: 0.5, Features: []FeatureSpec{{Name: "a", Edges: []float64{0, 1, 2}}}}
	l, err := NewLayout(spec, data.Schema{Features: []string{"a", "b"}, Label: "y", Classes: []string{"0", "1"}})
	if err != nil {
		t.Fatal(err)
	}
	d := &data.Dataset{Name: "h", Features: []string{"a", "b"}, Classes: []string{"0", "1"}, Label: "y",
		X: mat.NewDense(2, 2, []float64{0.5, 3, 1.5, 4}), Y: []float64{0, 1}}
	s, err := l.Decode(sumEncoded(t, l, []*data.Dataset{d}, nil, 0), 0)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestTransformFallbacks: a figure that was not released falls back to the
// next on its list, and the notes name it.
func TestTransformFallbacks(t *testing.T) {
	s := edgesOnlySummary(t)
	median := s.Features[0].All.Median.Value
	tf, notes, err := s.Transform("mean", "zscore")
	if err != nil {
		t.Fatal(err)
	}
	if tf.Fill[0] != median || tf.Shift[0] != median || tf.Fill[1] != 0 || tf.Shift[1] != 0 || tf.Scale[1] != 1 {
		t.Errorf("fill %v shift %v scale %v, want a's median %v, and 0, 0, 1 for b", tf.Fill, tf.Shift, tf.Scale, median)
	}
	want := []string{`feature "a": fill the DP median instead`, `feature "b": fill 0 (no declared bounds`}
	if len(notes) != 2 || !strings.HasPrefix(notes[0], want[0]) || !strings.HasPrefix(notes[1], want[1]) || !strings.Contains(notes[1], "scale 1") {
		t.Errorf("notes %q, want %q…", notes, want)
	}
	if tf, notes, err := s.Transform("median", "none"); err != nil || tf.Fill[0] != median || len(notes) != 1 {
		t.Errorf("median/none: fill %v, notes %q, err %v: want the median and b's note only", tf.Fill, notes, err)
	}
}

// TestTransformSpreadFallback: a DP variance lost in the noise gives way
// to the DP IQR, then to the declared range.
func TestTransformSpreadFallback(t *testing.T) {
	l := clinicalLayout(t)
	totals := sumEncoded(t, l, clinicalSites(2, 200, 5), nil, 0)
	for _, tt := range []struct {
		name  string
		noise float64
		want  func(f FeatureSummary) float64
	}{
		{"variance", 0, func(f FeatureSummary) float64 { return math.Sqrt(f.All.Variance.Value) }},
		{"range", 5e3, func(f FeatureSummary) float64 { return (f.Bounds[1] - f.Bounds[0]) / 4 }},
	} {
		s, err := l.Decode(totals, tt.noise)
		if err != nil {
			t.Fatal(err)
		}
		tf, _, err := s.Transform("mean", "zscore")
		if err != nil {
			t.Fatal(err)
		}
		for j, f := range s.Features {
			if want := tt.want(f); !(want > 0) || math.Abs(tf.Scale[j]-want) > 1e-12*want {
				t.Errorf("%s: column %d: scale %v, want %v", tt.name, j, tf.Scale[j], want)
			}
		}
	}
	// Without moments, the exact IQR.
	hist := Spec{EpsilonShare: 0.5, Quantities: []string{QuantityHistogram}, Features: []FeatureSpec{{Name: "chol", Bounds: &[2]float64{100, 500}, Bins: 20}, {Name: "age", Bounds: &[2]float64{18, 90}, Bins: 12}}}
	lh, err := NewLayout(hist, data.Schema{Features: []string{"chol", "age"}, Label: "y", Classes: []string{"0", "1"}})
	if err != nil {
		t.Fatal(err)
	}
	sh, err := lh.Decode(sumEncoded(t, lh, clinicalSites(2, 200, 5), nil, 0), 0)
	if err != nil {
		t.Fatal(err)
	}
	if tf, _, err := sh.Transform("median", "zscore"); err != nil || math.Abs(tf.Scale[0]-sh.Features[0].All.IQR.Value/iqrPerSD) > 1e-9 {
		t.Errorf("histogram only: scale %v, err %v, want the IQR/1.349", tf.Scale, err)
	}
	// Without a histogram, a quarter of the declared range.
	spec := Spec{EpsilonShare: 0.5, Quantities: []string{QuantityMoments}, Features: []FeatureSpec{{Name: "chol", Bounds: &[2]float64{100, 500}}, {Name: "age", Bounds: &[2]float64{18, 90}}}}
	l, err = NewLayout(spec, data.Schema{Features: []string{"chol", "age"}, Label: "y", Classes: []string{"0", "1"}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := l.Decode(sumEncoded(t, l, clinicalSites(2, 200, 5), nil, 0), 5e3)
	if err != nil {
		t.Fatal(err)
	}
	tf, _, err := s.Transform("mean", "zscore")
	if err != nil {
		t.Fatal(err)
	}
	if tf.Scale[0] != 100 || tf.Scale[1] != 18 {
		t.Errorf("scales %v, want [100 18]", tf.Scale)
	}
}
