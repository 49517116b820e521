package data

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func TestSchemaCheck(t *testing.T) {
	d, _, err := LoadEmbedded("wdbc", Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := d.Schema()
	if err := s.Check(d); err != nil {
		t.Fatalf("a data set does not match its own schema: %v", err)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseSchema(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := back.Check(d); err != nil {
		t.Fatalf("decoded schema: %v", err)
	}

	mutate := func(f func(d *Dataset)) *Dataset {
		c := d.Subset([]int{0, 1, 2, 3})
		f(c)
		return c
	}
	tests := []struct {
		name string
		d    *Dataset
		want string
	}{
		{"renamed feature", mutate(func(c *Dataset) { c.Features[2] = "perimeter" }), `schema: feature 3 is "perimeter_mean", data set "wdbc" has "perimeter"`},
		{"missing feature", d.Subset([]int{0}).withoutLastFeature(), `schema: 30 features, data set "wdbc" has 29`},
		{"label", mutate(func(c *Dataset) { c.Label = "outcome" }), `schema: label is "diagnosis", data set "wdbc" has "outcome"`},
		{"class order", mutate(func(c *Dataset) { c.Classes = []string{"M", "B"} }), `schema: classes ["B" "M"], data set "wdbc" has ["M" "B"]`},
		{"privacy unit", mutate(func(c *Dataset) {
			c.PrivacyUnit, c.Units, c.UnitIDs = "patient", []int{0, 0, 1, 1}, []string{"a", "b"}
		}), `schema: privacy unit "", data set "wdbc" has "patient"`},
		{"broken data set", mutate(func(c *Dataset) { c.Y[0] = 5 }), "schema check: data set \"wdbc\": row 0: label 5 is not a class index"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Check(tt.d)
			if err == nil || err.Error() != tt.want && !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("Check: %v\nwant %s", err, tt.want)
			}
		})
	}
}

// withoutLastFeature returns d without its last feature column.
func (d *Dataset) withoutLastFeature() *Dataset {
	r, c := d.X.Dims()
	e := d.Subset(slices.Repeat([]int{0}, r))
	e.Features = e.Features[:c-1]
	e.X = mat.DenseCopyOf(d.X.Slice(0, r, 0, c-1))
	return e
}

// TestSchemaHospitalWithOneClass loads a hospital's rows that hold only
// benign cases under the federation's schema: class indices stay those of
// the schema, and the data set matches it.
func TestSchemaHospitalWithOneClass(t *testing.T) {
	full, _, err := LoadEmbedded("wdbc", Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := full.Schema()
	var benign []int
	for i, y := range full.Y {
		if y == 0 {
			benign = append(benign, i)
		}
	}
	var csv strings.Builder
	if err := full.Subset(benign).WriteCSV(&csv); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Load(strings.NewReader(csv.String()), "h.csv", Options{Label: "diagnosis"}); err == nil {
		t.Fatal("a single-class file loaded without the schema's classes")
	}
	h, _, err := Load(strings.NewReader(csv.String()), "h.csv", s.LoadOptions(Options{Positive: "B"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(h); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(h.ClassCounts(), []int{357, 0}) {
		t.Errorf("class counts %v, want [357 0]", h.ClassCounts())
	}
}

func TestParseSchemaErrors(t *testing.T) {
	tests := []struct{ json, want string }{
		{`{"features":["a"],"label":"y","classes":["0","1"],"extra":1}`, `unknown field "extra"`},
		{`{"features":["a"],"label":"y","classes":["0","1"]} {}`, "trailing data"},
		{`{"features":[],"label":"y","classes":["0","1"]}`, "no features"},
		{`{"features":["a","a"],"label":"y","classes":["0","1"]}`, `column 2 name "a" is empty or repeated`},
		{`{"features":["a"],"label":"a","classes":["0","1"]}`, `column 2 name "a"`},
		{`{"features":["a"],"label":"y","classes":["0"]}`, "1 classes, need at least 2"},
		{`{"features":["a"],"label":"y","classes":["0","NA"]}`, `class 1 "NA"`},
		{`{"features":["a"],"label":"y","classes":["0","1"],"privacy_unit":"a"}`, `privacy unit "a" is also a feature`},
		{`[1]`, "schema: json: cannot unmarshal"},
	}
	for _, tt := range tests {
		_, err := ParseSchema([]byte(tt.json))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseSchema(%s): %v, want %q", tt.json, err, tt.want)
		}
	}
}

func FuzzParseSchema(f *testing.F) {
	f.Add([]byte(`{"features":["radius_mean","texture_mean"],"label":"diagnosis","classes":["B","M"]}`))
	f.Add([]byte(`{"features":["a"],"label":"y","classes":["0","1","2"],"privacy_unit":"patient"}`))
	f.Add([]byte(`{"features":["a","a"],"label":"y","classes":["0","1"]}`))
	f.Add([]byte(`{"features":`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSchema(b)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("error %q is not one line", err)
			}
			return
		}
		again, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseSchema(again)
		if err != nil {
			t.Fatalf("re-parsing %s: %v", again, err)
		}
		if !slices.Equal(s.Features, back.Features) || !slices.Equal(s.Classes, back.Classes) || s.Label != back.Label || s.PrivacyUnit != back.PrivacyUnit {
			t.Fatalf("round trip changed %+v into %+v", s, back)
		}
	})
}
