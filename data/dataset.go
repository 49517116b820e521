package data

import (
	"fmt"
	"math"
	"slices"
	"unicode/utf8"

	"gonum.org/v1/gonum/mat"
)

// A Dataset is a labelled table of numeric features. Its invariants, checked
// by [Dataset.Validate], hold for every Dataset this package returns:
//
//   - X is Rows() × len(Features), Rows() ≥ 1 and len(Features) ≥ 1;
//     cells are finite, or NaN where a value is missing; with a text column
//     Features may be empty, and X is then nil;
//   - with a text column, Text holds one valid UTF-8 document per row;
//   - Y[i] is an integer class index in [0, len(Classes)), len(Classes) ≥ 2;
//     binary labels use 1 for the positive class Classes[1];
//   - without a privacy unit Units and UnitIDs are nil; with one, Units[i]
//     indexes UnitIDs, and every index 0..len(UnitIDs)-1 occurs (dense).
//
// A Dataset is not safe for concurrent mutation; concurrent reads are fine.
type Dataset struct {
	Name     string
	Features []string   // feature column names, in X's column order
	X        *mat.Dense // rows × features; missing cells are NaN until a Transform is applied
	Y        []float64  // binary: 0/1 (1 = positive); multi-class: class index 0..K-1
	Classes  []string   // label values by class index; binary: [negative, positive]
	Label    string
	Units    []int    // privacy-unit index per row (nil without a privacy unit); dense 0..NumUnits-1
	UnitIDs  []string // the privacy unit's raw value per unit index

	// TextColumn names the free-text column ([Options.Text]), "" without one. Text then holds
	// each row's document ("" for a missing cell), valid UTF-8; else it is nil. With a text
	// column and no numeric feature, Features is empty and X is nil.
	TextColumn string
	Text       []string

	// PrivacyUnit is the privacy-unit column's name, "" without one.
	PrivacyUnit string
	// Missing is the missing-value policy the data set was loaded with
	// (an [Options.Missing] value; "" means MissingMean), so that
	// d.Options().Imputation() names the imputation to fit.
	Missing string
}

// Rows returns the number of rows (examples).
func (d *Dataset) Rows() int { return len(d.Y) }

// NumUnits returns the number of privacy units (patients); without a
// privacy unit every row is its own unit and NumUnits equals Rows.
func (d *Dataset) NumUnits() int {
	if d.Units == nil {
		return d.Rows()
	}
	return len(d.UnitIDs)
}

// ClassCounts returns the number of rows of each class, by class index.
func (d *Dataset) ClassCounts() []int {
	n := make([]int, len(d.Classes))
	for _, y := range d.Y {
		n[int(y)]++
	}
	return n
}

// Subset returns a new Dataset holding copies of the given rows, in the
// given order. Units are re-indexed densely in order of first appearance.
// Subset panics if rows is empty or an index is out of range: callers
// choose rows from d itself.
func (d *Dataset) Subset(rows []int) *Dataset {
	if len(rows) == 0 {
		panic("data: Subset of no rows")
	}
	s := &Dataset{
		Name:        d.Name,
		Features:    slices.Clone(d.Features),
		Y:           make([]float64, len(rows)),
		Classes:     slices.Clone(d.Classes),
		Label:       d.Label,
		PrivacyUnit: d.PrivacyUnit,
		Missing:     d.Missing,
		TextColumn:  d.TextColumn,
	}
	if d.X != nil {
		_, c := d.X.Dims()
		s.X = mat.NewDense(len(rows), c, nil)
	}
	if d.Text != nil {
		s.Text = make([]string, len(rows))
	}
	for i, r := range rows {
		if r < 0 || r >= d.Rows() {
			panic(fmt.Sprintf("data: Subset row %d out of range [0, %d)", r, d.Rows()))
		}
		if s.X != nil {
			s.X.SetRow(i, d.X.RawRowView(r))
		}
		if s.Text != nil {
			s.Text[i] = d.Text[r]
		}
		s.Y[i] = d.Y[r]
	}
	if d.Units != nil {
		s.Units = make([]int, len(rows))
		index := make(map[int]int)
		for i, r := range rows {
			u := d.Units[r]
			j, ok := index[u]
			if !ok {
				j = len(s.UnitIDs)
				index[u] = j
				s.UnitIDs = append(s.UnitIDs, d.UnitIDs[u])
			}
			s.Units[i] = j
		}
	}
	return s
}

