package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestAssumedSiteNative checks that a site-native simulation, one hospital
// per file or per value of a column, says before it runs what it assumed
// of the sites' rows together: the label and its positive class, the
// columns dropped or like identifiers, and the missing cells and how they
// are filled.
func TestAssumedSiteNative(t *testing.T) {
	t.Parallel()
	const rows = 80
	raw, err := os.ReadFile(clinicalCSV(t, rows))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	dir := t.TempDir()
	write := func(name string, lines []string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	north := write("north.csv", append([]string{lines[0]}, lines[1:rows/2+1]...))
	south := write("south.csv", append([]string{lines[0]}, lines[rows/2+1:]...))
	withSite := []string{lines[0] + ",site"}
	for i, l := range lines[1:] {
		withSite = append(withSite, l+","+[]string{"north", "south"}[i%2])
	}
	all := write("all.csv", withSite)
	n := missingIn(rows)
	missing := fmt.Sprintf("  missing cells: %d in 1 column (chol %d), filled with the column's mean from the federation's DP statistics\n", n, n)
	for _, tc := range []struct {
		name, source string
		args         []string
	}{
		{"files", north + "," + south, []string{"--data", north + "," + south}},
		{"column", all, []string{"--data", all, "--partition", "column:site"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"sim", "--label", "Class"}, tc.args...)
			r := runIn(t, cancelled(), args...)
			first := fmt.Sprintf("data: 2 sites (%s), %d rows; label \"Class\", positive class \"malignant\" (the larger value in byte order; --positive VALUE to choose), negative \"benign\"\n", tc.source, rows)
			id := `  ! column "Id" looks like an identifier (every value a distinct integer) but is a feature: --drop Id, or --privacy-unit Id if one patient may have several rows` + "\n"
			if !strings.HasPrefix(r.stdout, first+id+missing) {
				t.Errorf("stdout:\n%s\nwant it to start with:\n%s%s%s", r.stdout, first, id, missing)
			}
			r = runIn(t, cancelled(), append(args, "--drop", "Id", "--positive", "benign")...)
			if !strings.Contains(r.stdout, `positive class "benign" (--positive)`) || !strings.Contains(r.stdout, "  dropped: Id\n") || strings.Contains(r.stdout, "identifier") {
				t.Errorf("with --drop Id --positive benign, stdout:\n%s", r.stdout)
			}
			r = runIn(t, context.Background(), append(args, "--json", "--rounds", "1", "--no-he", "--drop", "Id")...)
			var out struct {
				Assumed assumed `json:"assumed"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
				t.Fatalf("--json: exit %d, %v: %s", r.code, err, r.stderr)
			}
			if a := out.Assumed; a.Rows != rows || a.MissingCells != n || a.Missing["chol"] != n || !slices.Equal(a.Dropped, []string{"Id"}) || a.Positive != "malignant" {
				t.Errorf("--json: assumed %+v", a)
			}
		})
	}
}
