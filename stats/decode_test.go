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

// truth holds a feature's exact statistics over the clamped values.
type truth struct {
	n, missing, mean, variance float64
	q1, median, q3             float64
}

// exact computes a feature's statistics over all rows of ds, values
// clamped into [lo, hi]; quantiles are the lower ones, x₍⌈pn⌉₎.
func exact(ds []*data.Dataset, j int, lo, hi float64) truth {
	var vals []float64
	var tr truth
	for _, d := range ds {
		for i := range d.Rows() {
			v := d.X.At(i, j)
			if math.IsNaN(v) {
				tr.missing++
				continue
			}
			vals = append(vals, min(max(v, lo), hi))
		}
	}
	tr.n = float64(len(vals))
	for _, v := range vals {
		tr.mean += v / tr.n
	}
	for _, v := range vals {
		tr.variance += (v - tr.mean) * (v - tr.mean) / tr.n
	}
	slices.Sort(vals)
	q := func(p float64) float64 { return vals[int(math.Ceil(p*tr.n))-1] }
	tr.q1, tr.median, tr.q3 = q(0.25), q(0.5), q(0.75)
	return tr
}

// clinicalSites returns hospitals of rows rows with a skewed cholesterol
// (a few values beyond the bounds) and an age with missing cells.
func clinicalSites(hospitals, rows int, seed uint64) []*data.Dataset {
	rng := rand.New(rand.NewPCG(seed, 99))
	var out []*data.Dataset
	for range hospitals {
		d := &data.Dataset{Name: "h", Features: []string{"chol", "age"}, Classes: []string{"0", "1"}, Label: "y",
			X: mat.NewDense(rows, 2, nil), Y: make([]float64, rows)}
		for i := range rows {
			d.X.Set(i, 0, 150+60*rng.ExpFloat64())
			age := 30 + 50*rng.Float64()
			if rng.IntN(10) == 0 {
				age = math.NaN()
			}
			d.X.Set(i, 1, age)
			if rng.Float64() < 0.4 {
				d.Y[i] = 1
			}
		}
		out = append(out, d)
	}
	return out
}

