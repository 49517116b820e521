package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/fedcrypt/fedcrypt/bench"
	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/internal/sealedmodel"
	"github.com/fedcrypt/fedcrypt/sim"
)

// Below these sizes a result says little, and the commands say so before
// they run.
const (
	minTestRows     = 20 // held-out rows: one row moves accuracy by 5 points
	minHospitalRows = 20 // one hospital's training rows
	// maxStepNoise is the standard deviation of DP-SGD's noise on a step's
	// mean gradient, in clipping norms, from which large noise (σ ≥
	// bench.LargeNoise) is said to drown the signal: 0.28 on wdbc's
	// hospitals by default, 0.75 at 55 rows each, where accuracy fell
	// from 0.76 to 0.64.
	maxStepNoise = 0.5
)

// assumed is what a command took for granted about its data and settings,
// said before it runs: a short block of its human output, and the field
// "assumed" of its --json object. It holds column and class names and
// counts, never a cell's value.
type assumed struct {
	Data    string   `json:"data"`
	Rows    int      `json:"rows"`
	Label   string   `json:"label"`
	Classes []string `json:"classes"`
	// Positive is a binary label's positive class (class index 1), and
	// PositiveBy how it was chosen.
	Positive   string   `json:"positive,omitempty"`
	PositiveBy string   `json:"positive_chosen_by,omitempty"`
	Dropped    []string `json:"dropped,omitempty"`
	// Ignored are the columns of the rows to score that the model does not
	// read (predict).
	Ignored []string `json:"ignored,omitempty"`
	// Identifiers are feature columns that look like identifiers: every
	// value a distinct integer.
	Identifiers []string `json:"identifiers,omitempty"`
	// MissingCells counts the missing feature cells, Missing per column,
	// and Filled says what replaces them.
	MissingCells     int            `json:"missing_cells"`
	Missing          map[string]int `json:"missing,omitempty"`
	Filled           string         `json:"filled,omitempty"`
	RowsMissingLabel int            `json:"rows_missing_label,omitempty"`
	// Warnings say what makes the results doubtful, each with the one
	// change most likely to help.
	Warnings []string `json:"warnings,omitempty"`
}

// assumeData describes a data set loaded with the flags df, whose missing
// cells are filled as filled says.
func assumeData(ds *data.Dataset, rep *data.Report, df *dataFlags, filled string) *assumed {
	a := &assumed{Data: rep.Source, Rows: rep.Rows, Label: ds.Label, Classes: ds.Classes, Dropped: rep.Dropped,
		Identifiers: rep.Identifiers, Missing: rep.Missing, RowsMissingLabel: rep.RowsMissingLabel}
	if len(ds.Classes) == 2 {
		a.Positive, a.PositiveBy = ds.Classes[1], df.positiveChosenBy(ds.Classes)
	}
	for _, n := range rep.Missing {
		a.MissingCells += n
	}
	a.Filled = filled
	if ds.Missing == data.MissingDrop && rep.RowsDropped > 0 {
		a.Filled = fmt.Sprintf("the %d rows holding them dropped (--missing drop)", rep.RowsDropped)
	}
	return a
}

// positiveChosenBy says how the positive class of a binary label with
// classes (in class order) was chosen.
func (d *dataFlags) positiveChosenBy(classes []string) string {
	if d.Positive != "" {
		return "--positive"
	}
	if _, def, ok := data.Embedded(d.Source); ok && def.Positive != "" && (d.Label == "" || d.Label == def.Label) {
		return "the embedded set's"
	}
	order := "byte"
	if _, err0 := strconv.ParseFloat(classes[0], 64); err0 == nil {
		if _, err1 := strconv.ParseFloat(classes[1], 64); err1 == nil {
			order = "numeric"
		}
	}
	return "the larger value in " + order + " order"
}

// fillDescription says what replaces a missing cell under the imputation
// impute (data.MissingMean or data.MissingMedian), from statistics of
// where.
func fillDescription(impute, where string) string {
	what := "mean"
	if impute == data.MissingMedian {
		what = "median"
	}
	return fmt.Sprintf("the column's %s %s", what, where)
}

// warn adds a warning.
func (a *assumed) warn(format string, args ...any) {
	a.Warnings = append(a.Warnings, fmt.Sprintf(format, args...))
}

// testRows warns when n held-out rows are too few to score a model on,
// with change, what would help.
func (a *assumed) testRows(n int, change string) {
	if n < minTestRows {
		a.warn("only %s: one row moves accuracy by %.2g, and a metric is n/a where the rows do not define it; %s", count(n, "test row"), 1/float64(max(n, 1)), change)
	}
}

