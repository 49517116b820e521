package data

import (
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"gonum.org/v1/gonum/mat"
)

// Report says what loading found. It holds counts, column names and class
// names only, never a feature value or a patient identifier, so it may be
// logged.
type Report struct {
	Source   string `json:"source"`
	RowsRead int    `json:"rows_read"` // data rows in the file (the header not counted)
	Rows     int    `json:"rows"`      // rows kept in the Dataset
	// RowsMissingLabel counts rows dropped because their label is missing.
	RowsMissingLabel int `json:"rows_missing_label"`
	// RowsDropped counts rows dropped for a missing feature cell
	// ([MissingDrop]).
	RowsDropped int `json:"rows_dropped"`
	// Missing counts missing feature cells per column over all rows read
	// (cells equal to a declared missing-value code, and every cell of an
	// absent column, included); columns without missing cells are left out.
	Missing map[string]int `json:"missing,omitempty"`
	// Absent lists declared features ([Options.Features]) the file has no
	// column for: every row is missing them, for the transform to impute.
	Absent []string `json:"absent,omitempty"`
	// Constant lists feature columns whose kept, non-missing values are all
	// equal: they carry no information and normalize to zero.
	Constant []string `json:"constant,omitempty"`
	// Dropped lists the columns dropped by [Options.Drop].
	Dropped []string `json:"dropped,omitempty"`
	// Identifiers lists feature columns that look like identifiers: at
	// least 20 rows, every value present, an integer and distinct. A record
	// number is better dropped ([Options.Drop]); a patient number, when one
	// patient may have several rows, is the privacy unit
	// ([Options.PrivacyUnit]).
	Identifiers []string `json:"identifiers,omitempty"`
	// ClassCounts counts kept rows per label value.
	ClassCounts map[string]int `json:"class_counts"`
	Units       int            `json:"units,omitempty"` // privacy units (patients), 0 without a privacy unit
}

// maxQuoted bounds how much of a cell an error message repeats.
const maxQuoted = 32

// Load reads a CSV with a header row into a Dataset. Every column other
// than the label, the privacy unit and the dropped ones is a numeric
// feature; cells "", "?", "NA", "N/A", "NaN" and "null" (any case) are
// missing. source names the input in errors, which are one line naming
// the line and column: "wdbc.csv: line 12: 30 fields, header has 31".
// Missing feature cells are NaN in X (or their rows dropped, by
// [Options.Missing]); rows with a missing label are dropped. Both are
// counted in the Report.
func Load(r io.Reader, source string, opt Options) (*Dataset, *Report, error) {
	d, rep, err := load(r, source, opt)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", source, err)
	}
	return d, rep, nil
}

// column roles while loading
const (
	roleFeature = iota
	roleLabel
	roleUnit
	roleDrop
	roleText
)

