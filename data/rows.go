package data

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"gonum.org/v1/gonum/mat"
)

// Rows are rows to score with a model trained under a [Schema], read by
// [Schema.ReadRows].
type Rows struct {
	// X is rows × len(schema.Features), columns in the schema's order;
	// missing cells are NaN, for the model's [Transform] to impute.
	X *mat.Dense
	// Y is each row's class index under the schema, or -1 where the file
	// has no label column or the row's label is missing.
	Y []int
	// Labelled counts the rows whose Y is not -1.
	Labelled int
}

// ReadRows reads a CSV with a header to be scored by a model trained under
// s: every feature of s must be a column, in any order; the label column
// is optional (its values must be classes of s); other columns, such as an
// identifier or the privacy unit, are ignored. Cells are read as [Load]
// reads them and errors have the same one-line form, starting with source.
func (s Schema) ReadRows(r io.Reader, source string) (*Rows, error) {
	rows, err := s.readRows(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	return rows, nil
}

func (s Schema) readRows(r io.Reader) (*Rows, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	cr, header, index, err := readHeader(r)
	if err != nil {
		return nil, err
	}
	cols := make([]int, len(s.Features))
	for k, f := range s.Features {
		j, ok := index[f]
		if !ok {
			return nil, fmt.Errorf("line 1: no column %q, feature %d of the schema", quote(f), k+1)
		}
		cols[k] = j
	}
	codes, err := featureCodes(s.Features, s.MissingValues)
	if err != nil {
		return nil, err
	}
	labelCol, hasLabel := index[s.Label]
	var xs []float64
	out := &Rows{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		line, err := checkWidth(cr, rec, len(header))
		if err != nil {
			return nil, err
		}
		for k, j := range cols {
			v, _, err := parseFeature(rec[j], codes[k])
			if err != nil {
				return nil, fmt.Errorf("line %d, column %q: %w", line, quote(header[j]), err)
			}
			xs = append(xs, v)
		}
		y := -1
		if hasLabel {
			if l := strings.TrimSpace(rec[labelCol]); !isMissing(l) {
				if y = slices.Index(s.Classes, l); y < 0 {
					return nil, fmt.Errorf("line %d, column %q: not one of the classes %s", line, quote(s.Label), listQuoted(s.Classes))
				}
				out.Labelled++
			}
		}
		out.Y = append(out.Y, y)
	}
	if len(out.Y) == 0 {
		return nil, fmt.Errorf("no data rows after the header")
	}
	out.X = mat.NewDense(len(out.Y), len(cols), xs)
	return out, nil
}
