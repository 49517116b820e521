package model

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"
)

// CSR is a sparse matrix in compressed sparse row form, the input of a [SparseModel]: row i
// holds the columns Idx[Ptr[i]:Ptr[i+1]], strictly increasing, with the values
// Val[Ptr[i]:Ptr[i+1]]. A column appears at most once in a row: repeated tokens and tokens that
// hash to the same bucket are merged into one entry by [CSR.AppendRow], which sums their values.
// That invariant is what makes the per-example norms exact: ‖xᵢ‖² is the sum of the squares of
// the row's stored values.
//
// The zero value is an empty matrix with no rows; set Cols before appending. A CSR is not safe
// for concurrent mutation; concurrent reads are fine.
type CSR struct {
	Rows, Cols int
	Ptr        []int // Rows+1 offsets into Idx and Val; Ptr[0] = 0
	Idx        []int
	Val        []float64
}

// Dims returns the number of rows and columns, as [mat.Matrix.Dims] does.
func (m *CSR) Dims() (rows, cols int) { return m.Rows, m.Cols }

// NewCSR returns an empty matrix of cols columns, ready for [CSR.AppendRow].
func NewCSR(cols int) *CSR { return &CSR{Cols: cols, Ptr: []int{0}} }

// AppendRow appends a row with the entries (idx[k], val[k]), in any order and with repeats:
// entries of the same column are merged by summing their values. It returns an error naming
// the entry if a column is outside [0, Cols) or a value is not finite; the matrix is then
// unchanged. idx and val are reordered in place.
func (m *CSR) AppendRow(idx []int, val []float64) error {
	if len(idx) != len(val) {
		panic(fmt.Sprintf("model: CSR row with %d indices and %d values", len(idx), len(val)))
	}
	if len(m.Ptr) == 0 {
		m.Ptr = append(m.Ptr, 0)
	}
	for k, j := range idx {
		if j < 0 || j >= m.Cols {
			return fmt.Errorf("model: sparse row %d: entry %d has column %d outside [0, %d)", m.Rows, k, j, m.Cols)
		}
		if math.IsNaN(val[k]) || math.IsInf(val[k], 0) {
			return fmt.Errorf("model: sparse row %d: entry %d is not finite", m.Rows, k)
		}
	}
	if !slices.IsSorted(idx) {
		sortPairs(idx, val)
	}
	for k, j := range idx {
		if n := len(m.Idx); n > m.Ptr[m.Rows] && m.Idx[n-1] == j {
			m.Val[n-1] += val[k]
			continue
		}
		m.Idx = append(m.Idx, j)
		m.Val = append(m.Val, val[k])
	}
	m.Ptr = append(m.Ptr, len(m.Idx))
	m.Rows++
	return nil
}

// sortPairs sorts idx ascending, carrying val along.
func sortPairs(idx []int, val []float64) {
	type pair struct {
		j int
		v float64
	}
	ps := make([]pair, len(idx))
	for k := range idx {
		ps[k] = pair{idx[k], val[k]}
	}
	slices.SortFunc(ps, func(a, b pair) int { return a.j - b.j })
	for k, p := range ps {
		idx[k], val[k] = p.j, p.v
	}
}

// Row returns the columns and values of row i, as views.
func (m *CSR) Row(i int) ([]int, []float64) {
	s, e := m.Ptr[i], m.Ptr[i+1]
	return m.Idx[s:e:e], m.Val[s:e:e]
}

// NNZ returns the number of stored entries.
func (m *CSR) NNZ() int { return len(m.Idx) }