// noise warns when the noise of a federation with settings cfg on data of
// schema, keeping spare rounds for retries, drowns what a hospital of rows
// rows can teach: a noise multiplier σ ≥ bench.LargeNoise (as plan warns)
// on batches so small that the noise on a step's mean gradient,
// σ / (q · rows), is at least maxStepNoise clipping norms. It names the one
// setting to change: fewer local steps, else fewer rounds, else a larger ε.
func (a *assumed) noise(cfg sim.Config, schema data.Schema, spare, rows int) {
	if !cfg.DP {
		return
	}
	batch := cfg.SampleRate * float64(rows)
	drowns := func(c sim.Config) (float64, bool) {
		s, err := c.NoiseMultiplier(schema, spare)
		return s, err == nil && s >= bench.LargeNoise && s/batch >= maxStepNoise
	}
	sigma, bad := drowns(cfg)
	if !bad {
		return // a budget no noise meets fails the run with its own error
	}
	// The largest value of a setting, below its own, that lifts the
	// warning: the noise grows with the steps.
	largest := func(current int, with func(int) sim.Config) (int, float64) {
		best, bestSigma := 0, 0.0
		for lo, hi := 1, current-1; lo <= hi; {
			mid := (lo + hi) / 2
			if s, bad := drowns(with(mid)); !bad {
				best, bestSigma, lo = mid, s, mid+1
			} else {
				hi = mid - 1
			}
		}
		return best, bestSigma
	}
	change := "more rows per hospital, or a larger --epsilon"
	if n, s := largest(cfg.LocalSteps, func(n int) sim.Config { c := cfg; c.LocalSteps = n; return c }); n > 0 {
		change = fmt.Sprintf("--local-steps %d brings it to %.2g (σ = %.3g)", n, s/batch, s)
	} else if n, s := largest(cfg.Rounds, func(n int) sim.Config { c := cfg; c.Rounds = n; return c }); n > 0 {
		change = fmt.Sprintf("--rounds %d brings it to %.2g (σ = %.3g)", n, s/batch, s)
	} else {
		for _, f := range []float64{1.5, 2, 3, 5, 10} {
			c := cfg
			c.Epsilon = cfg.Epsilon * f
			if s, bad := drowns(c); !bad {
				change = fmt.Sprintf("--epsilon %g brings it to %.2g (σ = %.3g)", c.Epsilon, s/batch, s)
				break
			}
		}
	}
	a.warn("noise multiplier σ = %.3g ≥ %d on batches of about %.0f rows: noise of %.2g clipping norms on every step's mean gradient can drown what the rows teach; %s",
		sigma, bench.LargeNoise, batch, sigma/batch, change)
}

// assumeSim says what sim assumes of ds (loaded with df, report rep) and
// its settings cfg: the data block and the warnings before the run. It
// fails when the rows cannot make a test set and cfg's hospitals. Site-
// native data (rep nil), which each site splits on its own, is not judged
// here.
func assumeSim(e *env, ds *data.Dataset, rep *data.Report, df *dataFlags, cfg sim.Config, jsonOut bool) (*env, error) {
	if rep == nil {
		return e, nil
	}
	a := assumeData(ds, rep, df, fillDescription(data.Options{Missing: df.Missing}.Imputation(), "from the federation's DP statistics"))
	// The run splits with its own seed; the sizes are those of any seed
	// for an IID partition.
	train, test, err := data.StratifiedSplit(ds, cfg.TestFraction, 1)
	var parts []*data.Dataset
	if err == nil {
		parts, err = data.Partition(train, cfg.Hospitals, cfg.Partition, 1)
	}
	if err != nil {
		return nil, fmt.Errorf("sim: %d rows are too few for a test set and %d hospitals: %w", ds.Rows(), cfg.Hospitals, err)
	}
	smallest := parts[0]
	for i, p := range parts {
		if p.Rows() == 0 {
			return nil, fmt.Errorf("sim: %d rows are too few for a test set and %d hospitals: hospital h%d would get no rows; fewer --hospitals, or more data", ds.Rows(), cfg.Hospitals, i+1)
		}
		if p.Rows() < smallest.Rows() {
			smallest = p
		}
	}
	if n := smallest.Rows(); n < minHospitalRows {
		change := "more data"
		if h := train.Rows() / minHospitalRows; h >= 2 && h < cfg.Hospitals {
			change = fmt.Sprintf("--hospitals %d gives each about %d", h, train.Rows()/h)
		}
		a.warn("a hospital trains on only %s; %s", count(n, "row"), change)
	}
	a.testRows(test.Rows(), "more data: the test rows are a fifth of them")
	a.noise(cfg, ds.Schema(), cfg.SpareRounds(), smallest.Rows())
	return a.say(e, e.stdout, jsonOut), nil
}