func load(r io.Reader, source string, opt Options) (*Dataset, *Report, error) {
	if err := opt.Validate(); err != nil {
		return nil, nil, err
	}
	cr, header, index, err := readHeader(r)
	if err != nil {
		return nil, nil, err
	}

	roles := make([]int, len(header))
	find := func(name, what string, role int) (int, error) {
		j, ok := index[name]
		if !ok {
			return -1, fmt.Errorf("line 1: no %s column %q in the header%s", what, quote(name), ColumnHint(name, header))
		}
		roles[j] = role
		return j, nil
	}
	labelCol, err := find(opt.Label, "label", roleLabel)
	if err != nil {
		return nil, nil, err
	}
	unitCol := -1
	if opt.PrivacyUnit != "" {
		if unitCol, err = find(opt.PrivacyUnit, "privacy-unit", roleUnit); err != nil {
			return nil, nil, err
		}
	}
	for _, name := range opt.Drop {
		if _, err := find(name, "drop", roleDrop); err != nil {
			return nil, nil, err
		}
	}
	textCol := -1
	if opt.Text != "" {
		if textCol, err = find(opt.Text, "text", roleText); err != nil {
			return nil, nil, err
		}
	}
	features, names, err := featureColumns(header, index, roles, opt.Features)
	if err != nil {
		return nil, nil, err
	}
	if len(features) == 0 && textCol < 0 {
		return nil, nil, errors.New("line 1: no feature columns")
	}
	codes, err := featureCodes(names, opt.MissingValues)
	if err != nil {
		return nil, nil, err
	}

	rep := &Report{Source: source, Missing: map[string]int{}, ClassCounts: map[string]int{}, Dropped: slices.Clone(opt.Drop)}
	for k, j := range features {
		if j < 0 {
			rep.Absent = append(rep.Absent, names[k])
		}
	}
	var (
		xs       []float64
		labels   []string
		unitRaw  []string
		docs     []string
		rowCells = make([]float64, len(features))
		missing  = make([]int, len(features))
	)
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		rep.RowsRead++
		line, err := checkWidth(cr, rec, len(header))
		if err != nil {
			return nil, nil, err
		}
		hasMissing := false
		for k, j := range features {
			v, ok := math.NaN(), false
			if j >= 0 {
				if v, ok, err = parseFeature(rec[j], codes[k]); err != nil {
					return nil, nil, fmt.Errorf("line %d, column %q: %w", line, quote(header[j]), err)
				}
			}
			if !ok {
				missing[k]++
				hasMissing = true
			}
			rowCells[k] = v
		}
		var doc string
		if textCol >= 0 {
			if doc, err = textCell(rec[textCol]); err != nil {
				return nil, nil, fmt.Errorf("line %d, column %q: %w", line, quote(opt.Text), err)
			}
		}
		label := strings.TrimSpace(rec[labelCol])
		if isMissing(label) {
			rep.RowsMissingLabel++
			continue
		}
		if opt.Classes != nil && !slices.Contains(opt.Classes, label) {
			return nil, nil, fmt.Errorf("line %d, column %q: not one of the classes %s", line, quote(opt.Label), listQuoted(opt.Classes))
		}
		var unit string
		if unitCol >= 0 {
			unit = strings.TrimSpace(rec[unitCol])
			if isMissing(unit) {
				return nil, nil, fmt.Errorf("line %d, column %q: privacy unit is missing", line, quote(opt.PrivacyUnit))
			}
		}
		if hasMissing && opt.Missing == MissingDrop {
			rep.RowsDropped++
			continue
		}
		xs = append(xs, rowCells...)
		labels = append(labels, label)
		if textCol >= 0 {
			docs = append(docs, doc)
		}
		if unitCol >= 0 {
			unitRaw = append(unitRaw, unit)
		}
	}
	for k, n := range missing {
		if n > 0 {
			rep.Missing[names[k]] = n
		}
	}
	switch {
	case rep.RowsRead == 0:
		return nil, nil, errors.New("no data rows after the header")
	case len(labels) == 0:
		return nil, nil, fmt.Errorf("all %d rows dropped (%d missing label, %d missing features)", rep.RowsRead, rep.RowsMissingLabel, rep.RowsDropped)
	}

	classes, err := chooseClasses(labels, opt)
	if err != nil {
		return nil, nil, err
	}
	classIndex := make(map[string]int, len(classes))
	for k, c := range classes {
		classIndex[c] = k
	}
	d := &Dataset{
		Name:        strings.TrimSuffix(filepath.Base(source), filepath.Ext(source)),
		Y:           make([]float64, len(labels)),
		Classes:     classes,
		Label:       opt.Label,
		PrivacyUnit: opt.PrivacyUnit,
		Missing:     cmp.Or(opt.Missing, MissingMean),
		TextColumn:  opt.Text,
		Text:        docs,
	}
	if len(features) > 0 {
		d.X = mat.NewDense(len(labels), len(features), xs)
	}
	d.Features = names
	for i, l := range labels {
		d.Y[i] = float64(classIndex[l])
		rep.ClassCounts[l]++
	}
	if unitCol >= 0 {
		d.Units = make([]int, len(unitRaw))
		ids := make(map[string]int)
		for i, u := range unitRaw {
			k, ok := ids[u]
			if !ok {
				k = len(d.UnitIDs)
				ids[u] = k
				d.UnitIDs = append(d.UnitIDs, u)
			}
			d.Units[i] = k
		}
		rep.Units = len(d.UnitIDs)
	}
	rep.Rows = d.Rows()
	rep.Constant = constantColumns(d)
	rep.Identifiers = identifierColumns(d)
	return d, rep, nil
}

