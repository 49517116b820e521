package data

import (
	"bytes"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestLoadEmbedded(t *testing.T) {
	tests := []struct {
		name                string
		rows, features      int
		classes             []string
		wantClassCount      []int
		firstFeature        string
		firstCell, lastCell float64
	}{
		{"wdbc", 569, 30, []string{"B", "M"}, []int{357, 212}, "radius_mean", 17.99, 0.07039},
		{"digits", 1797, 64, []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}, nil, "px0", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, rep, err := LoadEmbedded(tt.name, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Validate(); err != nil {
				t.Fatal(err)
			}
			r, c := d.X.Dims()
			if r != tt.rows || c != tt.features || d.Rows() != tt.rows || len(d.Features) != tt.features {
				t.Fatalf("shape %d×%d, want %d×%d", r, c, tt.rows, tt.features)
			}
			if !slices.Equal(d.Classes, tt.classes) {
				t.Errorf("classes %q, want %q", d.Classes, tt.classes)
			}
			if tt.wantClassCount != nil && !slices.Equal(d.ClassCounts(), tt.wantClassCount) {
				t.Errorf("class counts %v, want %v", d.ClassCounts(), tt.wantClassCount)
			}
			if d.Features[0] != tt.firstFeature {
				t.Errorf("first feature %q, want %q", d.Features[0], tt.firstFeature)
			}
			if got := d.X.At(0, 0); got != tt.firstCell {
				t.Errorf("X[0,0] = %v, want %v", got, tt.firstCell)
			}
			if got := d.X.At(r-1, c-1); got != tt.lastCell {
				t.Errorf("X[last,last] = %v, want %v", got, tt.lastCell)
			}
			if rep.RowsRead != tt.rows || rep.Rows != tt.rows || len(rep.Missing) != 0 || rep.RowsDropped != 0 {
				t.Errorf("report %+v", rep)
			}
			if d.Units != nil || d.Name != tt.name {
				t.Errorf("units %v, name %q", d.Units != nil, d.Name)
			}
		})
	}
	if _, _, err := LoadEmbedded("iris", Options{}); err == nil {
		t.Error("LoadEmbedded(iris) succeeded")
	}
	if !slices.Equal(EmbeddedNames(), []string{"digits", "wdbc"}) {
		t.Errorf("EmbeddedNames() = %q", EmbeddedNames())
	}
	if !strings.Contains(Attribution(), "CC BY 4.0") || !strings.Contains(Attribution(), "10.24432/C5DW2B") {
		t.Error("attribution lacks the licence or the wdbc DOI")
	}
}

func TestEmbeddedCopies(t *testing.T) {
	a, opt, ok := Embedded("wdbc")
	if !ok || opt.Label != "diagnosis" || opt.Positive != "M" {
		t.Fatalf("Embedded(wdbc) = ok %v, %+v", ok, opt)
	}
	a[0] = 'X'
	b, _, _ := Embedded("wdbc")
	if b[0] == 'X' {
		t.Fatal("Embedded returned the embedded bytes, not a copy")
	}
	if _, _, ok := Embedded("nope"); ok {
		t.Fatal("Embedded(nope) ok")
	}
}

// TestLoadClinicFile reads a real file with a byte-order mark, CRLF line
// ends, an id column, a privacy unit, every missing-value marker and a
// constant column.
func TestLoadClinicFile(t *testing.T) {
	opt := Options{Label: "outcome", Positive: "sick", Drop: []string{"record_id"}, PrivacyUnit: "patient"}
	load := func(t *testing.T, opt Options) (*Dataset, *Report) {
		f, err := os.Open("testdata/clinic.csv")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		d, rep, err := Load(f, "testdata/clinic.csv", opt)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Validate(); err != nil {
			t.Fatal(err)
		}
		return d, rep
	}
	t.Run("impute", func(t *testing.T) {
		d, rep := load(t, opt)
		if want := []string{"age", "systolic_bp", "cholesterol", "ward"}; !slices.Equal(d.Features, want) {
			t.Fatalf("features %q, want %q", d.Features, want)
		}
		if d.Name != "clinic" || d.Rows() != 7 || rep.RowsRead != 8 || rep.Rows != 7 || rep.RowsMissingLabel != 1 || rep.RowsDropped != 0 {
			t.Fatalf("name %q rows %d, report %+v", d.Name, d.Rows(), rep)
		}
		wantMissing := map[string]int{"systolic_bp": 2, "cholesterol": 2}
		if len(rep.Missing) != len(wantMissing) || rep.Missing["systolic_bp"] != 2 || rep.Missing["cholesterol"] != 2 {
			t.Errorf("missing %v, want %v", rep.Missing, wantMissing)
		}
		nan := 0
		for i := range d.Rows() {
			for _, v := range d.X.RawRowView(i) {
				if math.IsNaN(v) {
					nan++
				}
			}
		}
		if nan != 3 { // the NaN of the dropped unlabelled row is not kept
			t.Errorf("%d NaN cells kept, want 3", nan)
		}
		if !slices.Equal(rep.Constant, []string{"ward"}) {
			t.Errorf("constant %q, want [ward]", rep.Constant)
		}
		if !slices.Equal(d.Classes, []string{"healthy", "sick"}) || !slices.Equal(d.Y, []float64{1, 1, 0, 0, 0, 1, 0}) {
			t.Errorf("classes %q, Y %v", d.Classes, d.Y)
		}
		if !slices.Equal(d.UnitIDs, []string{"P-017", "P-022", "P-031", "P-040", "P-052"}) || !slices.Equal(d.Units, []int{0, 0, 1, 2, 1, 3, 4}) {
			t.Errorf("units %v ids %q", d.Units, d.UnitIDs)
		}
		if rep.Units != 5 || rep.ClassCounts["sick"] != 3 || rep.ClassCounts["healthy"] != 4 {
			t.Errorf("report units %d classes %v", rep.Units, rep.ClassCounts)
		}
	})
	t.Run("drop", func(t *testing.T) {
		o := opt
		o.Missing = MissingDrop
		d, rep := load(t, o)
		if d.Rows() != 4 || rep.RowsDropped != 3 || rep.RowsMissingLabel != 1 {
			t.Fatalf("rows %d, report %+v", d.Rows(), rep)
		}
		if !slices.Equal(d.UnitIDs, []string{"P-022", "P-040", "P-052"}) || !slices.Equal(d.Units, []int{0, 0, 1, 2}) {
			t.Errorf("units %v ids %q not re-indexed densely", d.Units, d.UnitIDs)
		}
		if got := d.X.At(0, 2); got != 240 {
			t.Errorf("first kept row cholesterol %v, want 240", got)
		}
	})
}

