package data

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"gonum.org/v1/gonum/mat"
)

// Concat returns the rows of parts, in order, as one data set named name.
// The parts must share their features, classes, label, privacy-unit column,
// text column and missing-value policy (data sets loaded under one
// schema). Privacy units are kept apart per part: the same identifier in
// two parts names two patients, as at two hospitals.
func Concat(name string, parts ...*Dataset) (*Dataset, error) {
	if len(parts) == 0 {
		return nil, errors.New("data: concat of no data sets")
	}
	first := parts[0]
	out := &Dataset{Name: name, Features: slices.Clone(first.Features), Classes: slices.Clone(first.Classes), Label: first.Label,
		PrivacyUnit: first.PrivacyUnit, TextColumn: first.TextColumn, Missing: first.Missing}
	rows := 0
	for i, p := range parts {
		switch {
		case !slices.Equal(p.Features, first.Features):
			return nil, fmt.Errorf("data: concat: %q has features %v, %q has %v", p.Name, p.Features, first.Name, first.Features)
		case !slices.Equal(p.Classes, first.Classes):
			return nil, fmt.Errorf("data: concat: %q has classes %v, %q has %v", p.Name, p.Classes, first.Name, first.Classes)
		case p.Label != first.Label || p.PrivacyUnit != first.PrivacyUnit || p.TextColumn != first.TextColumn || p.Missing != first.Missing:
			return nil, fmt.Errorf("data: concat: data set %d (%q) was loaded with other options than %q", i+1, p.Name, first.Name)
		}
		rows += p.Rows()
	}
	if len(out.Features) > 0 {
		out.X = mat.NewDense(rows, len(out.Features), nil)
	}
	if first.TextColumn != "" {
		out.Text = make([]string, 0, rows)
	}
	if first.PrivacyUnit != "" {
		out.Units = make([]int, 0, rows)
	}
	r := 0
	for i, p := range parts {
		base := len(out.UnitIDs)
		for k := range p.Rows() {
			if out.X != nil {
				out.X.SetRow(r, p.X.RawRowView(k))
			}
			r++
		}
		out.Y = append(out.Y, p.Y...)
		out.Text = append(out.Text, p.Text...)
		if out.Units != nil {
			for _, u := range p.Units {
				out.Units = append(out.Units, base+u)
			}
			for _, id := range p.UnitIDs {
				out.UnitIDs = append(out.UnitIDs, fmt.Sprintf("%d/%s", i+1, id))
			}
		}
	}
	if err := out.Validate(); err != nil {
		return nil, fmt.Errorf("data: concat: %w", err)
	}
	return out, nil
}

// MaxSites bounds the distinct values of a site column ([SplitByColumn]).
const MaxSites = 1000

// SplitByColumn reads a CSV file (named source in errors) and returns one
// CSV per distinct value of column, in order of first appearance, each with
// the header and that value's rows, the column itself removed: one file
// per hospital, as each would hold its own. A missing value in the column,
// a column the header lacks, or more than MaxSites values is an error
// naming it.
func SplitByColumn(r io.Reader, source, column string) (sites []string, files [][]byte, err error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: header: %w", source, err)
	}
	header = slices.Clone(header)
	col := slices.Index(header, column)
	if col < 0 {
		return nil, nil, fmt.Errorf("%s: no column %q to split by (columns: %s)", source, column, strings.Join(header, ", "))
	}
	without := func(rec []string) []string { return slices.Delete(slices.Clone(rec), col, col+1) }
	index := map[string]int{}
	var bufs []*bytes.Buffer
	var writers []*csv.Writer
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", source, err)
		}
		v := strings.TrimSpace(rec[col])
		if isMissing(v) {
			return nil, nil, fmt.Errorf("%s: line %d: no value in site column %q", source, line, column)
		}
		k, ok := index[v]
		if !ok {
			if len(sites) == MaxSites {
				return nil, nil, fmt.Errorf("%s: column %q has more than %d distinct values: not a site column", source, column, MaxSites)
			}
			k = len(sites)
			index[v] = k
			sites = append(sites, v)
			bufs = append(bufs, &bytes.Buffer{})
			writers = append(writers, csv.NewWriter(bufs[k]))
			if err := writers[k].Write(without(header)); err != nil {
				return nil, nil, err
			}
		}
		if err := writers[k].Write(without(rec)); err != nil {
			return nil, nil, err
		}
	}
	if len(sites) == 0 {
		return nil, nil, fmt.Errorf("%s: no rows", source)
	}
	for k, w := range writers {
		w.Flush()
		if err := w.Error(); err != nil {
			return nil, nil, err
		}
		files = append(files, bufs[k].Bytes())
	}
	return sites, files, nil
}

// SiteOptions returns opt with the features and classes fixed for reading
// sites' CSV files as one federation's: every feature column any site has,
// in order of first appearance (a site that lacks one reads it as missing
// in every row, [Report.Absent]), and every class any site has, ordered as
// [Load] orders them, so that a site holding only some classes still
// indexes them alike. Features or classes opt already fixes are kept.
func SiteOptions(opt Options, names []string, files [][]byte) (Options, error) {
	if err := opt.Validate(); err != nil {
		return opt, err
	}
	skip := map[string]bool{opt.Label: true}
	for _, c := range append([]string{opt.PrivacyUnit, opt.Text}, opt.Drop...) {
		if c != "" {
			skip[c] = true
		}
	}
	var features, labels []string
	for i, f := range files {
		cr := csv.NewReader(bytes.NewReader(f))
		header, err := cr.Read()
		if err != nil {
			return opt, fmt.Errorf("%s: header: %w", names[i], err)
		}
		col := -1
		for j, h := range header {
			h = strings.TrimSpace(h)
			switch {
			case h == opt.Label:
				col = j
			case !skip[h] && !slices.Contains(features, h):
				features = append(features, h)
			}
		}
		if col < 0 {
			return opt, fmt.Errorf("%s: no label column %q (columns: %s)", names[i], opt.Label, strings.Join(header, ", "))
		}
		for {
			rec, err := cr.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				return opt, fmt.Errorf("%s: %w", names[i], err)
			}
			if v := strings.TrimSpace(rec[col]); !isMissing(v) {
				labels = append(labels, v)
			}
		}
	}
	if len(labels) == 0 {
		return opt, errors.New("sites: no labelled row")
	}
	if opt.Features == nil && opt.Text == "" {
		opt.Features = features
	}
	if opt.Classes == nil {
		classes, err := chooseClasses(labels, opt)
		if err != nil {
			return opt, fmt.Errorf("sites: %w", err)
		}
		opt.Classes = classes
	}
	return opt, nil
}
