package data

import (
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestMissingValueCodes(t *testing.T) {
	csv := "id,chol,glucose,age,y\n" +
		"a,0,90,50,1\n" +
		"b,210,0.0,61,0\n" +
		"c,190,-9,70,1\n" +
		"d,0,0,0,0\n"
	opt := Options{Label: "y", Drop: []string{"id"}, MissingValues: map[string][]float64{"chol": {0}, "glucose": {0, -9}}}
	d, rep, err := Load(strings.NewReader(csv), "site.csv", opt)
	if err != nil {
		t.Fatal(err)
	}
	nan := math.NaN()
	want := []float64{nan, 90, 50, 210, nan, 61, 190, nan, 70, nan, nan, 0}
	got := d.X.RawMatrix().Data
	for i := range want {
		if got[i] != want[i] && !(math.IsNaN(got[i]) && math.IsNaN(want[i])) {
			t.Fatalf("cells %v, want %v", got, want)
		}
	}
	// age 0 has no code: it stays a value.
	if !maps.Equal(rep.Missing, map[string]int{"chol": 2, "glucose": 3}) {
		t.Errorf("missing %v", rep.Missing)
	}
	// ReadRows honours the schema's codes.
	s := d.Schema()
	s.MissingValues = opt.MissingValues
	rows, err := s.ReadRows(strings.NewReader(csv), "site.csv")
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range rows.X.RawMatrix().Data {
		if v != got[i] && !(math.IsNaN(v) && math.IsNaN(got[i])) {
			t.Fatalf("ReadRows cell %d = %v, Load read %v", i, v, got[i])
		}
	}
	// The schema passes its codes on to Load.
	if o := s.LoadOptions(Options{}); !maps.EqualFunc(o.MissingValues, opt.MissingValues, slices.Equal) {
		t.Errorf("LoadOptions codes %v", o.MissingValues)
	}
}

func TestAbsentFeature(t *testing.T) {
	s := Schema{Features: []string{"age", "chol", "bp"}, Label: "y", Classes: []string{"0", "1"},
		MissingValues: map[string][]float64{"bp": {0}}}
	// This hospital does not measure chol, orders its columns its own way
	// and codes a missing bp as 0.
	csv := "bp,y,age\n120,1,50\n0,0,61\n"
	d, rep, err := Load(strings.NewReader(csv), "site.csv", s.LoadOptions(Options{}))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(d); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.Absent, []string{"chol"}) || rep.Missing["chol"] != 2 || rep.Missing["bp"] != 1 {
		t.Errorf("absent %q, missing %v", rep.Absent, rep.Missing)
	}
	if d.X.At(0, 0) != 50 || !math.IsNaN(d.X.At(0, 1)) || !math.IsNaN(d.X.At(1, 1)) || d.X.At(0, 2) != 120 || !math.IsNaN(d.X.At(1, 2)) {
		t.Errorf("cells %v", d.X.RawMatrix().Data)
	}
}

func TestMissingValueErrors(t *testing.T) {
	csv := "a,b,y\n1,2,0\n3,4,1\n"
	tests := []struct {
		name string
		opt  Options
		want string
	}{
		{"code for the label", Options{Label: "y", MissingValues: map[string][]float64{"y": {0}}}, `missing-value codes for "y", which is not a feature column`},
		{"code for no column", Options{Label: "y", MissingValues: map[string][]float64{"zz": {0}}}, `missing-value codes for "zz"`},
		{"no code", Options{Label: "y", MissingValues: map[string][]float64{"a": {}}}, `column "a": no missing-value code`},
		{"NaN code", Options{Label: "y", MissingValues: map[string][]float64{"a": {math.NaN()}}}, "not a finite number"},
		{"undeclared column", Options{Label: "y", Features: []string{"a"}}, `column "b" is not one of the 1 declared features`},
		{"feature is the label", Options{Label: "y", Features: []string{"a", "y"}}, `feature 2 "y"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Load(strings.NewReader(csv), "f.csv", tt.opt)
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %v, want one line with %q", err, tt.want)
			}
		})
	}
}

func TestParseMissingValues(t *testing.T) {
	got, err := ParseMissingValues("chol=0, glucose=0,glucose=-9")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]float64{"chol": {0}, "glucose": {0, -9}}
	if !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, bad := range []string{"", "chol", "=0", "chol=x", "chol=NaN", "chol=0,,"} {
		if _, err := ParseMissingValues(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
