package data

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"
)

// WriteCSV writes d as a CSV that [Load] reads back into the same Dataset:
// a header of the features, the text column (if any; an empty document
// reads back as one), the privacy unit (if any) and the label, then
// one line per row. Numbers are written in the shortest form that parses
// back exactly; missing cells are written as "NA". Load it with
// [Dataset.Options] to get the same classes in the same order.
func (d *Dataset) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	rec := make([]string, 0, len(d.Features)+3)
	rec = append(rec, d.Features...)
	if d.TextColumn != "" {
		rec = append(rec, d.TextColumn)
	}
	if d.Units != nil {
		rec = append(rec, d.PrivacyUnit)
	}
	rec = append(rec, d.Label)
	if err := cw.Write(rec); err != nil {
		return fmt.Errorf("write data set %q: %w", d.Name, err)
	}
	for i := range d.Rows() {
		rec = rec[:0]
		for j := range d.Features {
			if v := d.X.At(i, j); math.IsNaN(v) {
				rec = append(rec, "NA")
			} else {
				rec = append(rec, strconv.FormatFloat(v, 'g', -1, 64))
			}
		}
		if d.TextColumn != "" {
			rec = append(rec, d.Text[i])
		}
		if d.Units != nil {
			rec = append(rec, d.UnitIDs[d.Units[i]])
		}
		rec = append(rec, d.Classes[int(d.Y[i])])
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("write data set %q: %w", d.Name, err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write data set %q: %w", d.Name, err)
	}
	return nil
}

// Options returns the Options that load what [Dataset.WriteCSV] writes
// back into d: its label, privacy unit, classes in order and missing-value
// policy.
func (d *Dataset) Options() Options {
	return Options{Label: d.Label, PrivacyUnit: d.PrivacyUnit, Classes: append([]string(nil), d.Classes...), Missing: d.Missing, Text: d.TextColumn}
}