// Validate reports the first broken invariant: the shape of Ptr, columns strictly increasing
// within a row and inside [0, Cols), values finite.
func (m *CSR) Validate() error {
	switch {
	case m == nil:
		return fmt.Errorf("model: sparse matrix is nil")
	case m.Rows < 0 || m.Cols < 1 || m.Cols > MaxWidth:
		return fmt.Errorf("model: sparse matrix is %d×%d", m.Rows, m.Cols)
	case len(m.Ptr) != m.Rows+1 || m.Ptr[0] != 0:
		return fmt.Errorf("model: sparse matrix of %d rows has %d row offsets", m.Rows, len(m.Ptr))
	case len(m.Idx) != len(m.Val) || m.Ptr[m.Rows] != len(m.Idx):
		return fmt.Errorf("model: sparse matrix has %d columns, %d values, last offset %d", len(m.Idx), len(m.Val), m.Ptr[m.Rows])
	}
	for i := range m.Rows {
		if m.Ptr[i+1] < m.Ptr[i] {
			return fmt.Errorf("model: sparse row %d: offsets decrease", i)
		}
		idx, val := m.Row(i)
		for k, j := range idx {
			if j < 0 || j >= m.Cols || k > 0 && j <= idx[k-1] {
				return fmt.Errorf("model: sparse row %d: entry %d: column %d out of range or out of order", i, k, j)
			}
			if math.IsNaN(val[k]) || math.IsInf(val[k], 0) {
				return fmt.Errorf("model: sparse row %d: entry %d is not finite", i, k)
			}
		}
	}
	return nil
}

// SelectRows returns a new matrix of the given rows of m, in that order (rows may repeat).
func (m *CSR) SelectRows(rows []int) *CSR {
	out := &CSR{}
	m.SelectRowsInto(out, rows)
	return out
}

// SelectRowsInto is [CSR.SelectRows] writing into dst, whose buffers are reused: a training loop
// that draws batches this way does not allocate once they have grown.
func (m *CSR) SelectRowsInto(dst *CSR, rows []int) {
	dst.Rows, dst.Cols = len(rows), m.Cols
	dst.Ptr = append(dst.Ptr[:0], 0)
	dst.Idx, dst.Val = dst.Idx[:0], dst.Val[:0]
	for _, i := range rows {
		idx, val := m.Row(i)
		dst.Idx = append(dst.Idx, idx...)
		dst.Val = append(dst.Val, val...)
		dst.Ptr = append(dst.Ptr, len(dst.Idx))
	}
}

// rowSqNorm returns ‖xᵢ‖², the sum of the squares of row i's (merged) values.
func (m *CSR) rowSqNorm(i int) float64 {
	_, val := m.Row(i)
	s := 0.0
	for _, v := range val {
		s += v * v
	}
	return s
}

// sparseDot returns xᵢ·yⱼ for rows of two matrices with sorted, merged columns.
func sparseDot(ai []int, av []float64, bi []int, bv []float64) float64 {
	s := 0.0
	p, q := 0, 0
	for p < len(ai) && q < len(bi) {
		switch {
		case ai[p] < bi[q]:
			p++
		case ai[p] > bi[q]:
			q++
		default:
			s += av[p] * bv[q]
			p++
			q++
		}
	}
	return s
}

// AppendColumns returns a new matrix with the columns of x followed by those of the dense d
// (same number of rows): a row's sparse entries, then its dense values as entries Cols+j, zeros
// left out. It is how numeric features join hashed text features in one input. It panics if the
// row counts differ.
func AppendColumns(x *CSR, d *mat.Dense) *CSR {
	r, c := d.Dims()
	if r != x.Rows {
		panic(fmt.Sprintf("model: AppendColumns of %d sparse and %d dense rows", x.Rows, r))
	}
	out := &CSR{Rows: x.Rows, Cols: x.Cols + c, Ptr: make([]int, 1, x.Rows+1)}
	for i := range x.Rows {
		idx, val := x.Row(i)
		out.Idx = append(out.Idx, idx...)
		out.Val = append(out.Val, val...)
		for j, v := range d.RawRowView(i) {
			if v != 0 {
				out.Idx = append(out.Idx, x.Cols+j)
				out.Val = append(out.Val, v)
			}
		}
		out.Ptr = append(out.Ptr, len(out.Idx))
	}
	return out
}
