package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/fedcrypt/fedcrypt/data"
)

// runIn runs fedcrypt in this process, through run as main does, and
// returns what it printed and its exit status.
func runIn(t *testing.T, ctx context.Context, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(ctx, &env{stdout: &out, stderr: &errOut, stdin: strings.NewReader("")}, args)
	return result{out.String(), errOut.String(), code}
}

// cancelled is a context already done: a command that runs a federation
// stops at once, after saying what it assumed.
func cancelled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// clinicalCSV writes rows of a small clinical table: a record number Id
// (distinct integers), age, cholesterol (missing in every seventh row as
// "?", every eleventh as "NA"), blood pressure, and the label Class,
// "benign" or "malignant", which follows cholesterol.
func clinicalCSV(t *testing.T, rows int) string {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	b.WriteString("Id,age,chol,bp,Class\n")
	for i := range rows {
		chol := 150 + r.IntN(150)
		class := "benign"
		if chol > 225 {
			class = "malignant"
		}
		cell := strconv.Itoa(chol)
		switch {
		case i%7 == 3:
			cell = "?"
		case i%11 == 5:
			cell = "NA"
		}
		fmt.Fprintf(&b, "%d,%d,%s,%.1f,%s\n", 9000+7*i, 30+r.IntN(50), cell, 110+20*r.Float64(), class)
	}
	path := filepath.Join(t.TempDir(), "clinic.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// missingIn counts the cells clinicalCSV leaves missing in its first rows.
func missingIn(rows int) int {
	n := 0
	for i := range rows {
		if i%7 == 3 || i%11 == 5 {
			n++
		}
	}
	return n
}

func TestAssumedPositiveClass(t *testing.T) {
	t.Parallel()
	path := clinicalCSV(t, 60)
	numeric := filepath.Join(t.TempDir(), "numeric.csv")
	var b strings.Builder
	b.WriteString("x,y\n")
	for i := range 30 {
		fmt.Fprintf(&b, "%d,%d\n", i, []int{2, 10}[i%2])
	}
	if err := os.WriteFile(numeric, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"byte order", []string{"--data", path, "--label", "Class"},
			`label "Class", positive class "malignant" (the larger value in byte order; --positive VALUE to choose), negative "benign"`},
		{"given", []string{"--data", path, "--label", "Class", "--positive", "benign"},
			`label "Class", positive class "benign" (--positive), negative "malignant"`},
		// In byte order "2" > "10"; both are numbers, so 10 is the larger.
		{"numeric order", []string{"--data", numeric, "--label", "y"},
			`label "y", positive class "10" (the larger value in numeric order; --positive VALUE to choose), negative "2"`},
		{"embedded", []string{"--data", "wdbc"}, `label "diagnosis", positive class "M" (the embedded set's), negative "B"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runIn(t, context.Background(), append([]string{"train", "--epochs", "1"}, c.args...)...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			first := strings.SplitN(r.stdout, "\n", 2)[0]
			if !strings.HasPrefix(first, "data: ") || !strings.Contains(first, c.want) {
				t.Fatalf("first line %q\nwant it to hold %q", first, c.want)
			}
		})
	}
	// Also in --json, beside the command's own fields, and from sim, init
	// and predict.
	var out struct {
		Assumed  assumed  `json:"assumed"`
		Accuracy *float64 `json:"accuracy"`
	}
	decodeJSON(t, runIn(t, context.Background(), "train", "--epochs", "1", "--json", "--data", path, "--label", "Class"), &out)
	if a := out.Assumed; a.Positive != "malignant" || a.PositiveBy != "the larger value in byte order" || !slices.Equal(a.Classes, []string{"benign", "malignant"}) || out.Accuracy == nil {
		t.Fatalf("train --json: %+v, accuracy %v", a, out.Accuracy)
	}
	out.Accuracy = nil
	decodeJSON(t, runIn(t, context.Background(), "sim", "--json", "--no-he", "--rounds", "1"), &out)
	if a := out.Assumed; a.Positive != "M" || a.PositiveBy != "the embedded set's" || out.Accuracy == nil {
		t.Fatalf("sim --json: %+v, accuracy %v", a, out.Accuracy)
	}
	want := `positive class "malignant" (the larger value in byte order`
	if r := runIn(t, cancelled(), "sim", "--data", path, "--label", "Class", "--drop", "Id"); !strings.Contains(r.stdout, want) {
		t.Errorf("sim says:\n%s%s", r.stdout, r.stderr)
	}
	fed := filepath.Join(t.TempDir(), "fed")
	if r := runIn(t, context.Background(), "init", "--members", "a,b,c", "-o", fed, "--data", path, "--label", "Class", "--drop", "Id"); r.code != 0 || !strings.Contains(r.stdout, want) {
		t.Errorf("init: exit %d, says:\n%s%s", r.code, r.stdout, r.stderr)
	}
	dir := t.TempDir()
	key := filepath.Join(dir, "k")
	if r := runIn(t, context.Background(), "keygen", "-o", key); r.code != 0 {
		t.Fatal(r.stderr)
	}
	sealed := filepath.Join(dir, "m.age")
	if r := runIn(t, context.Background(), "train", "--epochs", "1", "--data", path, "--label", "Class", "--drop", "Id",
		"-i", filepath.Join(key, "identity.txt"), "-o", sealed); r.code != 0 {
		t.Fatal(r.stderr)
	}
	r := runIn(t, context.Background(), "predict", "--checkpoint", sealed, "-i", filepath.Join(key, "identity.txt"),
		"--signer", filepath.Join(key, "signing-key.pub"), "--data", path)
	if r.code != 0 || !strings.Contains(r.stderr, `positive class "malignant" (the model's)`) || !strings.Contains(r.stderr, "not read by the model: Id") {
		t.Errorf("predict: exit %d, says:\n%s", r.code, r.stderr)
	}
}

func TestAssumedIdentifierWarning(t *testing.T) {
	t.Parallel()
	path := clinicalCSV(t, 60)
	r := runIn(t, context.Background(), "train", "--epochs", "1", "--data", path, "--label", "Class")
	want := `! column "Id" looks like an identifier (every value a distinct integer) but is a feature: --drop Id, or --privacy-unit Id if one patient may have several rows`
	if r.code != 0 || !strings.Contains(r.stdout, want) {
		t.Fatalf("exit %d, stdout:\n%s", r.code, r.stdout)
	}
	// age repeats, cholesterol has missing cells, bp is not an integer:
	// only Id is named.
	if strings.Count(r.stdout, "looks like an identifier") != 1 {
		t.Errorf("more than Id named:\n%s", r.stdout)
	}
	r = runIn(t, context.Background(), "train", "--epochs", "1", "--data", path, "--label", "Class", "--drop", "Id")
	if r.code != 0 || strings.Contains(r.stdout, "identifier") || !strings.Contains(r.stdout, "  dropped: Id\n") {
		t.Fatalf("with --drop Id: exit %d, stdout:\n%s", r.code, r.stdout)
	}
	var out struct {
		Assumed assumed `json:"assumed"`
	}
	decodeJSON(t, runIn(t, context.Background(), "init", "--json", "--members", "a,b", "-o", filepath.Join(t.TempDir(), "fed"), "--data", path, "--label", "Class"), &out)
	if !slices.Equal(out.Assumed.Identifiers, []string{"Id"}) {
		t.Errorf("init --json: identifiers %q", out.Assumed.Identifiers)
	}
}

func TestAssumedMissingSummary(t *testing.T) {
	t.Parallel()
	const rows = 60
	path := clinicalCSV(t, rows)
	n := missingIn(rows)
	r := runIn(t, context.Background(), "train", "--epochs", "1", "--data", path, "--label", "Class", "--drop", "Id")
	want := fmt.Sprintf("  missing cells: %d in 1 column (chol %d), filled with the column's mean over the training rows\n", n, n)
	if r.code != 0 || !strings.Contains(r.stdout, want) {
		t.Fatalf("exit %d, stdout:\n%s\nwant %q", r.code, r.stdout, want)
	}
	r = runIn(t, context.Background(), "train", "--epochs", "1", "--data", path, "--label", "Class", "--drop", "Id", "--missing", "median")
	if !strings.Contains(r.stdout, "filled with the column's median over the training rows") {
		t.Errorf("--missing median:\n%s", r.stdout)
	}
	r = runIn(t, context.Background(), "train", "--epochs", "1", "--data", path, "--label", "Class", "--drop", "Id", "--missing", "drop")
	if !strings.Contains(r.stdout, fmt.Sprintf("filled with the %d rows holding them dropped (--missing drop)", n)) {
		t.Errorf("--missing drop:\n%s", r.stdout)
	}
	if r := runIn(t, context.Background(), "train", "--epochs", "1"); !strings.Contains(r.stdout, "  missing cells: none\n") {
		t.Errorf("wdbc:\n%s", r.stdout)
	}
	// The federation fills them from its DP statistics; --json counts them
	// by column.
	var out struct {
		Assumed assumed `json:"assumed"`
	}
	fed := filepath.Join(t.TempDir(), "fed")
	decodeJSON(t, runIn(t, context.Background(), "init", "--json", "--members", "a,b", "-o", fed, "--data", path, "--label", "Class", "--drop", "Id"), &out)
	if a := out.Assumed; a.MissingCells != n || a.Missing["chol"] != n || len(a.Missing) != 1 || a.Filled != "the column's mean from the federation's DP statistics" {
		t.Errorf("init --json: %+v", a)
	}
	// --help says which cells are missing.
	h := runIn(t, context.Background(), "train", "--help")
	if !strings.Contains(h.stderr, `cells "", "?", "NA", "N/A", "NaN", "null" (any case) are missing`) {
		t.Errorf("train --help does not list the missing cells:\n%s", h.stderr)
	}
}

func TestNearMatchError(t *testing.T) {
	t.Parallel()
	path := clinicalCSV(t, 30)
	header := `columns: "Id", "age", "chol", "bp", "Class")`
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"label", []string{"--label", "class"}, `no label column "class" in the header (did you mean "Class"? ` + header},
		{"drop", []string{"--label", "Class", "--drop", "ID"}, `no drop column "ID" in the header (did you mean "Id"? ` + header},
		{"privacy unit", []string{"--label", "Class", "--privacy-unit", "pid"}, `no privacy-unit column "pid" in the header (did you mean "Id"? ` + header},
		{"typo", []string{"--label", "Clas"}, `(did you mean "Class"?`},
		{"nothing near", []string{"--label", "diagnosis"}, `no label column "diagnosis" in the header (` + header},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, cmd := range []string{"train", "sim"} {
				r := runIn(t, context.Background(), append([]string{cmd, "--data", path}, c.args...)...)
				wantOneLineError(t, r, c.want)
				if r.stdout != "" {
					t.Errorf("%s printed before failing: %q", cmd, r.stdout)
				}
			}
		})
	}
}

