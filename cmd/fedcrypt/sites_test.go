package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fedcrypt/fedcrypt/data"
)

// writeSites writes wdbc's rows as three hospitals' files, the third
// lacking radius_mean, and as one file with a site column; and the
// published ranges as a --bounds file.
func writeSites(t *testing.T, dir string) (files []string, all, bounds string) {
	t.Helper()
	raw, _, _ := data.Embedded("wdbc")
	rows, err := csv.NewReader(strings.NewReader(string(raw))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"north", "south", "east"}
	header := rows[0]
	drop := slices.Index(header, "radius_mean")
	per := make([][][]string, 3)
	withSite := [][]string{append(slices.Clone(header), "site")}
	for i, r := range rows[1:] {
		s := i % 3
		rec := slices.Clone(r)
		if s == 2 {
			rec = slices.Delete(rec, drop, drop+1)
		}
		per[s] = append(per[s], rec)
		withSite = append(withSite, append(slices.Clone(r), names[s]))
	}
	write := func(path string, recs [][]string) {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := csv.NewWriter(f).WriteAll(recs); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	for s, n := range names {
		h := slices.Clone(header)
		if s == 2 {
			h = slices.Delete(h, drop, drop+1)
		}
		path := filepath.Join(dir, n+".csv")
		write(path, append([][]string{h}, per[s]...))
		files = append(files, path)
	}
	all = filepath.Join(dir, "all.csv")
	write(all, withSite)
	b, _ := data.EmbeddedBounds("wdbc")
	j, _ := json.Marshal(b)
	bounds = filepath.Join(dir, "bounds.json")
	if err := os.WriteFile(bounds, j, 0o600); err != nil {
		t.Fatal(err)
	}
	return files, all, bounds
}

// TestSimSites runs site-native simulations: one hospital per file, and
// one per value of a column. Each site holds out its own test rows, the
// JSON reports every site's accuracy, and a site lacking a column joins.
func TestSimSites(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files, all, bounds := writeSites(t, dir)
	type out struct {
		Accuracy  float64 `json:"accuracy"`
		TestRows  int     `json:"test_rows"`
		TrainRows []int   `json:"train_rows"`
		Sites     []struct {
			Name      string  `json:"name"`
			Hospital  string  `json:"hospital"`
			TestRows  int     `json:"test_rows"`
			TrainRows int     `json:"train_rows"`
			Accuracy  float64 `json:"accuracy"`
		} `json:"sites"`
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"files", []string{"--data", strings.Join(files, ",")}},
		{"column", []string{"--data", all, "--partition", "column:site"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"sim", "--label", "diagnosis", "--bounds", bounds, "--seed", "2", "--no-he", "--json"}, tc.args...)
			r := runIn(t, t.Context(), args...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			var o out
			if err := json.Unmarshal([]byte(r.stdout), &o); err != nil {
				t.Fatal(err)
			}
			if len(o.Sites) != 3 || len(o.TrainRows) != 3 {
				t.Fatalf("%d sites, %d hospitals", len(o.Sites), len(o.TrainRows))
			}
			test := 0
			for i, s := range o.Sites {
				test += s.TestRows
				// Each site holds out a fifth of its own 189 or 190 rows.
				if s.TestRows < 35 || s.TestRows > 40 || s.TrainRows != o.TrainRows[i] || s.Hospital == "" {
					t.Errorf("site %+v", s)
				}
				// About 38 held-out rows a site: one row is 2.6 points.
				if !(s.Accuracy > 0.65) {
					t.Errorf("site %s: accuracy %v", s.Name, s.Accuracy)
				}
			}
			if test != o.TestRows || !(o.Accuracy > 0.85) {
				t.Errorf("test rows %d over the sites, %d in all; accuracy %v", test, o.TestRows, o.Accuracy)
			}
			if tc.name == "files" {
				if o.Sites[2].Name != "east" || !strings.Contains(r.stderr, "site east lacks radius_mean") {
					t.Errorf("site names %v; stderr %q", o.Sites, r.stderr)
				}
			} else if o.Sites[0].Name != "north" {
				t.Errorf("sites named %q…, want the column's values", o.Sites[0].Name)
			}
		})
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--data", all, "--partition", "column:hospital"}, []string{`no column "hospital" to split by`, "site"}},
		{[]string{"--data", strings.Join(files, ","), "--hospitals", "5"}, []string{"--hospitals 5", "3 sites"}},
		{[]string{"--data", strings.Join(files, ","), "--transport", "grpc"}, []string{"--transport grpc", "site-native"}},
		{[]string{"--data", files[0]}, []string{}}, // one file: not site-native, runs
	} {
		r := runIn(t, t.Context(), append([]string{"sim", "--label", "diagnosis", "--bounds", bounds, "--seed", "2", "--no-he", "--json"}, tc.args...)...)
		if len(tc.want) == 0 {
			if r.code != 0 {
				t.Errorf("%v: exit %d: %s", tc.args, r.code, r.stderr)
			}
			continue
		}
		wantOneLineError(t, r, tc.want...)
	}
}