// featureColumns returns the header index of each feature column (-1 for
// a declared feature absent from the file) and the features' names: the
// declared features in their order, or else every column left with the
// feature role, in file order.
func featureColumns(header []string, index map[string]int, roles []int, declared []string) ([]int, []string, error) {
	var cols []int
	var names []string
	if len(declared) == 0 {
		for j, role := range roles {
			if role == roleFeature {
				cols, names = append(cols, j), append(names, header[j])
			}
		}
		return cols, names, nil
	}
	for _, f := range declared {
		j, ok := index[f]
		switch {
		case !ok:
			j = -1
		case roles[j] != roleFeature:
			return nil, nil, fmt.Errorf("line 1: feature %q is also the label, privacy unit, text or a dropped column", quote(f))
		}
		cols, names = append(cols, j), append(names, f)
	}
	for j, role := range roles {
		if role == roleFeature && !slices.Contains(declared, header[j]) {
			return nil, nil, fmt.Errorf("line 1: column %q is not one of the %d declared features (drop it)", quote(header[j]), len(declared))
		}
	}
	return cols, names, nil
}

// featureCodes returns the missing-value codes of each feature, and an
// error if a code names a column that is not a feature.
func featureCodes(names []string, m map[string][]float64) ([][]float64, error) {
	for c := range m {
		if !slices.Contains(names, c) {
			return nil, fmt.Errorf("line 1: missing-value codes for %q, which is not a feature column", quote(c))
		}
	}
	codes := make([][]float64, len(names))
	for k, f := range names {
		codes[k] = m[f]
	}
	return codes, nil
}

// parseFeature parses a feature cell as parseCell does, and reads a value
// equal to one of the column's missing-value codes as missing.
func parseFeature(s string, codes []float64) (float64, bool, error) {
	v, ok, err := parseCell(s)
	if ok && slices.Contains(codes, v) {
		return math.NaN(), false, nil
	}
	return v, ok, err
}

// readHeader starts reading a CSV: it returns the reader positioned after
// the header, the column names (byte-order mark and spaces trimmed) and
// their indices. Names must be present and distinct.
func readHeader(r io.Reader) (*csv.Reader, []string, map[string]int, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, nil, nil, errors.New("empty file: no header row")
	}
	if err != nil {
		return nil, nil, nil, err
	}
	header = slices.Clone(header)
	header[0] = strings.TrimPrefix(header[0], "\ufeff")
	index := make(map[string]int, len(header))
	for j := range header {
		header[j] = strings.TrimSpace(header[j])
		if header[j] == "" {
			return nil, nil, nil, fmt.Errorf("line 1: column %d has no name", j+1)
		}
		if k, dup := index[header[j]]; dup {
			return nil, nil, nil, fmt.Errorf("line 1: column name %q repeated (columns %d and %d)", quote(header[j]), k+1, j+1)
		}
		index[header[j]] = j
	}
	return cr, header, index, nil
}

// checkWidth returns the line a record starts on, or an error if it does
// not have the header's width.
func checkWidth(cr *csv.Reader, rec []string, width int) (int, error) {
	line, _ := cr.FieldPos(0)
	if len(rec) != width {
		return line, fmt.Errorf("line %d: %d fields, header has %d", line, len(rec), width)
	}
	return line, nil
}

// parseCell parses a feature cell: ok is false for a missing value (v is
// then NaN). Its error never quotes the cell: it is patient data (often a
// name or an identifier in a column that should have been dropped).
func parseCell(s string) (v float64, ok bool, err error) {
	s = strings.TrimSpace(s)
	if isMissing(s) {
		return math.NaN(), false, nil
	}
	v, err = strconv.ParseFloat(s, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, false, errors.New("out of range for a float64")
		}
		return 0, false, errors.New("not a number")
	}
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, false, errors.New("not a finite number")
	}
	return v, true, nil
}

