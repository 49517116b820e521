package data

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Missing-value policies of [Options.Missing].
const (
	MissingMean   = "mean"   // keep NaN; a [Transform] imputes the training rows' column mean
	MissingMedian = "median" // keep NaN; a [Transform] imputes the training rows' column median
	MissingDrop   = "drop"   // drop every row with a missing feature cell
)

// Options choose how a CSV becomes a [Dataset]. The zero value is not
// usable on its own: Label is required (see [LoadEmbedded] for the
// embedded sets' defaults). Options serialize to JSON and are checked by
// [Options.Validate].
type Options struct {
	// Label is the label column.
	Label string `json:"label"`
	// Positive is the positive class value of a binary label: it gets
	// class index 1. Empty: the larger of the two values (numeric order if
	// both are numbers, else byte order).
	Positive string `json:"positive,omitempty"`
	// Drop lists columns to ignore (identifiers, free text).
	Drop []string `json:"drop,omitempty"`
	// Text is a free-text column (notes, abstracts): its cells are kept as documents in
	// [Dataset.Text], for package text to featurize, instead of being parsed as numbers. A
	// missing cell is an empty document; a cell that is not valid UTF-8 is an error. With a text
	// column the data set may have no numeric feature.
	Text string `json:"text,omitempty"`
	// Missing is MissingMean (default), MissingMedian or MissingDrop.
	Missing string `json:"missing,omitempty"`
	// PrivacyUnit is the column naming the patient. It is removed from
	// the features and kept as [Dataset.Units]; a missing value in it is
	// an error.
	PrivacyUnit string `json:"privacy_unit,omitempty"`
	// Classes, when set, fixes the label's classes and their order (class
	// index = position), as a federation's [Schema] does: every label
	// value must be one of them, and a data set may hold only some of
	// them (a hospital may see a single class). Empty: the classes are
	// the values found, sorted, and at least two must occur.
	Classes []string `json:"classes,omitempty"`
	// MissingValues maps a feature column to the codes that mean "not
	// measured" in it (a cholesterol of 0): a cell equal to one of them,
	// compared as numbers, is read as missing, as "" or "NA" are.
	MissingValues map[string][]float64 `json:"missing_values,omitempty"`
	// Features, when set, fixes the feature columns and their order, as a
	// federation's [Schema] does. A feature column absent from the file is
	// read as missing in every row (a hospital that does not measure it),
	// and [Report.Absent] names it; a file column that is neither a feature
	// nor the label, the privacy unit, the text or dropped is an error.
	// Empty: every such column is a feature, in file order.
	Features []string `json:"features,omitempty"`
}

// Validate reports the first inconsistency in o.
func (o Options) Validate() error {
	if o.Label == "" {
		return fmt.Errorf("data options: no label column given")
	}
	switch o.Missing {
	case "", MissingMean, MissingMedian, MissingDrop:
	default:
		return fmt.Errorf("data options: missing %q: want %q, %q or %q", o.Missing, MissingMean, MissingMedian, MissingDrop)
	}
	if o.Text != "" && (o.Text == o.Label || o.Text == o.PrivacyUnit) {
		return fmt.Errorf("data options: text column %q is also the label or the privacy unit", o.Text)
	}
	seen := make(map[string]bool, len(o.Drop))
	for _, c := range o.Drop {
		switch {
		case c == o.Text:
			return fmt.Errorf("data options: text column %q is also dropped", c)
		case c == "":
			return fmt.Errorf("data options: empty column name in drop")
		case c == o.Label:
			return fmt.Errorf("data options: label column %q is also dropped", c)
		case c == o.PrivacyUnit:
			return fmt.Errorf("data options: privacy-unit column %q is also dropped", c)
		case seen[c]:
			return fmt.Errorf("data options: column %q dropped twice", c)
		}
		seen[c] = true
	}
	if o.PrivacyUnit != "" && o.PrivacyUnit == o.Label {
		return fmt.Errorf("data options: column %q is both label and privacy unit", o.Label)
	}
	if err := checkMissingValues(o.MissingValues); err != nil {
		return fmt.Errorf("data options: %w", err)
	}
	for i, f := range o.Features {
		if f == "" || slices.Index(o.Features, f) != i || f == o.Label || f == o.PrivacyUnit || f == o.Text || slices.Contains(o.Drop, f) {
			return fmt.Errorf("data options: feature %d %q is empty, repeated, or also the label, privacy unit, text or a dropped column", i+1, quote(f))
		}
	}
	if o.Classes != nil {
		if len(o.Classes) < 2 {
			return fmt.Errorf("data options: %d classes given, need at least 2", len(o.Classes))
		}
		for i, c := range o.Classes {
			if c == "" || isMissing(c) {
				return fmt.Errorf("data options: class %d is %q, a missing-value marker", i, c)
			}
			if slices.Index(o.Classes, c) != i {
				return fmt.Errorf("data options: class %q listed twice", c)
			}
		}
		if o.Positive != "" && (len(o.Classes) != 2 || o.Classes[1] != o.Positive) {
			return fmt.Errorf("data options: positive %q must be the second of two classes, classes are %q", o.Positive, o.Classes)
		}
	}
	return nil
}

// Imputation returns the imputation [FitTransform] should use for data
// loaded with o: MissingMedian for "median", MissingMean otherwise (with
// MissingDrop no cell is missing, so the choice does not matter).
func (o Options) Imputation() string {
	if o.Missing == MissingMedian {
		return MissingMedian
	}
	return MissingMean
}

// checkMissingValues checks declared missing-value codes: named columns,
// finite codes.
func checkMissingValues(m map[string][]float64) error {
	for c, codes := range m {
		if c == "" {
			return fmt.Errorf("missing-value codes for an empty column name")
		}
		if len(codes) == 0 {
			return fmt.Errorf("column %q: no missing-value code", quote(c))
		}
		for _, v := range codes {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("column %q: missing-value code %v is not a finite number", quote(c), v)
			}
		}
	}
	return nil
}

// ParseMissingValues reads missing-value codes written as a flag value,
// "chol=0,glucose=0,glucose=-9": column=number pairs separated by commas,
// a column repeated for several codes.
func ParseMissingValues(s string) (map[string][]float64, error) {
	m := map[string][]float64{}
	for i, part := range strings.Split(s, ",") {
		col, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		col = strings.TrimSpace(col)
		if !ok || col == "" {
			return nil, fmt.Errorf("missing values: item %d: want COLUMN=NUMBER", i+1)
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			return nil, fmt.Errorf("missing values: item %d, column %q: code is not a number", i+1, quote(col))
		}
		m[col] = append(m[col], v)
	}
	if err := checkMissingValues(m); err != nil {
		return nil, fmt.Errorf("missing values: %w", err)
	}
	return m, nil
}
