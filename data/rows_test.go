package data

import (
	"bytes"
	"encoding/csv"
	"math"
	"slices"
	"strings"
	"testing"
)

// TestReadRows reads wdbc with its columns reversed and an id column
// added: the features come back in the schema's order.
func TestReadRows(t *testing.T) {
	d := wdbc(t)
	s := d.Schema()
	var plain bytes.Buffer
	if err := d.WriteCSV(&plain); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&plain).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var shuffled bytes.Buffer
	w := csv.NewWriter(&shuffled)
	for i, rec := range recs {
		slices.Reverse(rec)
		id := "id"
		if i > 0 {
			id = strings.Repeat("9", i%5+1)
		}
		if err := w.Write(append(rec, id)); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	rows, err := s.ReadRows(bytes.NewReader(shuffled.Bytes()), "shuffled.csv")
	if err != nil {
		t.Fatal(err)
	}
	if rows.Labelled != d.Rows() {
		t.Errorf("%d labelled rows, want %d", rows.Labelled, d.Rows())
	}
	for i := range d.Rows() {
		if rows.Y[i] != int(d.Y[i]) || !slices.Equal(rows.X.RawRowView(i), d.X.RawRowView(i)) {
			t.Fatalf("row %d differs", i)
		}
	}
}

func TestReadRowsUnlabelled(t *testing.T) {
	s := Schema{Features: []string{"a", "b"}, Label: "y", Classes: []string{"no", "yes"}}
	tests := []struct {
		name, csv string
		y         []int
		labelled  int
		nan       [2]int // a cell that must be NaN
	}{
		{"no label column", "b,a\n1,2\nNA,4\n", []int{-1, -1}, 0, [2]int{1, 1}},
		{"some labels missing", "a,b,y\n1,2,yes\n3,?,\n5,6,no\n", []int{1, -1, 0}, 2, [2]int{1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := s.ReadRows(strings.NewReader(tt.csv), "new.csv")
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(rows.Y, tt.y) || rows.Labelled != tt.labelled {
				t.Errorf("Y %v labelled %d, want %v %d", rows.Y, rows.Labelled, tt.y, tt.labelled)
			}
			if !math.IsNaN(rows.X.At(tt.nan[0], tt.nan[1])) {
				t.Errorf("cell %v = %v, want NaN", tt.nan, rows.X.At(tt.nan[0], tt.nan[1]))
			}
		})
	}
	if rows, _ := s.ReadRows(strings.NewReader("b,a\n1,2\n"), "new.csv"); rows.X.At(0, 0) != 2 {
		t.Errorf("feature a read from the wrong column: %v", rows.X.At(0, 0))
	}
}

// TestReadRowsTextMissingIgnored: a text column's documents come back in
// order (a missing cell as ""), missing feature cells are counted per
// feature, and the columns the schema does not read are named.
func TestReadRowsTextMissingIgnored(t *testing.T) {
	s := Schema{Features: []string{"a", "b"}, Label: "y", Text: "note", Classes: []string{"no", "yes"}}
	in := "id,note,b,a,y\n1,cough and fever,NA,1,yes\n2,?,2,,no\n3,rash,?,3,\n"
	rows, err := s.ReadRows(strings.NewReader(in), "new.csv")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"cough and fever", "", "rash"}; !slices.Equal(rows.Docs, want) {
		t.Errorf("Docs %q, want %q", rows.Docs, want)
	}
	if rows.Missing["a"] != 1 || rows.Missing["b"] != 2 || len(rows.Missing) != 2 {
		t.Errorf("Missing %v, want a:1 b:2", rows.Missing)
	}
	if !slices.Equal(rows.Ignored, []string{"id"}) {
		t.Errorf("Ignored %q, want [id]", rows.Ignored)
	}
	textOnly := Schema{Label: "y", Text: "note", Classes: []string{"no", "yes"}}
	rows, err = textOnly.ReadRows(strings.NewReader("note\nsome words\n"), "new.csv")
	if err != nil {
		t.Fatal(err)
	}
	if rows.X != nil || len(rows.Docs) != 1 {
		t.Errorf("text-only schema: X %v, %d docs; want no X and 1 doc", rows.X, len(rows.Docs))
	}
}