func TestLoadClassOrder(t *testing.T) {
	csv := "a,y\n1,10\n2,9\n3,10\n4,100\n"
	tests := []struct {
		name string
		opt  Options
		want []string
		y    []float64
	}{
		{"numeric order", Options{Label: "y"}, []string{"9", "10", "100"}, []float64{1, 0, 1, 2}},
		{"given classes", Options{Label: "y", Classes: []string{"100", "10", "9", "7"}}, []string{"100", "10", "9", "7"}, []float64{1, 2, 1, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _, err := Load(strings.NewReader(csv), "t.csv", tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(d.Classes, tt.want) || !slices.Equal(d.Y, tt.y) {
				t.Errorf("classes %q Y %v, want %q %v", d.Classes, d.Y, tt.want, tt.y)
			}
		})
	}
	binary := "a,y\n1,yes\n2,no\n3,yes\n"
	for _, tt := range []struct {
		positive string
		classes  []string
		y        []float64
	}{
		{"", []string{"no", "yes"}, []float64{1, 0, 1}},
		{"yes", []string{"no", "yes"}, []float64{1, 0, 1}},
		{"no", []string{"yes", "no"}, []float64{0, 1, 0}},
	} {
		d, _, err := Load(strings.NewReader(binary), "b.csv", Options{Label: "y", Positive: tt.positive})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(d.Classes, tt.classes) || !slices.Equal(d.Y, tt.y) {
			t.Errorf("positive %q: classes %q Y %v, want %q %v", tt.positive, d.Classes, d.Y, tt.classes, tt.y)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	wdbcHead := func(n int) string {
		raw, _, _ := Embedded("wdbc")
		lines := strings.SplitAfter(string(raw), "\n")
		return strings.Join(lines[:n], "")
	}
	ragged := wdbcHead(11) + "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,M\r\n"
	wdbc := Options{Label: "diagnosis", Positive: "M"}
	tests := []struct {
		name string
		csv  string
		opt  Options
		want string
	}{
		{"ragged row", ragged, wdbc, "wdbc.csv: line 12: 30 fields, header has 31"},
		{"not a number", "radius_mean,texture,diagnosis\n1,2,M\n2,3,B\n3,4,M\n5,abc,B\n", wdbc, `wdbc.csv: line 5, column "texture": not a number`},
		{"not a number first column", "radius_mean,texture,diagnosis\n1,2,M\nabc,3,B\n", wdbc, `line 3, column "radius_mean": not a number`},
		{"infinite", "a,y\n1,M\ninf,B\n", Options{Label: "y"}, `line 3, column "a": not a finite number`},
		{"out of range", "a,y\n1,M\n1e999,B\n", Options{Label: "y"}, `line 3, column "a": out of range`},
		{"absent label", "a,b\n1,2\n", wdbc, `wdbc.csv: line 1: no label column "diagnosis" in the header`},
		{"absent drop", "a,diagnosis\n1,M\n", Options{Label: "diagnosis", Drop: []string{"id"}}, `no drop column "id"`},
		{"absent unit", "a,diagnosis\n1,M\n", Options{Label: "diagnosis", PrivacyUnit: "patient"}, `no privacy-unit column "patient"`},
		{"single class", "a,diagnosis\n1,M\n2,M\n", wdbc, `label "diagnosis" has a single class "M" in all 2 rows`},
		{"empty file", "", wdbc, "wdbc.csv: empty file"},
		{"header only", "a,diagnosis\n", wdbc, "no data rows"},
		{"duplicate header", "a,b,a,diagnosis\n1,2,3,M\n", wdbc, `line 1: column name "a" repeated (columns 1 and 3)`},
		{"empty header name", "a,,diagnosis\n1,2,M\n", wdbc, "line 1: column 2 has no name"},
		{"positive absent", "a,diagnosis\n1,B\n2,X\n", wdbc, `positive value "M" does not occur in label "diagnosis" (values ["B" "X"])`},
		{"positive multi-class", "a,diagnosis\n1,B\n2,M\n3,X\n", wdbc, `positive value "M" given but label "diagnosis" has 3 classes`},
		{"no features", "id,diagnosis\n1,M\n2,B\n", Options{Label: "diagnosis", Drop: []string{"id"}}, "no feature columns"},
		{"all rows dropped", "a,diagnosis\nNA,M\n?,B\n", Options{Label: "diagnosis", Missing: MissingDrop}, "all 2 rows dropped"},
		{"missing unit", "p,a,y\nx,1,M\n,2,B\n", Options{Label: "y", PrivacyUnit: "p"}, `line 3, column "p": privacy unit is missing`},
		{"class not in schema", "a,y\n1,B\n2,Q\n", Options{Label: "y", Classes: []string{"B", "M"}}, `line 3, column "y": not one of the classes ["B" "M"]`},
		{"bare quote", "a,y\n1,M\n2\"x,B\n", Options{Label: "y"}, `line 3, column 2: bare " in non-quoted-field`},
		{"newline in cell", "a,y\n1,M\n\"1\n2\",B\n", Options{Label: "y"}, `line 3, column "a": not a number`},
		{"no label option", "a,y\n1,M\n", Options{}, "no label column given"},
		{"bad missing option", "a,y\n1,M\n", Options{Label: "y", Missing: "zero"}, `missing "zero"`},
		{"label dropped", "a,y\n1,M\n", Options{Label: "y", Drop: []string{"y"}}, `label column "y" is also dropped`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, rep, err := Load(strings.NewReader(tt.csv), "wdbc.csv", tt.opt)
			if err == nil {
				t.Fatalf("loaded %d rows, want error %q", d.Rows(), tt.want)
			}
			if d != nil || rep != nil {
				t.Error("error with a non-nil result")
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error %q\nwant it to contain %q", msg, tt.want)
			}
			if !strings.HasPrefix(msg, "wdbc.csv: ") || strings.ContainsAny(msg, "\n\r") {
				t.Errorf("error %q is not one line naming the file", msg)
			}
		})
	}
}

// A cell that cannot be read is named by its line and column, never
// quoted: it is patient data, and errors reach logs.
func TestLoadErrorsNeverQuoteACell(t *testing.T) {
	const secret = "Jane Roe 1961-04-02"
	s := Schema{Features: []string{"a"}, Label: "y", Classes: []string{"B", "M"}}
	for _, tc := range []struct{ name, csv string }{
		{"text in a feature", "a,y\n1,M\n" + secret + ",B\n"},
		{"label outside the classes", "a,y\n1,M\n2," + secret + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Load(strings.NewReader(tc.csv), "clinic.csv", Options{Label: "y", Classes: s.Classes})
			if err == nil || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "line 3") {
				t.Errorf("Load: %v", err)
			}
			_, err = s.ReadRows(strings.NewReader(tc.csv), "new.csv")
			if err == nil || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "line 3") {
				t.Errorf("ReadRows: %v", err)
			}
		})
	}
}

