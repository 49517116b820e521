package data

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

func digits(t testing.TB) *Dataset {
	d, _, err := LoadEmbedded("digits", Options{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// labelSkewTV returns the mean over hospitals of the total variation
// distance between a hospital's label distribution and the whole set's,
// each hospital weighted equally or, with byRows, by its share of rows.
func labelSkewTV(d *Dataset, parts []*Dataset, byRows bool) float64 {
	global := d.ClassCounts()
	var sum float64
	for _, p := range parts {
		var tv float64
		for c, n := range p.ClassCounts() {
			tv += math.Abs(float64(n)/float64(p.Rows()) - float64(global[c])/float64(d.Rows()))
		}
		w := 1 / float64(len(parts))
		if byRows {
			w = float64(p.Rows()) / float64(d.Rows())
		}
		sum += w * tv / 2
	}
	return sum
}

// sizeCV returns the coefficient of variation of the hospitals' sizes.
func sizeCV(parts []*Dataset) float64 {
	var s, ss float64
	for _, p := range parts {
		s += float64(p.Rows())
	}
	m := s / float64(len(parts))
	for _, p := range parts {
		ss += (float64(p.Rows()) - m) * (float64(p.Rows()) - m)
	}
	return math.Sqrt(ss/float64(len(parts))) / m
}

func partition(t *testing.T, d *Dataset, n int, scheme string, seed uint64) []*Dataset {
	t.Helper()
	s, err := ParseScheme(scheme)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := Partition(d, n, s, seed)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != n {
		t.Fatalf("%d parts, want %d", len(parts), n)
	}
	schema := d.Schema()
	for h, p := range parts {
		if err := schema.Check(p); err != nil {
			t.Fatalf("hospital %d: %v", h, err)
		}
	}
	if err := disjointCover(d, parts...); err != nil {
		t.Fatal(err)
	}
	return parts
}

func TestPartitionIID(t *testing.T) {
	d := digits(t)
	for _, n := range []int{1, 3, 10} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			parts := partition(t, d, n, "iid", 5)
			total := d.ClassCounts()
			for h, p := range parts {
				if p.Rows() < d.Rows()/n || p.Rows() > d.Rows()/n+1 {
					t.Errorf("hospital %d: %d rows, want %d or %d", h, p.Rows(), d.Rows()/n, d.Rows()/n+1)
				}
				for c, k := range p.ClassCounts() {
					if k < total[c]/n || k > total[c]/n+1 {
						t.Errorf("hospital %d: %d rows of class %d, want about %d", h, k, c, total[c]/n)
					}
				}
			}
		})
	}
}

// TestDirichletSkew measures label skew on digits over 10 hospitals,
// averaged over seeds: the smaller α, the further each hospital's label
// mix is from the whole set's.
func TestDirichletSkew(t *testing.T) {
	d := digits(t)
	seeds := 8
	if testing.Short() {
		seeds = 3
	}
	tv := map[string]float64{}
	for _, scheme := range []string{"iid", "dirichlet:0.1", "dirichlet:1", "dirichlet:100"} {
		for seed := range seeds {
			tv[scheme] += labelSkewTV(d, partition(t, d, 10, scheme, uint64(seed)), false) / float64(seeds)
		}
	}
	t.Logf("mean total-variation distance to the global label mix: %v", tv)
	switch {
	case tv["iid"] > 0.02:
		t.Errorf("iid: TV %.3f, want ≈ 0", tv["iid"])
	case tv["dirichlet:0.1"] < 0.6:
		t.Errorf("dirichlet:0.1: TV %.3f, want strong skew (> 0.6)", tv["dirichlet:0.1"])
	case !(tv["dirichlet:0.1"] > tv["dirichlet:1"] && tv["dirichlet:1"] > tv["dirichlet:100"]):
		t.Errorf("skew does not fall with α: %v", tv)
	case tv["dirichlet:100"] > 0.15:
		t.Errorf("dirichlet:100: TV %.3f, want close to iid", tv["dirichlet:100"])
	}
}

func TestQuantitySkew(t *testing.T) {
	d := wdbc(t)
	var cvIID, cvQ, tvQ float64
	for seed := range uint64(5) {
		cvIID += sizeCV(partition(t, d, 8, "iid", seed)) / 5
		q := partition(t, d, 8, "quantity:0.5", seed)
		cvQ += sizeCV(q) / 5
		tvQ += labelSkewTV(d, q, true) / 5
	}
	t.Logf("over 5 seeds: size CV iid %.3f, quantity:0.5 %.3f; row-weighted label TV %.3f", cvIID, cvQ, tvQ)
	// Dir(0.5) over 8 parts: sd of a share √(⅛·⅞/5) ≈ 0.148 against a mean
	// of 0.125, so a CV near 1; labels stay as mixed as chance leaves them.
	if cvIID > 0.01 || cvQ < 0.5 || tvQ > 0.1 {
		t.Errorf("size CV: iid %.3f, quantity:0.5 %.3f; label TV %.3f", cvIID, cvQ, tvQ)
	}
}