// textCell reads a free-text cell: a missing-value marker (after trimming spaces) is an empty
// document. The error never quotes the cell.
func textCell(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", errors.New("not valid UTF-8 text")
	}
	if isMissing(strings.TrimSpace(s)) {
		return "", nil
	}
	return s, nil
}

// isMissing reports whether a (trimmed) cell marks a missing value.
func isMissing(s string) bool {
	if len(s) > 4 {
		return false
	}
	switch strings.ToLower(s) { // MissingMarkers, in lower case
	case "", "?", "na", "n/a", "nan", "null":
		return true
	}
	return false
}

// chooseClasses returns the label's classes in index order.
func chooseClasses(labels []string, opt Options) ([]string, error) {
	if opt.Classes != nil {
		return slices.Clone(opt.Classes), nil
	}
	seen := make(map[string]bool)
	var classes []string
	for _, l := range labels {
		if !seen[l] {
			seen[l] = true
			classes = append(classes, l)
		}
	}
	sortClasses(classes)
	if len(classes) < 2 {
		return nil, fmt.Errorf("label %q has a single class %q in all %d rows; need at least two", quote(opt.Label), quote(classes[0]), len(labels))
	}
	if opt.Positive == "" {
		return classes, nil
	}
	if !seen[opt.Positive] {
		return nil, fmt.Errorf("positive value %q does not occur in label %q (values %s)", quote(opt.Positive), quote(opt.Label), listQuoted(classes))
	}
	if len(classes) != 2 {
		return nil, fmt.Errorf("positive value %q given but label %q has %d classes, not 2", quote(opt.Positive), quote(opt.Label), len(classes))
	}
	if classes[1] != opt.Positive {
		classes[0], classes[1] = classes[1], classes[0]
	}
	return classes, nil
}

// sortClasses sorts label values numerically when all are numbers, else
// in byte order.
func sortClasses(classes []string) {
	nums := make(map[string]float64, len(classes))
	for _, c := range classes {
		v, err := strconv.ParseFloat(c, 64)
		if err != nil || math.IsNaN(v) {
			slices.Sort(classes)
			return
		}
		nums[c] = v
	}
	slices.SortFunc(classes, func(a, b string) int {
		return cmp.Or(cmp.Compare(nums[a], nums[b]), strings.Compare(a, b))
	})
}

// constantColumns returns the features whose non-missing values are all
// equal (or absent).
func constantColumns(d *Dataset) []string {
	if d.X == nil {
		return nil
	}
	r, c := d.X.Dims()
	var out []string
	for j := range c {
		lo, hi := math.Inf(1), math.Inf(-1)
		for i := range r {
			v := d.X.At(i, j)
			if !math.IsNaN(v) {
				lo, hi = min(lo, v), max(hi, v)
			}
		}
		if !(lo < hi) {
			out = append(out, d.Features[j])
		}
	}
	return out
}

// quote shortens s for an error message; %q then escapes it onto one line.
func quote(s string) string {
	if len(s) <= maxQuoted {
		return s
	}
	return strings.ToValidUTF8(s[:maxQuoted], "") + "…"
}

// listQuoted formats up to ten values for an error message.
func listQuoted(vals []string) string {
	var b strings.Builder
	b.WriteByte('[')
	writeQuoted(&b, vals, 10, " ")
	b.WriteByte(']')
	return b.String()
}

// writeQuoted writes up to limit values, quoted and separated by sep, and
// how many more there are.
func writeQuoted(b *strings.Builder, vals []string, limit int, sep string) {
	for i, v := range vals {
		if i == limit {
			fmt.Fprintf(b, " and %d more", len(vals)-limit)
			break
		}
		if i > 0 {
			b.WriteString(sep)
		}
		fmt.Fprintf(b, "%q", quote(v))
	}
}
