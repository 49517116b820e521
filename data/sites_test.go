package data

import (
	"bytes"
	"strings"
	"testing"
)

func TestSplitByColumn(t *testing.T) {
	const in = "a,site,b,y\n1,north,2,0\n3,south,4,1\n5,north,,1\n7,east,8,0\n"
	sites, files, err := SplitByColumn(strings.NewReader(in), "all.csv", "site")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"north": "a,b,y\n1,2,0\n5,,1\n",
		"south": "a,b,y\n3,4,1\n",
		"east":  "a,b,y\n7,8,0\n",
	}
	if strings.Join(sites, ",") != "north,south,east" {
		t.Fatalf("sites %v, want in order of first appearance", sites)
	}
	for i, s := range sites {
		if string(files[i]) != want[s] {
			t.Errorf("site %s:\n%s\nwant\n%s", s, files[i], want[s])
		}
	}
	for _, tc := range []struct{ in, column, want string }{
		{in, "hospital", `no column "hospital" to split by (columns: a, site, b, y)`},
		{"a,site,y\n1,,0\n", "site", `line 2: no value in site column "site"`},
		{"a,site,y\n", "site", "no rows"},
		{"a,site,y\n1,x,0,9\n", "site", "wrong number of fields"},
	} {
		_, _, err := SplitByColumn(strings.NewReader(tc.in), "all.csv", tc.column)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "all.csv") {
			t.Errorf("%q by %q: %v, want …%s…", tc.in, tc.column, err, tc.want)
		}
	}
	var many strings.Builder
	many.WriteString("site,y\n")
	for i := range MaxSites + 1 {
		many.WriteString(strings.Repeat("s", 1) + string(rune('0'+i%10)) + strings.Repeat("x", i/10) + ",0\n")
	}
	if _, _, err := SplitByColumn(strings.NewReader(many.String()), "ids.csv", "site"); err == nil || !strings.Contains(err.Error(), "not a site column") {
		t.Errorf("an identifier column split into sites: %v", err)
	}
}

func TestConcat(t *testing.T) {
	opt := Options{Label: "y", PrivacyUnit: "p", Classes: []string{"0", "1"}}
	load := func(name, csv string) *Dataset {
		d, _, err := Load(strings.NewReader(csv), name, opt)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	a := load("a", "x,p,y\n1,P1,0\n2,P1,1\n3,P2,0\n")
	b := load("b", "x,p,y\n4,P1,1\n")
	c, err := Concat("ab", a, b)
	if err != nil {
		t.Fatal(err)
	}
	if c.Rows() != 4 || c.X.At(3, 0) != 4 || c.Y[3] != 1 || c.NumUnits() != 3 {
		t.Fatalf("concat: %d rows, last x %v y %v, %d units (P1 at two sites is two patients)", c.Rows(), c.X.At(3, 0), c.Y[3], c.NumUnits())
	}
	if c.Units[0] != c.Units[1] || c.Units[0] == c.Units[3] {
		t.Errorf("units %v", c.Units)
	}
	other := load("o", "z,p,y\n1,P1,0\n")
	if _, err := Concat("x", a, other); err == nil || !strings.Contains(err.Error(), "features") {
		t.Errorf("concat of other features: %v", err)
	}
	if _, err := Concat("none"); err == nil {
		t.Error("concat of nothing accepted")
	}
}

// FuzzSplitByColumn: whatever the input, SplitByColumn does not panic, and
// what it returns holds every data row once, without the column.
func FuzzSplitByColumn(f *testing.F) {
	f.Add([]byte("a,site,y\n1,n,0\n2,s,1\n"), "site")
	f.Add([]byte("site\nx\n\"y\"\n"), "site")
	f.Add([]byte("a,b\n"), "b")
	f.Fuzz(func(t *testing.T, in []byte, column string) {
		sites, files, err := SplitByColumn(bytes.NewReader(in), "fuzz", column)
		if err != nil {
			return
		}
		if len(sites) != len(files) || len(sites) == 0 || len(sites) > MaxSites {
			t.Fatalf("%d sites, %d files", len(sites), len(files))
		}
		for i, s := range sites {
			if strings.TrimSpace(s) == "" || isMissing(s) {
				t.Fatalf("site %d is %q", i, s)
			}
		}
	})
}

func TestSiteOptions(t *testing.T) {
	files := [][]byte{
		[]byte("age,sbp,id,y\n50,120,1,yes\n60,140,2,no\n"),
		[]byte("age,y,id\n70,yes,4\n"), // lacks sbp, holds one class
		[]byte("bmi,age,id,y\n30,55,3,no\n"),
	}
	opt, err := SiteOptions(Options{Label: "y", Drop: []string{"id"}, Positive: "yes"}, []string{"a", "b", "c"}, files)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(opt.Features, ",") != "age,sbp,bmi" || strings.Join(opt.Classes, ",") != "no,yes" {
		t.Fatalf("features %v, classes %v", opt.Features, opt.Classes)
	}
	b, rep, err := Load(bytes.NewReader(files[1]), "b", opt)
	if err != nil {
		t.Fatal(err)
	}
	if b.Rows() != 1 || b.Y[0] != 1 || len(rep.Absent) != 2 {
		t.Errorf("site b: %d rows, class %v, absent %v", b.Rows(), b.Y[0], rep.Absent)
	}
	if _, err := SiteOptions(Options{Label: "outcome"}, []string{"a"}, files[:1]); err == nil || !strings.Contains(err.Error(), `a: no label column "outcome"`) {
		t.Errorf("unknown label: %v", err)
	}
	if _, err := SiteOptions(Options{Label: "y"}, []string{"b"}, files[1:2]); err == nil || !strings.Contains(err.Error(), "single class") {
		t.Errorf("one class in every site: %v", err)
	}
}
