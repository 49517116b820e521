package data

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

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
	// Docs holds each row's text, for a schema with a text column; a
	// missing cell is "".
	Docs []string
	// Missing counts the missing cells of each feature that has any.
	Missing map[string]int
	// Ignored names the file's columns the schema does not read, in order.
	Ignored []string
}

// maxRows is the most rows [Schema.ReadRows] reads from one file.
const maxRows = 1 << 24

// ReadRows reads a CSV with a header to be scored by a model trained under
// s: every feature of s must be a column, in any order; the label column
// is optional (its values must be classes of s); the text column, if s has
// one, is required and must be UTF-8; other columns, such as an identifier
// or the privacy unit, are ignored. X is nil when s has no numeric feature.
// Cells are read as [Load] reads them and errors have the same one-line
// form, starting with source; they never quote a cell.
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
			return nil, fmt.Errorf("line 1: no column %q, feature %d of the schema%s", quote(f), k+1, ColumnHint(f, header))
		}
		cols[k] = j
	}
	textCol := -1
	if s.Text != "" {
		j, ok := index[s.Text]
		if !ok {
			return nil, fmt.Errorf("line 1: no column %q, the schema's text column%s", quote(s.Text), ColumnHint(s.Text, header))
		}
		textCol = j
	}
	codes, err := featureCodes(s.Features, s.MissingValues)
	if err != nil {
		return nil, err
	}
	labelCol, hasLabel := index[s.Label]
	var xs []float64
	out := &Rows{Missing: map[string]int{}}
	for _, h := range header {
		if h != s.Label && h != s.Text && !slices.Contains(s.Features, h) {
			out.Ignored = append(out.Ignored, h)
		}
	}
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
		if len(out.Y) == maxRows {
			return nil, fmt.Errorf("line %d: more than %d rows", line, maxRows)
		}
		for k, j := range cols {
			v, _, err := parseFeature(rec[j], codes[k])
			if err != nil {
				return nil, fmt.Errorf("line %d, column %q: %w", line, quote(header[j]), err)
			}
			if math.IsNaN(v) {
				out.Missing[s.Features[k]]++
			}
			xs = append(xs, v)
		}
		if textCol >= 0 {
			doc := rec[textCol]
			if !utf8.ValidString(doc) {
				return nil, fmt.Errorf("line %d, column %q: not valid UTF-8 text", line, quote(s.Text))
			}
			if isMissing(strings.TrimSpace(doc)) {
				doc = ""
			}
			out.Docs = append(out.Docs, doc)
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
	if len(cols) > 0 {
		out.X = mat.NewDense(len(out.Y), len(cols), xs)
	}
	return out, nil
}