func clinicalLayout(t testing.TB) *Layout {
	spec := Spec{EpsilonShare: 0.5, Features: []FeatureSpec{
		{Name: "chol", Bounds: &[2]float64{100, 500}, Bins: 20},
		{Name: "age", Bounds: &[2]float64{18, 90}, Bins: 12},
	}}
	l, err := NewLayout(spec, data.Schema{Features: []string{"chol", "age"}, Label: "y", Classes: []string{"0", "1"}})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// sumEncoded encodes each hospital, noises it with r when r is not nil,
// and sums.
func sumEncoded(t testing.TB, l *Layout, ds []*data.Dataset, r *Release, seed uint64) []float64 {
	sum := make([]float64, l.Len())
	for h, d := range ds {
		v, _, err := l.Encode(d)
		if err != nil {
			t.Fatal(err)
		}
		if r != nil {
			if err := r.AddNoise(v, rand.NewChaCha8([32]byte{byte(h), byte(seed), byte(seed >> 8)})); err != nil {
				t.Fatal(err)
			}
		}
		for i, x := range v {
			sum[i] += x
		}
	}
	return sum
}

// TestDecodeExact decodes noiseless totals: the figures are the data's
// own (quantiles to within their bin).
func TestDecodeExact(t *testing.T) {
	l := clinicalLayout(t)
	ds := clinicalSites(3, 300, 1)
	s, err := l.Decode(sumEncoded(t, l, ds, nil, 0), 0)
	if err != nil {
		t.Fatal(err)
	}
	for j, b := range [][2]float64{{100, 500}, {18, 90}} {
		f, tr := s.Features[j].All, exact(ds, j, b[0], b[1])
		if f.Count.Value != tr.n || f.Missing.Value != tr.missing {
			t.Errorf("feature %d: count %v missing %v, want %v %v", j, f.Count.Value, f.Missing.Value, tr.n, tr.missing)
		}
		if math.Abs(f.Mean.Value-tr.mean) > 1e-9*tr.mean || math.Abs(f.Variance.Value-tr.variance) > 1e-9*tr.variance {
			t.Errorf("feature %d: mean %v variance %v, want %v %v", j, f.Mean.Value, f.Variance.Value, tr.mean, tr.variance)
		}
		width := (b[1] - b[0]) / float64(len(f.Histogram))
		for _, q := range []struct {
			got  *Estimate
			want float64
		}{{f.Q1, tr.q1}, {f.Median, tr.median}, {f.Q3, tr.q3}} {
			if math.Abs(q.got.Value-q.want) > width || q.got.Hi-q.got.Lo > width+1e-9 || q.want < q.got.Lo || q.want > q.got.Hi {
				t.Errorf("feature %d: quantile %+v, want %v in one bin of %v", j, *q.got, q.want, width)
			}
		}
		if f.MissingFraction.Value != tr.missing/(tr.n+tr.missing) {
			t.Errorf("feature %d: missing fraction %v", j, f.MissingFraction.Value)
		}
	}
	if s.Rows.Value != 900 {
		t.Errorf("rows %v", s.Rows.Value)
	}
}

// TestDecodeCoverage checks the stated errors empirically: over many
// noisy releases of three hospitals, each 95% interval covers the exact
// figure at least 90% of the time, and not nearly always (which would
// mean an interval much wider than it says).
func TestDecodeCoverage(t *testing.T) {
	l := clinicalLayout(t)
	ds := clinicalSites(3, 400, 2)
	r := Release{Sensitivity: l.Sensitivity(), NoiseMultiplier: 4, Sigma: 4 * l.Sensitivity(), Dim: l.Len()}
	trials := 300
	if testing.Short() {
		trials = 120
	}
	names := []string{"count", "missing fraction", "mean", "variance", "q1", "median", "q3", "iqr"}
	covered := map[string]int{}
	for trial := range trials {
		s, err := l.Decode(sumEncoded(t, l, ds, &r, uint64(trial)), r.TotalNoise(len(ds)))
		if err != nil {
			t.Fatal(err)
		}
		for j, b := range [][2]float64{{100, 500}, {18, 90}} {
			f, tr := s.Features[j].All, exact(ds, j, b[0], b[1])
			for k, c := range []struct {
				e    *Estimate
				want float64
			}{
				{&f.Count, tr.n}, {f.MissingFraction, tr.missing / (tr.n + tr.missing)},
				{f.Mean, tr.mean}, {f.Variance, tr.variance},
				{f.Q1, tr.q1}, {f.Median, tr.median}, {f.Q3, tr.q3}, {f.IQR, tr.q3 - tr.q1},
			} {
				if c.e != nil && c.e.Lo <= c.want && c.want <= c.e.Hi {
					covered[names[k]]++
				}
			}
		}
	}
	for _, name := range names {
		rate := float64(covered[name]) / float64(2*trials)
		t.Logf("%-17s 95%% interval covers %.3f", name, rate)
		// Quantile intervals are made of whole bins, so they may cover
		// always; the normal ones must not be much wider than stated.
		if rate < 0.9 || !strings.HasPrefix(name, "q") && name != "median" && name != "iqr" && name != "missing fraction" && rate > 0.995 {
			t.Errorf("%s: coverage %.3f, want 0.9–0.995", name, rate)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	l := clinicalLayout(t)
	v := make([]float64, l.Len())
	for _, tt := range []struct {
		v    []float64
		std  float64
		want string
	}{
		{v[:3], 1, "3 values, the layout has"},
		{append(slices.Clone(v[:l.Len()-1]), math.Inf(1)), 1, "is not a finite number"},
		{v, -1, "noise standard deviation -1"},
		{v, math.NaN(), "noise standard deviation NaN"},
	} {
		if _, err := l.Decode(tt.v, tt.std); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("error %v, want %q", err, tt.want)
		}
	}
	// All-zero totals decode, with nothing to divide by.
	s, err := l.Decode(v, 10)
	if err != nil {
		t.Fatal(err)
	}
	if f := s.Features[0].All; f.Mean != nil || f.Median != nil || f.MissingFraction != nil {
		t.Errorf("figures from no rows: %+v", f)
	}
	// Nothing to go on: the transform falls back to the declared bounds,
	// and says so.
	tf, notes, err := s.Transform("", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) == 0 || !strings.Contains(notes[0], "midpoint of the declared bounds") {
		t.Errorf("notes %q, want a fallback to the midpoint", notes)
	}
	if b := s.Features[0].Bounds; b != nil && tf.Fill[0] != (b[0]+b[1])/2 {
		t.Errorf("fill %v from no rows, want the midpoint of %v", tf.Fill[0], *b)
	}
}