func TestWriteCSVRoundTrip(t *testing.T) {
	f, err := os.ReadFile("testdata/clinic.csv")
	if err != nil {
		t.Fatal(err)
	}
	d, _, err := Load(bytes.NewReader(f), "clinic.csv", Options{Label: "outcome", Positive: "healthy", Drop: []string{"record_id"}, PrivacyUnit: "patient"})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := d.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	back, _, err := Load(bytes.NewReader(buf.Bytes()), "back.csv", d.Options())
	if err != nil {
		t.Fatal(err)
	}
	if err := sameDataset(d, back); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), "age,systolic_bp,cholesterol,ward,patient,outcome\n54,130,NA,3,P-017,sick\n") {
		t.Errorf("written CSV starts %q", buf.String()[:80])
	}
}

// TestMissingPolicyTravels checks that the imputation chosen at load time
// is what a split's training rows report for fitting a Transform.
func TestMissingPolicyTravels(t *testing.T) {
	csv := "a,y\n1,M\nNA,B\n3,M\n4,B\n10,M\n"
	for _, tt := range []struct{ missing, want string }{{"", MissingMean}, {MissingMean, MissingMean}, {MissingMedian, MissingMedian}} {
		d, _, err := Load(strings.NewReader(csv), "m.csv", Options{Label: "y", Missing: tt.missing})
		if err != nil {
			t.Fatal(err)
		}
		train, _, err := StratifiedSplit(d, 0.2, 1)
		if err != nil {
			t.Fatal(err)
		}
		if got := train.Options().Imputation(); got != tt.want {
			t.Errorf("missing %q: training rows impute by %q, want %q", tt.missing, got, tt.want)
		}
	}
}
