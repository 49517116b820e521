package data

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func TestFitTransformByHand(t *testing.T) {
	nan := math.NaN()
	x := mat.NewDense(4, 3, []float64{
		1, 4, 5,
		2, nan, 5,
		3, 6, 5,
		nan, 11, 5,
	})
	tests := []struct {
		impute, normalize  string
		fill, shift, scale []float64
	}{
		// column 0: observed 1,2,3 → fill 2; imputed 1,2,3,2: mean 2, σ² = (1+0+1+0)/4
		// column 1: observed 4,6,11 → mean 7, median 6; imputed with the mean: 4,7,6,11, σ² = (9+0+1+16)/4
		// column 2: constant 5 → shift 5, scale 1
		{"mean", "zscore", []float64{2, 7, 5}, []float64{2, 7, 5}, []float64{math.Sqrt(0.5), math.Sqrt(6.5), 1}},
		// median fill 6: 4,6,6,11 mean 6.75, σ² = (7.5625+0.5625+0.5625+18.0625)/4
		{"median", "zscore", []float64{2, 6, 5}, []float64{2, 6.75, 5}, []float64{math.Sqrt(0.5), math.Sqrt(6.6875), 1}},
		{"mean", "minmax", []float64{2, 7, 5}, []float64{1, 4, 5}, []float64{2, 7, 1}},
		{"median", "none", []float64{2, 6, 5}, []float64{0, 0, 0}, []float64{1, 1, 1}},
		{"", "", []float64{2, 7, 5}, []float64{2, 7, 5}, []float64{math.Sqrt(0.5), math.Sqrt(6.5), 1}},
	}
	for _, tt := range tests {
		t.Run(tt.impute+"/"+tt.normalize, func(t *testing.T) {
			tr, err := FitTransform(x, tt.impute, tt.normalize)
			if err != nil {
				t.Fatal(err)
			}
			for j := range 3 {
				if !close(tr.Fill[j], tt.fill[j], 1e-15) || !close(tr.Shift[j], tt.shift[j], 1e-15) || !close(tr.Scale[j], tt.scale[j], 1e-15) {
					t.Errorf("column %d: fill %v shift %v scale %v, want %v %v %v", j, tr.Fill[j], tr.Shift[j], tr.Scale[j], tt.fill[j], tt.shift[j], tt.scale[j])
				}
			}
			var out mat.Dense
			if err := tr.Apply(&out, x); err != nil {
				t.Fatal(err)
			}
			// row 1, column 1 was missing: it becomes (fill − shift)/scale
			if got, want := out.At(1, 1), (tt.fill[1]-tt.shift[1])/tt.scale[1]; !close(got, want, 1e-15) {
				t.Errorf("imputed cell → %v, want %v", got, want)
			}
			if got := out.At(3, 2); got != (5-tt.shift[2])/tt.scale[2] {
				t.Errorf("constant column → %v", got)
			}
			if !math.IsNaN(x.At(1, 1)) {
				t.Error("Apply into another matrix changed the input")
			}
		})
	}
}

func close(a, b, tol float64) bool { return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b)) }

// colStats returns each column's mean, population standard deviation,
// minimum and maximum.
func colStats(x mat.Matrix) (mean, sd, lo, hi []float64) {
	r, c := x.Dims()
	for j := range c {
		var s, ss float64
		l, h := math.Inf(1), math.Inf(-1)
		for i := range r {
			v := x.At(i, j)
			s += v
			l, h = min(l, v), max(h, v)
		}
		m := s / float64(r)
		for i := range r {
			ss += (x.At(i, j) - m) * (x.At(i, j) - m)
		}
		mean, sd, lo, hi = append(mean, m), append(sd, math.Sqrt(ss/float64(r))), append(lo, l), append(hi, h)
	}
	return
}