// Validate checks the invariants listed on [Dataset] and reports the first
// one broken.
func (d *Dataset) Validate() error {
	if err := d.validateText(); err != nil {
		return err
	}
	r, c := len(d.Y), 0
	switch {
	case d.X != nil && !d.X.IsEmpty():
		r, c = d.X.Dims()
	case d.TextColumn == "" || len(d.Features) > 0:
		return fmt.Errorf("data set %q: no feature matrix", d.Name)
	case r == 0:
		return fmt.Errorf("data set %q: no rows", d.Name)
	}
	switch {
	case r != len(d.Y):
		return fmt.Errorf("data set %q: %d rows in X, %d labels", d.Name, r, len(d.Y))
	case c != len(d.Features):
		return fmt.Errorf("data set %q: %d columns in X, %d feature names", d.Name, c, len(d.Features))
	case len(d.Classes) < 2:
		return fmt.Errorf("data set %q: %d classes, need at least 2", d.Name, len(d.Classes))
	case d.Label == "":
		return fmt.Errorf("data set %q: no label name", d.Name)
	}
	seen := make(map[string]bool, c+2)
	for j, f := range d.Features {
		if f == "" || seen[f] || f == d.Label {
			return fmt.Errorf("data set %q: feature %d name %q is empty or repeated", d.Name, j, f)
		}
		seen[f] = true
	}
	for i := range r {
		if d.X == nil {
			break
		}
		for j, v := range d.X.RawRowView(i) {
			if math.IsInf(v, 0) {
				return fmt.Errorf("data set %q: row %d, column %q: infinite value", d.Name, i, d.Features[j])
			}
		}
	}
	for i, y := range d.Y {
		if y != math.Trunc(y) || y < 0 || int(y) >= len(d.Classes) {
			return fmt.Errorf("data set %q: row %d: label %v is not a class index in [0, %d)", d.Name, i, y, len(d.Classes))
		}
	}
	if d.Units == nil {
		if d.UnitIDs != nil {
			return fmt.Errorf("data set %q: unit ids without units", d.Name)
		}
		return nil
	}
	if d.PrivacyUnit == "" || seen[d.PrivacyUnit] || d.PrivacyUnit == d.Label {
		return fmt.Errorf("data set %q: privacy-unit column name %q is empty or clashes", d.Name, d.PrivacyUnit)
	}
	if len(d.Units) != r {
		return fmt.Errorf("data set %q: %d rows, %d unit indices", d.Name, r, len(d.Units))
	}
	used := make([]bool, len(d.UnitIDs))
	for i, u := range d.Units {
		if u < 0 || u >= len(d.UnitIDs) {
			return fmt.Errorf("data set %q: row %d: unit index %d outside [0, %d)", d.Name, i, u, len(d.UnitIDs))
		}
		used[u] = true
	}
	if i := slices.Index(used, false); i >= 0 {
		return fmt.Errorf("data set %q: unit index %d has no rows (units not dense)", d.Name, i)
	}
	return nil
}

// validateText checks the text column: one valid UTF-8 document per row exactly when there is a
// text column, whose name clashes with no other.
func (d *Dataset) validateText() error {
	if d.TextColumn == "" {
		if d.Text != nil {
			return fmt.Errorf("data set %q: documents without a text column", d.Name)
		}
		return nil
	}
	if d.TextColumn == d.Label || d.TextColumn == d.PrivacyUnit || slices.Contains(d.Features, d.TextColumn) {
		return fmt.Errorf("data set %q: text column name %q clashes", d.Name, d.TextColumn)
	}
	if len(d.Text) != len(d.Y) {
		return fmt.Errorf("data set %q: %d documents for %d rows", d.Name, len(d.Text), len(d.Y))
	}
	for i, s := range d.Text {
		if !utf8.ValidString(s) {
			return fmt.Errorf("data set %q: row %d, column %q: not valid UTF-8 text", d.Name, i, d.TextColumn)
		}
	}
	return nil
}

// groups returns the rows of each privacy unit (each row alone without a
// privacy unit), in order of the unit index.
func (d *Dataset) groups() [][]int {
	if d.Units == nil {
		g := make([][]int, d.Rows())
		for i := range g {
			g[i] = []int{i}
		}
		return g
	}
	g := make([][]int, len(d.UnitIDs))
	for i, u := range d.Units {
		g[u] = append(g[u], i)
	}
	return g
}

// groupLabel returns the majority class of a group's rows, the smallest
// class index on a tie.
func (d *Dataset) groupLabel(rows []int, counts []int) int {
	clear(counts)
	for _, r := range rows {
		counts[int(d.Y[r])]++
	}
	best := 0
	for k, n := range counts {
		if n > counts[best] {
			best = k
		}
	}
	return best
}

// subsetGroups returns the subset of the rows of the chosen groups, in
// ascending row order.
func (d *Dataset) subsetGroups(groups [][]int, chosen []int) *Dataset {
	var rows []int
	for _, g := range chosen {
		rows = append(rows, groups[g]...)
	}
	slices.Sort(rows)
	return d.Subset(rows)
}
