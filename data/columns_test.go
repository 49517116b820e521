package data

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestUnknownColumnNamesTheNearestAndTheHeader(t *testing.T) {
	csv := "Id,Age,Cholesterol,Class\n1,50,200,yes\n2,61,180,no\n"
	tests := []struct {
		name string
		opt  Options
		want string // the whole error after the file's name
	}{
		{"case", Options{Label: "class"},
			`line 1: no label column "class" in the header (did you mean "Class"? columns: "Id", "Age", "Cholesterol", "Class")`},
		{"typo", Options{Label: "Class", Drop: []string{"Cholesterl"}},
			`line 1: no drop column "Cholesterl" in the header (did you mean "Cholesterol"? columns: "Id", "Age", "Cholesterol", "Class")`},
		{"nothing near", Options{Label: "Class", PrivacyUnit: "patient"},
			`line 1: no privacy-unit column "patient" in the header (columns: "Id", "Age", "Cholesterol", "Class")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Load(strings.NewReader(csv), "heart.csv", tt.opt)
			if err == nil || err.Error() != "heart.csv: "+tt.want {
				t.Fatalf("error %v\nwant heart.csv: %s", err, tt.want)
			}
		})
	}
}

func TestColumnHintListsAWideHeaderInOneLine(t *testing.T) {
	var header []string
	for i := range 64 {
		header = append(header, fmt.Sprintf("px%d", i))
	}
	h := ColumnHint("PX7", header)
	if !strings.HasPrefix(h, ` (did you mean "px7"? columns: "px0", `) || !strings.HasSuffix(h, `"px29" and 34 more)`) || strings.Contains(h, "\n") {
		t.Fatalf("hint %q", h)
	}
}

func TestEditDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{{"", "", 0}, {"abc", "", 3}, {"kitten", "sitting", 3}, {"diagnosis", "diagnosys", 1}, {"ab", "ba", 2}, {"é", "e", 1}} {
		if got := editDistance([]rune(c.a), []rune(c.b)); got != c.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func TestReportNamesIdentifierColumns(t *testing.T) {
	var b strings.Builder
	b.WriteString("Id,Visit,Age,Score,y\n")
	for i := range 25 {
		// Id: distinct integers; Visit: integers with repeats; Age:
		// distinct integers but one missing; Score: distinct, not integers.
		age := fmt.Sprint(30 + i)
		if i == 7 {
			age = "NA"
		}
		fmt.Fprintf(&b, "%d,%d,%s,%d.5,%s\n", 1000+3*i, i%4, age, i, []string{"a", "b"}[i%2])
	}
	_, rep, err := Load(strings.NewReader(b.String()), "t.csv", Options{Label: "y"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.Identifiers, []string{"Id"}) {
		t.Fatalf("identifiers %q, want [Id]", rep.Identifiers)
	}
	// Dropped, or too few rows to tell, it is not named.
	_, rep, err = Load(strings.NewReader(b.String()), "t.csv", Options{Label: "y", Drop: []string{"Id"}})
	if err != nil || len(rep.Identifiers) != 0 {
		t.Fatalf("dropped: identifiers %q, err %v", rep.Identifiers, err)
	}
	few := strings.Join(strings.SplitAfter(b.String(), "\n")[:minIdentifierRows], "")
	_, rep, err = Load(strings.NewReader(few), "t.csv", Options{Label: "y"})
	if err != nil || len(rep.Identifiers) != 0 {
		t.Fatalf("%d rows: identifiers %q, err %v", minIdentifierRows-1, rep.Identifiers, err)
	}
}

func TestMissingMarkersAreReadAsMissing(t *testing.T) {
	for _, m := range MissingMarkers() {
		for _, s := range []string{m, strings.ToUpper(m), strings.ToLower(m), " " + m + " "} {
			if _, ok, err := parseCell(s); ok || err != nil {
				t.Errorf("cell %q: ok %v, err %v; want missing", s, ok, err)
			}
		}
	}
	if _, ok, _ := parseCell("none"); ok {
		t.Error(`"none" parsed as a number`)
	}
	if isMissing("n.a.") || isMissing("-") {
		t.Error("a cell that is not a marker reads as missing")
	}
}