// TestTransformFittedOnTrainOnly fits on wdbc's training rows: they come
// out standardized, the test rows do not, and the statistics differ from
// those of all rows.
func TestTransformFittedOnTrainOnly(t *testing.T) {
	d, _, err := LoadEmbedded("wdbc", Options{})
	if err != nil {
		t.Fatal(err)
	}
	train, test, err := StratifiedSplit(d, 0.25, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, norm := range []string{NormalizeZScore, NormalizeMinMax} {
		t.Run(norm, func(t *testing.T) {
			tr, err := FitTransform(train.X, MissingMean, norm)
			if err != nil {
				t.Fatal(err)
			}
			all, err := FitTransform(d.X, MissingMean, norm)
			if err != nil {
				t.Fatal(err)
			}
			differ := 0
			for j := range tr.Shift {
				if tr.Shift[j] != all.Shift[j] || tr.Scale[j] != all.Scale[j] {
					differ++
				}
			}
			if differ == 0 {
				t.Error("statistics fitted on the training rows equal those of all rows")
			}
			var trainOut, testOut mat.Dense
			if err := tr.Apply(&trainOut, train.X); err != nil {
				t.Fatal(err)
			}
			if err := tr.Apply(&testOut, test.X); err != nil {
				t.Fatal(err)
			}
			tm, tsd, tlo, thi := colStats(&trainOut)
			sm, ssd, slo, shi := colStats(&testOut)
			var testOff float64
			for j := range tm {
				switch norm {
				case NormalizeZScore:
					if !close(tm[j], 0, 1e-12) || !close(tsd[j], 1, 1e-12) {
						t.Fatalf("train column %d: mean %v sd %v, want 0 and 1", j, tm[j], tsd[j])
					}
					testOff += math.Abs(sm[j]) + math.Abs(ssd[j]-1)
				case NormalizeMinMax:
					if tlo[j] != 0 || !close(thi[j], 1, 1e-15) {
						t.Fatalf("train column %d: range [%v, %v], want [0, 1]", j, tlo[j], thi[j])
					}
					testOff += math.Abs(slo[j]) + math.Abs(shi[j]-1)
				}
			}
			// Test rows are transformed with the training statistics, so
			// they are not exactly standardized.
			if testOff < 1e-3 {
				t.Errorf("test rows standardized as if fitted on them (off by %v)", testOff)
			}
		})
	}
}

func TestTransformApplyInPlace(t *testing.T) {
	x := mat.NewDense(3, 2, []float64{1, 10, 2, math.NaN(), 3, 30})
	tr, err := FitTransform(x, MissingMedian, NormalizeMinMax)
	if err != nil {
		t.Fatal(err)
	}
	var copyOut mat.Dense
	if err := tr.Apply(&copyOut, x); err != nil {
		t.Fatal(err)
	}
	if err := tr.Apply(x, x); err != nil {
		t.Fatal(err)
	}
	if !mat.Equal(x, &copyOut) {
		t.Errorf("in place %v, into a new matrix %v", mat.Formatted(x), mat.Formatted(&copyOut))
	}
	if got := x.At(1, 1); got != 0.5 { // median 20 of 10, 30 → (20−10)/20
		t.Errorf("imputed in place → %v, want 0.5", got)
	}
}

func TestTransformErrors(t *testing.T) {
	x := mat.NewDense(2, 2, []float64{1, 2, 3, 4})
	tr, err := FitTransform(x, "", "")
	if err != nil {
		t.Fatal(err)
	}
	inf := mat.NewDense(2, 2, []float64{1, 2, math.Inf(1), 4})
	dst := mat.NewDense(2, 2, []float64{7, 7, 7, 7})
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"unknown impute", second(FitTransform(x, "zero", "")), `impute "zero"`},
		{"unknown normalize", second(FitTransform(x, "", "robust")), `normalize "robust"`},
		{"no rows", second(FitTransform(&mat.Dense{}, "", "")), "no training rows"},
		{"all missing column", second(FitTransform(mat.NewDense(2, 2, []float64{1, math.NaN(), 2, math.NaN()}), "", "")), "column 1: no observed value"},
		{"infinite in fit", second(FitTransform(inf, "", "")), "row 1, column 0: infinite value"},
		{"column count", tr.Apply(&mat.Dense{}, mat.NewDense(2, 3, nil)), "3 columns, transform fitted on 2"},
		{"destination shape", tr.Apply(mat.NewDense(3, 2, nil), x), "destination 3×2, input 2×2"},
		{"infinite in apply", tr.Apply(dst, inf), "row 1, column 0: infinite value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err == nil || !strings.Contains(tt.err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", tt.err, tt.want)
			}
		})
	}
	if dst.At(0, 0) != 7 {
		t.Error("a failed Apply wrote into its destination")
	}
}

func second[T any](_ T, err error) error { return err }