func TestUndefinedMetricsPrintNA(t *testing.T) {
	t.Parallel()
	// Three rows: one test row, of one class.
	path := filepath.Join(t.TempDir(), "tiny.csv")
	if err := os.WriteFile(path, []byte("a,b,y\n1,2,M\n2,1,B\n3,3,M\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runIn(t, context.Background(), "train", "--data", path, "--label", "y")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	auc := regexp.MustCompile(`(?m)^  auc +(\S+)$`).FindStringSubmatch(r.stdout)
	acc := regexp.MustCompile(`(?m)^  accuracy +(\S+)$`).FindStringSubmatch(r.stdout)
	if auc == nil || auc[1] != "n/a" || acc == nil || acc[1] == "n/a" {
		t.Fatalf("auc %q, accuracy %q in:\n%s", auc, acc, r.stdout)
	}
	if !strings.Contains(r.stdout, "! only 1 test row: ") || !strings.Contains(r.stdout, "3 rows are too few") {
		t.Errorf("no warning of the single test row:\n%s", r.stdout)
	}
	var out struct {
		Undefined []string `json:"undefined"`
	}
	decodeJSON(t, runIn(t, context.Background(), "train", "--data", path, "--label", "y", "--json"), &out)
	if !slices.Contains(out.Undefined, "auc") || slices.Contains(out.Undefined, "accuracy") {
		t.Errorf("--json undefined %q", out.Undefined)
	}
	// sim fails before its round table.
	s := runIn(t, context.Background(), "sim", "--data", path, "--label", "y")
	wantOneLineError(t, s, "3 rows are too few for a test set and 3 hospitals")
	if strings.Contains(s.stdout, "round") {
		t.Errorf("sim printed its table's header before failing:\n%s", s.stdout)
	}

	// predict on labelled rows of a single class.
	dir := t.TempDir()
	key := filepath.Join(dir, "k")
	if r := runIn(t, context.Background(), "keygen", "-o", key); r.code != 0 {
		t.Fatal(r.stderr)
	}
	sealed := filepath.Join(dir, "m.age")
	if r := runIn(t, context.Background(), "train", "--epochs", "1", "-i", filepath.Join(key, "identity.txt"), "-o", sealed); r.code != 0 {
		t.Fatal(r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(wdbcCSV()), "\n")
	var benign []string
	for _, l := range lines[1:] {
		if strings.HasSuffix(l, ",B") {
			benign = append(benign, l)
		}
	}
	rows := filepath.Join(dir, "benign.csv")
	if err := os.WriteFile(rows, []byte(lines[0]+"\n"+strings.Join(benign[:10], "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := runIn(t, context.Background(), "predict", "--checkpoint", sealed, "-i", filepath.Join(key, "identity.txt"),
		"--signer", filepath.Join(key, "signing-key.pub"), "--data", rows)
	if p.code != 0 || !strings.Contains(p.stderr, "auc n/a") || strings.Contains(p.stderr, "accuracy n/a") {
		t.Errorf("predict: exit %d, stderr:\n%s", p.code, p.stderr)
	}
}

// TestNoiseWarning: on wdbc spread over three hospitals the default noise
// (σ ≈ 8 on batches of about 30 rows) is no warning; on a third of the rows
// (batches of about 11) it is, with the local steps that lift it, which do.
func TestNoiseWarning(t *testing.T) {
	t.Parallel()
	if r := runIn(t, cancelled(), "sim"); !strings.HasPrefix(r.stdout, "data: wdbc") || strings.Contains(r.stdout, "noise multiplier") {
		t.Fatalf("the default run warns, or says nothing:\n%s", r.stdout)
	}
	lines := strings.Split(strings.TrimSpace(wdbcCSV()), "\n")
	small := filepath.Join(t.TempDir(), "small.csv")
	if err := os.WriteFile(small, []byte(strings.Join(lines[:207], "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runIn(t, cancelled(), "sim", "--data", small, "--label", "diagnosis")
	m := regexp.MustCompile(`! noise multiplier σ = ([0-9.]+) ≥ 4 on batches of about 1[01] rows: .*; --local-steps (\d+) brings it to`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no noise warning naming --local-steps:\n%s", r.stdout)
	}
	if sigma, _ := strconv.ParseFloat(m[1], 64); sigma < 4 {
		t.Errorf("σ %v", sigma)
	}
	if steps, _ := strconv.Atoi(m[2]); steps < 1 || steps >= 20 {
		t.Fatalf("--local-steps %d", steps)
	}
	if r := runIn(t, cancelled(), "sim", "--data", small, "--label", "diagnosis", "--local-steps", m[2]); strings.Contains(r.stdout, "noise multiplier") {
		t.Errorf("the change it names does not lift the warning:\n%s", r.stdout)
	}
	// init judges the same settings for members of as many rows, in --json too.
	var out struct {
		Assumed assumed `json:"assumed"`
	}
	decodeJSON(t, runIn(t, context.Background(), "init", "--json", "--members", "a,b,c", "-o", filepath.Join(t.TempDir(), "fed"), "--data", small, "--label", "diagnosis"), &out)
	if len(out.Assumed.Warnings) != 1 || !strings.Contains(out.Assumed.Warnings[0], "noise multiplier") {
		t.Errorf("init --json warnings %q", out.Assumed.Warnings)
	}
}

// TestPlanSimInitShareDefaults compares the defaults each command's --help
// states for the settings they share.
func TestPlanSimInitShareDefaults(t *testing.T) {
	t.Parallel()
	defaults := func(cmd string) map[string]string {
		h := runIn(t, context.Background(), cmd, "--help")
		out := map[string]string{}
		name := ""
		for _, line := range strings.Split(h.stderr, "\n") {
			if strings.HasPrefix(line, "  -") {
				name = strings.Fields(line)[0][1:]
				out[name] = "" // a zero default is not printed
			}
			if i := strings.LastIndex(line, "(default "); i >= 0 && name != "" {
				out[name] = strings.TrimSuffix(line[i+len("(default "):], ")")
			}
		}
		return out
	}
	plan, simd, initd := defaults("plan"), defaults("sim"), defaults("init")
	for _, f := range []string{"model", "hospitals", "threshold", "rounds", "local-steps", "sample-rate", "epsilon", "delta", "accountant", "preset"} {
		if plan[f] != simd[f] {
			t.Errorf("--%s: plan's default %q, sim's %q", f, plan[f], simd[f])
		}
	}
	for _, f := range []string{"model", "threshold", "rounds", "local-steps", "sample-rate", "epsilon", "delta", "accountant", "preset", "max-decryptions", "spare-rounds"} {
		if plan[f] != initd[f] {
			t.Errorf("--%s: plan's default %q, init's %q", f, plan[f], initd[f])
		}
	}
	if simd["sample-rate"] == "" {
		t.Fatal("sim --help shows no default sample rate: the test compares nothing")
	}
}

func TestTrainProgress(t *testing.T) {
	t.Parallel()
	r := runIn(t, context.Background(), "train", "--epochs", "3", "--progress", "1ns")
	for i := 1; i <= 3; i++ {
		if !strings.Contains(r.stderr, fmt.Sprintf("train: epoch %d of 3, ", i)) {
			t.Errorf("no progress line for epoch %d:\n%s", i, r.stderr)
		}
	}
	r = runIn(t, context.Background(), "train", "--dp", "--steps", "4", "--cv", "2", "--progress", "1ns")
	if !strings.Contains(r.stderr, "train: fold 2 of 2, step 4 of 4, ") {
		t.Errorf("no progress line for the last DP-SGD step of fold 2:\n%s", r.stderr)
	}
	// At the default interval a run of a fraction of a second says nothing.
	if r := runIn(t, context.Background(), "train", "--epochs", "3"); strings.Contains(r.stderr, "train: epoch") || r.code != 0 {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

// wdbcCSV returns the embedded wdbc set's CSV.
func wdbcCSV() string {
	raw, _, _ := data.Embedded("wdbc")
	return strings.ReplaceAll(string(raw), "\r\n", "\n")
}
