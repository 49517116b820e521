package data

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
)

// A Schema is what every data set in a federation must look like: the
// feature columns in order (all numeric, float64), the label and its
// classes in index order, and the privacy-unit column if there is one. It
// is written as JSON (in the federation's configuration) and checked
// against each hospital's data with [Schema.Check] before training: two
// hospitals whose columns or classes differ would otherwise train
// different models on silently mismatched inputs.
type Schema struct {
	Features    []string `json:"features"`
	Label       string   `json:"label"`
	Classes     []string `json:"classes"`
	PrivacyUnit string   `json:"privacy_unit,omitempty"`
	// Text is the free-text column ([Options.Text]), "" without one. With
	// it Features may be empty.
	Text string `json:"text,omitempty"`
	// MissingValues are the federation's declared missing-value codes per
	// feature ([Options.MissingValues]), honoured by [Schema.ReadRows] and
	// passed on by [Schema.LoadOptions].
	MissingValues map[string][]float64 `json:"missing_values,omitempty"`
}

// Schema returns d's schema.
func (d *Dataset) Schema() Schema {
	return Schema{
		Features:    slices.Clone(d.Features),
		Label:       d.Label,
		Classes:     slices.Clone(d.Classes),
		PrivacyUnit: d.PrivacyUnit,
		Text:        d.TextColumn,
	}
}

// Validate reports the first inconsistency in s itself.
func (s Schema) Validate() error {
	if len(s.Features) == 0 && s.Text == "" {
		return fmt.Errorf("schema: no features")
	}
	if s.Label == "" {
		return fmt.Errorf("schema: no label")
	}
	seen := make(map[string]bool, len(s.Features)+2)
	for i, f := range append(slices.Clip(s.Features), s.Label) {
		if f == "" || seen[f] {
			return fmt.Errorf("schema: column %d name %q is empty or repeated", i+1, quote(f))
		}
		seen[f] = true
	}
	if s.PrivacyUnit != "" && seen[s.PrivacyUnit] {
		return fmt.Errorf("schema: privacy unit %q is also a feature or the label", quote(s.PrivacyUnit))
	}
	if s.Text != "" && (seen[s.Text] || s.Text == s.PrivacyUnit) {
		return fmt.Errorf("schema: text column %q is also a feature, the label or the privacy unit", quote(s.Text))
	}
	if len(s.Classes) < 2 {
		return fmt.Errorf("schema: %d classes, need at least 2", len(s.Classes))
	}
	if err := checkMissingValues(s.MissingValues); err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	for c := range s.MissingValues {
		if !slices.Contains(s.Features, c) {
			return fmt.Errorf("schema: missing-value codes for %q, which is not a feature", quote(c))
		}
	}
	for i, c := range s.Classes {
		if isMissing(c) || slices.Index(s.Classes, c) != i {
			return fmt.Errorf("schema: class %d %q is a missing-value marker or repeated", i, quote(c))
		}
	}
	return nil
}

// Check returns a one-line error naming the first way d departs from s,
// or nil if d matches: same features in the same order, same label, same
// classes in the same order, same privacy-unit column. Load a hospital's
// data with [Schema.LoadOptions] so that classes it lacks keep their
// indices.
func (s Schema) Check(d *Dataset) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if err := d.Validate(); err != nil {
		return fmt.Errorf("schema check: %w", err)
	}
	if d.Label != s.Label {
		return fmt.Errorf("schema: label is %q, data set %q has %q", quote(s.Label), d.Name, quote(d.Label))
	}
	for i := range min(len(s.Features), len(d.Features)) {
		if s.Features[i] != d.Features[i] {
			return fmt.Errorf("schema: feature %d is %q, data set %q has %q", i+1, quote(s.Features[i]), d.Name, quote(d.Features[i]))
		}
	}
	if len(s.Features) != len(d.Features) {
		return fmt.Errorf("schema: %d features, data set %q has %d", len(s.Features), d.Name, len(d.Features))
	}
	if !slices.Equal(s.Classes, d.Classes) {
		return fmt.Errorf("schema: classes %s, data set %q has %s", listQuoted(s.Classes), d.Name, listQuoted(d.Classes))
	}
	if s.PrivacyUnit != d.PrivacyUnit {
		return fmt.Errorf("schema: privacy unit %q, data set %q has %q", quote(s.PrivacyUnit), d.Name, quote(d.PrivacyUnit))
	}
	if s.Text != d.TextColumn {
		return fmt.Errorf("schema: text column %q, data set %q has %q", quote(s.Text), d.Name, quote(d.TextColumn))
	}
	return nil
}

// LoadOptions returns o with the label, privacy unit, classes, features
// and missing-value codes of s, so that [Load] assigns class indices as s
// does even when a data set lacks some classes, reads its text column, and
// reads a feature the file lacks as missing in every row ([Report.Absent]).
// Drop and Missing are kept from o.
func (s Schema) LoadOptions(o Options) Options {
	o.Label, o.PrivacyUnit, o.Positive, o.Text = s.Label, s.PrivacyUnit, "", s.Text
	o.Classes = slices.Clone(s.Classes)
	o.Features = slices.Clone(s.Features)
	o.MissingValues = s.MissingValues
	return o
}

// ParseSchema decodes a JSON schema, rejecting unknown fields, trailing
// data and inconsistent schemas.
func ParseSchema(b []byte) (Schema, error) {
	var s Schema
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Schema{}, fmt.Errorf("schema: %w", err)
	}
	if dec.Decode(new(json.RawMessage)) != io.EOF {
		return Schema{}, fmt.Errorf("schema: trailing data after the JSON object")
	}
	if err := s.Validate(); err != nil {
		return Schema{}, err
	}
	return s, nil
}