func TestTransformJSON(t *testing.T) {
	d := Synthetic(200, 5, 3, 7)
	tr, err := FitTransform(d.X, MissingMedian, NormalizeZScore)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	var back Transform
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	var a, c mat.Dense
	if err := tr.Apply(&a, d.X); err != nil {
		t.Fatal(err)
	}
	if err := back.Apply(&c, d.X); err != nil {
		t.Fatal(err)
	}
	if !mat.Equal(&a, &c) {
		t.Error("decoded transform applies differently")
	}
	for _, bad := range []string{
		`{"impute":"mean","normalize":"zscore","fill":[1],"shift":[0],"scale":[0]}`,
		`{"impute":"mean","normalize":"zscore","fill":[1,2],"shift":[0],"scale":[1]}`,
		`{"impute":"mode","normalize":"zscore","fill":[1],"shift":[0],"scale":[1]}`,
		`{"impute":"mean","normalize":"zscore","fill":[],"shift":[],"scale":[]}`,
		`{"impute":"mean","normalize":"zscore","fill":[1],"shift":[0],"scale":[-1]}`,
		`{"impute":"mean","normalize":"zscore","fill":[1],"shift":[0],"scale":[1],"clamp":[[2,1]]}`,
		`{"impute":"mean","normalize":"zscore","fill":[1,2],"shift":[0,0],"scale":[1,1],"clamp":[null]}`,
		`{"impute":"mean","normalize":"zscore","fill":[1],"shift":[0],"scale":[1],"clamp":[[0]]}`,
	} {
		if err := json.Unmarshal([]byte(bad), new(Transform)); err == nil {
			t.Errorf("decoded invalid transform %s", bad)
		}
	}
}

func FuzzTransformJSON(f *testing.F) {
	f.Add([]byte(`{"impute":"mean","normalize":"zscore","fill":[1,2],"shift":[0.5,2],"scale":[1,3]}`))
	f.Add([]byte(`{"impute":"median","normalize":"minmax","fill":[1],"shift":[0],"scale":[1e-300]}`))
	f.Add([]byte(`{"impute":"mean","normalize":"none","fill":[1],"shift":[0],"scale":[0]}`))
	f.Add([]byte(`{"impute":"mean"`))
	f.Add([]byte(`{"impute":"mean","normalize":"zscore","fill":[1,2],"shift":[0,1],"scale":[1,2],"clamp":[[0,3],null]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var tr Transform
		if err := json.Unmarshal(b, &tr); err != nil {
			return
		}
		if err := tr.Validate(); err != nil {
			t.Fatalf("decoded an invalid transform: %v", err)
		}
		again, err := json.Marshal(&tr)
		if err != nil {
			t.Fatal(err)
		}
		var back Transform
		if err := json.Unmarshal(again, &back); err != nil {
			t.Fatalf("re-decoding %s: %v", again, err)
		}
		x := mat.NewDense(2, tr.Columns(), nil)
		for j := range tr.Columns() {
			x.Set(0, j, math.NaN())
			x.Set(1, j, 1e300)
		}
		var a, c mat.Dense
		if err := tr.Apply(&a, x); err != nil {
			t.Fatal(err)
		}
		if err := back.Apply(&c, x); err != nil {
			t.Fatal(err)
		}
		if !mat.Equal(&a, &c) {
			t.Fatal("round trip changed the transform")
		}
	})
}

func TestTransformClamp(t *testing.T) {
	nan := math.NaN()
	x := mat.NewDense(3, 2, []float64{
		-5, 1e4,
		0.5, nan,
		9, -3,
	})
	tr := &Transform{Impute: MissingMean, Normalize: NormalizeZScore,
		Fill: []float64{0, 50}, Shift: []float64{1, 100}, Scale: []float64{2, 10},
		Clamp: []*[2]float64{nil, {0, 200}}}
	if err := tr.Validate(); err != nil {
		t.Fatal(err)
	}
	var out mat.Dense
	if err := tr.Apply(&out, x); err != nil {
		t.Fatal(err)
	}
	// column 0 is not clamped; column 1 is clamped into [0, 200] after the
	// missing cell took the fill 50.
	want := []float64{
		(-5 - 1) / 2.0, (200 - 100) / 10.0,
		(0.5 - 1) / 2.0, (50 - 100) / 10.0,
		(9 - 1) / 2.0, (0 - 100) / 10.0,
	}
	if got := out.RawMatrix().Data; !slices.Equal(got, want) {
		t.Errorf("clamped transform gives %v, want %v", got, want)
	}
	// The JSON of a transform without clamping has no clamp field, as the
	// sealed models written before it; one with clamping round-trips.
	old := `{"impute":"mean","normalize":"zscore","fill":[0,50],"shift":[1,100],"scale":[2,10]}`
	var back Transform
	if err := json.Unmarshal([]byte(old), &back); err != nil || back.Clamp != nil {
		t.Fatalf("old JSON: %v, clamp %v", err, back.Clamp)
	}
	if b, _ := json.Marshal(&back); string(b) != old {
		t.Errorf("old transform re-encodes as %s", b)
	}
	b, err := json.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"clamp":[null,[0,200]]`) {
		t.Errorf("clamp encodes as %s", b)
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	var again mat.Dense
	if err := back.Apply(&again, x); err != nil || !mat.Equal(&again, &out) {
		t.Errorf("decoded clamped transform applies differently (%v)", err)
	}
}
