package data

import (
	"fmt"
	"math"
	"strings"
)

// minIdentifierRows is the fewest rows at which a column of distinct
// integers is taken for an identifier: in fewer rows a measurement (an
// age, a count) is often distinct by chance.
const minIdentifierRows = 20

// identifierColumns returns the features that look like identifiers: over
// at least minIdentifierRows rows, every value present, an integer, and
// distinct. Such a column is usually a record or patient number that was
// not dropped.
func identifierColumns(d *Dataset) []string {
	if d.X == nil {
		return nil
	}
	r, c := d.X.Dims()
	if r < minIdentifierRows {
		return nil
	}
	var out []string
	seen := make(map[float64]struct{}, r)
	for j := range c {
		clear(seen)
		ok := true
		for i := range r {
			v := d.X.At(i, j)
			if _, dup := seen[v]; dup || v != math.Trunc(v) { // NaN too
				ok = false
				break
			}
			seen[v] = struct{}{}
		}
		if ok {
			out = append(out, d.Features[j])
		}
	}
	return out
}

// maxListedColumns bounds how many of a header's names an error lists.
const maxListedColumns = 30

// ColumnHint returns what an error about a column name that is not in
// header adds: the nearest name in the header, if one is near (the same
// but for case, else within a few edits), and the header's names. It
// starts with a space, to follow the error's own words:
//
//	line 1: no label column "class" in the header (did you mean "Class"? columns: "Id", "Age", "Class")
func ColumnHint(name string, header []string) string {
	var b strings.Builder
	b.WriteString(" (")
	if near, ok := nearestColumn(name, header); ok {
		fmt.Fprintf(&b, "did you mean %q? ", quote(near))
	}
	b.WriteString("columns: ")
	writeQuoted(&b, header, maxListedColumns, ", ")
	b.WriteByte(')')
	return b.String()
}

// nearestColumn returns the column of header nearest to name: one equal
// to it but for case, else the one fewest edits away (Levenshtein
// distance, ignoring case) if that is at most a third of name's length,
// and at least 2.
func nearestColumn(name string, header []string) (string, bool) {
	for _, h := range header {
		if strings.EqualFold(h, name) {
			return h, true
		}
	}
	lower := []rune(strings.ToLower(name))
	best, bestDist := "", math.MaxInt
	for _, h := range header {
		if d := editDistance(lower, []rune(strings.ToLower(h))); d < bestDist {
			best, bestDist = h, d
		}
	}
	return best, best != "" && bestDist <= max(2, len(lower)/3)
}

// editDistance is the Levenshtein distance between a and b: the fewest
// insertions, deletions and substitutions that turn one into the other.
func editDistance(a, b []rune) int {
	prev, cur := make([]int, len(b)+1), make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := range a {
		cur[0] = i + 1
		for j := range b {
			cost := 1
			if a[i] == b[j] {
				cost = 0
			}
			cur[j+1] = min(prev[j+1]+1, cur[j]+1, prev[j]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// MissingMarkers returns the cells every column reads as missing, in any
// case and after trimming spaces, besides a column's declared codes
// ([Options.MissingValues]).
func MissingMarkers() []string { return []string{"", "?", "NA", "N/A", "NaN", "null"} }