func TestPartitionDeterministic(t *testing.T) {
	d := wdbc(t)
	for _, scheme := range []string{"iid", "dirichlet:0.5", "quantity:1"} {
		a := partition(t, d, 4, scheme, 11)
		b := partition(t, d, 4, scheme, 11)
		c := partition(t, d, 4, scheme, 12)
		same := true
		for h := range a {
			if err := sameDataset(a[h], b[h]); err != nil {
				t.Errorf("%s: hospital %d differs with the same seed: %v", scheme, h, err)
			}
			same = same && sameDataset(a[h], c[h]) == nil
		}
		if same {
			t.Errorf("%s: seeds 11 and 12 give the same partition", scheme)
		}
	}
}

func TestPartitionKeepsUnits(t *testing.T) {
	d := withUnits(wdbc(t))
	for _, scheme := range []string{"iid", "dirichlet:0.3", "quantity:0.5"} {
		parts := partition(t, d, 5, scheme, 2)
		if owner := unitSets(t, parts...); len(owner) != d.NumUnits() {
			t.Errorf("%s: %d units after partitioning, %d before", scheme, len(owner), d.NumUnits())
		}
	}
}

func TestPartitionErrors(t *testing.T) {
	d := wdbc(t)
	tests := []struct {
		name string
		n    int
		s    Scheme
		want string
	}{
		{"no hospitals", 0, Scheme{Kind: "iid"}, "into 0 hospitals: need between 1 and 569"},
		{"more hospitals than rows", 3, Scheme{Kind: "iid"}, "into 3 hospitals: need between 1 and 2"},
		{"empty hospital", 40, Scheme{Kind: "dirichlet", Alpha: 0.001}, "a hospital would get no rows in 1000 draws"},
		{"unknown", 2, Scheme{Kind: "zipf"}, `partition scheme "zipf"`},
		{"alpha 0", 2, Scheme{Kind: "dirichlet"}, "α 0 outside"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := d
			if tt.name == "more hospitals than rows" {
				src = d.Subset([]int{0, 1})
			}
			_, err := Partition(src, tt.n, tt.s, 1)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestDirichletMoments checks the sampler against the moments of
// Dir(α, …, α) in n dimensions: E p = 1/n, Var p = (1/n)(1 − 1/n)/(nα + 1).
func TestDirichletMoments(t *testing.T) {
	const n, draws = 4, 20000
	for _, alpha := range []float64{0.1, 0.5, 3} {
		_, src := newRand("test", 1)
		g := distuv.Gamma{Alpha: alpha, Beta: 1, Src: src}
		var s, ss float64
		for range draws {
			p := dirichlet(g, n)
			s += p[0]
			ss += p[0] * p[0]
		}
		mean := s / draws
		v := ss/draws - mean*mean
		wantV := (1.0 / n) * (1 - 1.0/n) / (n*alpha + 1)
		// standard error of the mean is √(Var/draws) ≤ 0.003
		if math.Abs(mean-1.0/n) > 0.01 || math.Abs(v-wantV) > 0.08*wantV {
			t.Errorf("α %v: mean %.4f var %.5f, want %.4f %.5f", alpha, mean, v, 1.0/n, wantV)
		}
	}
}

func TestParseScheme(t *testing.T) {
	good := map[string]Scheme{
		"iid":           {Kind: "iid"},
		"dirichlet:0.5": {Kind: "dirichlet", Alpha: 0.5},
		"quantity:1":    {Kind: "quantity", Alpha: 1},
		"dirichlet:1e2": {Kind: "dirichlet", Alpha: 100},
	}
	for in, want := range good {
		got, err := ParseScheme(in)
		if err != nil || got != want {
			t.Errorf("ParseScheme(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "IID", "iid:1", "dirichlet", "dirichlet:", "dirichlet:x", "dirichlet:-1", "dirichlet:NaN", "dirichlet:Inf", "quantity:0", "label:0.5"} {
		if s, err := ParseScheme(bad); err == nil {
			t.Errorf("ParseScheme(%q) = %+v, want an error", bad, s)
		}
	}
}

func FuzzParseScheme(f *testing.F) {
	for _, s := range []string{"iid", "dirichlet:0.5", "quantity:1", "dirichlet:", "iid:2", "dirichlet:1e-9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseScheme(in)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("error %q is not one line", err)
			}
			return
		}
		back, err := ParseScheme(s.String())
		if err != nil || back != s {
			t.Fatalf("%q → %+v → %q → %+v, %v", in, s, s.String(), back, err)
		}
	})
}