// assumeInit says what init assumes of ds and the federation's settings s
// for members, each contributor keeping spare rounds for retries; the
// noise is judged as if ds were spread over the members.
func assumeInit(e *env, ds *data.Dataset, rep *data.Report, df *dataFlags, s sim.Config, spare, members int, jsonOut bool) *env {
	a := assumeData(ds, rep, df, fillDescription(data.Options{Missing: df.Missing}.Imputation(), "from the federation's DP statistics"))
	a.noise(s, ds.Schema(), spare, ds.Rows()/members)
	return a.say(e, e.stdout, jsonOut)
}

// assumePredict says what predict assumes of the rows read from path for
// the model l.
func assumePredict(path string, l *sealedmodel.Loaded, rows *data.Rows) *assumed {
	s := l.Schema
	a := &assumed{Data: path, Rows: len(rows.Y), Label: s.Label, Classes: s.Classes, Ignored: rows.Ignored, Missing: rows.Missing}
	if len(s.Classes) == 2 {
		a.Positive, a.PositiveBy = s.Classes[1], "the model's"
	}
	for _, n := range rows.Missing {
		a.MissingCells += n
	}
	if l.Transform != nil {
		a.Filled = fillDescription(l.Transform.Impute, "the model carries from its training")
	}
	return a
}

// say prints a before the command runs, on w; under --json it returns the
// env the command continues with, whose one JSON object gets a as the
// field "assumed".
func (a *assumed) say(e *env, w io.Writer, jsonOut bool) *env {
	if jsonOut {
		return &env{stdout: &jsonFields{Writer: e.stdout, fields: map[string]any{"assumed": a}}, stderr: e.stderr, stdin: e.stdin}
	}
	a.print(w)
	return e
}

// print writes the block: a line on the label, then one per other thing
// assumed, indented.
func (a *assumed) print(w io.Writer) {
	if a.Positive != "" {
		by := a.PositiveBy
		if strings.HasPrefix(by, "the larger") {
			by += "; --positive VALUE to choose"
		}
		fmt.Fprintf(w, "data: %s, %d rows; label %q, positive class %q (%s), negative %q\n", a.Data, a.Rows, a.Label, a.Positive, by, a.Classes[0])
	} else {
		fmt.Fprintf(w, "data: %s, %d rows; label %q, %d classes: %s\n", a.Data, a.Rows, a.Label, len(a.Classes), names(a.Classes, 12))
	}
	if len(a.Dropped) > 0 {
		fmt.Fprintf(w, "  dropped: %s\n", names(a.Dropped, 12))
	}
	if len(a.Ignored) > 0 {
		fmt.Fprintf(w, "  not read by the model: %s\n", names(a.Ignored, 12))
	}
	for _, c := range a.Identifiers {
		fmt.Fprintf(w, "  ! column %q looks like an identifier (every value a distinct integer) but is a feature: --drop %s, or --privacy-unit %[2]s if one patient may have several rows\n", c, c)
	}
	if a.MissingCells == 0 {
		fmt.Fprintln(w, "  missing cells: none")
	} else {
		cols := slices.Sorted(maps.Keys(a.Missing))
		slices.SortStableFunc(cols, func(x, y string) int { return a.Missing[y] - a.Missing[x] })
		var b strings.Builder
		for i, c := range cols {
			if i == 8 {
				fmt.Fprintf(&b, " and %d more", len(cols)-i)
				break
			}
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s %d", c, a.Missing[c])
		}
		fmt.Fprintf(w, "  missing cells: %d in %s (%s), filled with %s\n", a.MissingCells, count(len(cols), "column"), b.String(), a.Filled)
	}
	if a.RowsMissingLabel > 0 {
		fmt.Fprintf(w, "  rows without a label: %d, left out\n", a.RowsMissingLabel)
	}
	for _, s := range a.Warnings {
		fmt.Fprintf(w, "  ! %s\n", s)
	}
}

// count says n things: "1 test row", "3 test rows".
func count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// names lists up to limit names, separated by commas.
func names(list []string, limit int) string {
	if len(list) <= limit {
		return strings.Join(list, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(list[:limit], ", "), len(list)-limit)
}

// jsonFields is a command's stdout under --json: writeJSON adds its fields
// to the one object the command prints.
type jsonFields struct {
	io.Writer
	fields map[string]any
}

// merge returns v, which must encode as a JSON object, with f's fields
// first.
func (f *jsonFields) merge(v any) (json.RawMessage, error) {
	obj, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	extra, err := json.Marshal(f.fields)
	if err != nil {
		return nil, err
	}
	if len(obj) < 2 || obj[0] != '{' {
		panic("fedcrypt: --json output is not an object")
	}
	if string(obj) == "{}" {
		return extra, nil
	}
	return slices.Concat(extra[:len(extra)-1], []byte{','}, obj[1:]), nil
}