func TestReadRowsErrors(t *testing.T) {
	s := Schema{Features: []string{"a", "b"}, Label: "y", Classes: []string{"no", "yes"}}
	tests := []struct{ name, csv, want string }{
		{"missing feature", "a,y\n1,no\n", `new.csv: line 1: no column "b", feature 2 of the schema (did you mean "a"? columns: "a", "y")`},
		{"misspelt feature", "a,B,y\n1,2,no\n", `no column "b", feature 2 of the schema (did you mean "B"?`},
		{"ragged", "a,b\n1,2\n3\n", "new.csv: line 3: 1 fields, header has 2"},
		{"not a number", "a,b\n1,x\n", `new.csv: line 2, column "b": not a number`},
		{"unknown class", "a,b,y\n1,2,maybe\n", `new.csv: line 2, column "y": not one of the classes ["no" "yes"]`},
		{"empty", "", "new.csv: empty file"},
		{"no rows", "a,b\n", "new.csv: no data rows"},
		{"duplicate column", "a,b,a\n1,2,3\n", `column name "a" repeated`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.ReadRows(strings.NewReader(tt.csv), "new.csv")
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) && !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
	text := Schema{Features: []string{"a"}, Label: "y", Text: "note", Classes: []string{"no", "yes"}}
	for _, tt := range []struct{ name, csv, want string }{
		{"no text column", "a,notes\n1,x\n", `new.csv: line 1: no column "note", the schema's text column (did you mean "notes"?`},
		{"invalid text", "a,note\n1,\xff\n", `new.csv: line 2, column "note": not valid UTF-8 text`},
	} {
		if _, err := text.ReadRows(strings.NewReader(tt.csv), "new.csv"); err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
	if _, err := (Schema{}).ReadRows(strings.NewReader("a\n1\n"), "new.csv"); err == nil {
		t.Error("an invalid schema read rows")
	}
}

// FuzzReadRows checks that ReadRows never panics, keeps its shape and
// labels in range, and agrees with Load on files Load accepts.
func FuzzReadRows(f *testing.F) {
	raw, _, _ := Embedded("wdbc")
	f.Add(raw[:2000])
	f.Add([]byte("radius_mean,texture_mean,diagnosis\n1,2,M\nNA,3,\n"))
	f.Add([]byte("texture_mean,radius_mean\n1,2\n"))
	f.Add([]byte("radius_mean,texture_mean\n1\n"))
	s := Schema{Features: []string{"radius_mean", "texture_mean"}, Label: "diagnosis", Classes: []string{"B", "M"}}
	f.Fuzz(func(t *testing.T, b []byte) {
		rows, err := s.ReadRows(bytes.NewReader(b), "fuzz.csv")
		if err != nil {
			if msg := err.Error(); !strings.HasPrefix(msg, "fuzz.csv: ") || strings.ContainsAny(msg, "\n\r") {
				t.Fatalf("error %q is not one line naming the file", msg)
			}
			return
		}
		r, c := rows.X.Dims()
		if r != len(rows.Y) || c != 2 {
			t.Fatalf("%d×%d for %d rows", r, c, len(rows.Y))
		}
		labelled := 0
		for _, y := range rows.Y {
			if y < -1 || y > 1 {
				t.Fatalf("label %d", y)
			}
			if y >= 0 {
				labelled++
			}
		}
		if labelled != rows.Labelled {
			t.Fatalf("%d labelled, counted %d", rows.Labelled, labelled)
		}
		d, _, err := Load(bytes.NewReader(b), "fuzz.csv", Options{Label: s.Label, Classes: s.Classes})
		if err != nil || d.Rows() != r || !slices.Equal(d.Features, s.Features) {
			return
		}
		for i := range r {
			if int(d.Y[i]) != rows.Y[i] {
				t.Fatalf("row %d: Load says class %v, ReadRows %d", i, d.Y[i], rows.Y[i])
			}
			for j := range c {
				x, y := d.X.At(i, j), rows.X.At(i, j)
				if x != y && !(math.IsNaN(x) && math.IsNaN(y)) {
					t.Fatalf("row %d column %d: Load %v, ReadRows %v", i, j, x, y)
				}
			}
		}
	})
}
