package model

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/floats"
)

// groupPath selects how GroupNorms computes one group's norm in one layer.
type groupPath uint8

const (
	groupAuto groupPath = iota // the cheaper of the two below
	groupGram                  // pairwise products of the rows
	groupSum                   // the group's summed gradient, formed explicitly
)

// groupMethod is the path GroupNorms takes; tests pin it to check both paths.
var groupMethod = groupAuto

// GroupNorms writes, for each group g, the L2 norm of the group's summed gradient
// dst[g] = ‖Σ_{i∈g} ∇ℓᵢ‖ into dst (len G), where group[i] ∈ [0, G) is the group of row i (for
// example the patient the row belongs to). Groups with no row get 0. Per layer
//
//	‖Σ_{i∈g} δᵢ(aᵢ,1)ᵀ‖² = Σ_{i,j∈g} (δᵢ·δⱼ)(aᵢ·aⱼ + 1),
//
// which costs |g|²(In+Out) per group; when the group is large enough that forming the group's
// gradient, |g|·In·Out, is cheaper, that is done instead. It panics if group has the wrong length
// or names a group outside [0, G).
func (ws *Workspace) GroupNorms(dst []float64, group []int) {
	ws.mustHaveBatch("GroupNorms")
	if len(group) != ws.rows {
		panic(fmt.Sprintf("model: %d group labels for %d rows", len(group), ws.rows))
	}
	clear(dst)
	ws.addGroupSqNorms(dst, group)
	for g, v := range dst {
		dst[g] = math.Sqrt(v)
	}
}

// sortByGroup orders rows by group (counting sort): the rows of group g are
// order[start[g]:start[g+1]]. It reuses *order and *start and panics if a label is outside
// [0, groups).
func sortByGroup(group []int, groups int, order, start *[]int) ([]int, []int) {
	if cap(*start) < groups+1 {
		*start = make([]int, groups+1)
	}
	if cap(*order) < len(group) {
		*order = make([]int, len(group))
	}
	st := (*start)[:groups+1]
	clear(st)
	for i, g := range group {
		if g < 0 || g >= groups {
			panic(fmt.Sprintf("model: row %d is in group %d, outside [0, %d)", i, g, groups))
		}
		st[g+1]++
	}
	for g := range groups {
		st[g+1] += st[g]
	}
	ord := (*order)[:len(group)]
	for i, g := range group {
		ord[st[g]] = i
		st[g]++
	}
	copy(st[1:], st[:groups]) // st[g] now ends group g; shift to start positions
	st[0] = 0
	return ord, st
}

// addGroupSqNorms adds each group's squared summed-gradient norm to dst (len G).
func (ws *Workspace) addGroupSqNorms(dst []float64, group []int) {
	order, start := sortByGroup(group, len(dst), &ws.order, &ws.start)
	for l, d := range ws.delta {
		a := ws.input(l)
		for g := range dst {
			members := order[start[g]:start[g+1]]
			if len(members) == 0 {
				continue
			}
			if ws.useGram(len(members), a.Cols, d.Cols) {
				dst[g] += gramNormSq(members, a, d)
			} else {
				dst[g] += ws.sumNormSq(members, a, d)
			}
		}
	}
}

// useGram reports whether the pairwise form is cheaper for a group of n rows in an in×out layer.
func (ws *Workspace) useGram(n, in, out int) bool {
	switch groupMethod {
	case groupGram:
		return true
	case groupSum:
		return false
	}
	return n*(n+1)/2*(in+out) <= (n+1)*in*out
}

// row returns row i of g.
func row(g blas64.General, i int) []float64 { return g.Data[i*g.Stride : i*g.Stride+g.Cols] }

// gramNormSq returns Σ_{i,j} (δᵢ·δⱼ)(aᵢ·aⱼ + 1) over the given rows.
func gramNormSq(members []int, a, d blas64.General) float64 {
	s := 0.0
	for p, i := range members {
		ai, di := row(a, i), row(d, i)
		s += floats.Dot(di, di) * (floats.Dot(ai, ai) + 1)
		for _, j := range members[:p] {
			s += 2 * floats.Dot(di, row(d, j)) * (floats.Dot(ai, row(a, j)) + 1)
		}
	}
	return s
}

// sumNormSq forms Σᵢ δᵢ(aᵢ,1)ᵀ over the given rows in scratch and returns its squared norm.
func (ws *Workspace) sumNormSq(members []int, a, d blas64.General) float64 {
	in, out := a.Cols, d.Cols
	gw := blas64.General{Rows: in, Cols: out, Stride: out, Data: ws.scratch[:in*out]}
	gb := ws.scratch[in*out : in*out+out]
	clear(gw.Data)
	clear(gb)
	for _, i := range members {
		ai, di := row(a, i), row(d, i)
		blas64.Ger(1, blas64.Vector{N: in, Inc: 1, Data: ai}, blas64.Vector{N: out, Inc: 1, Data: di}, gw)
		floats.Add(gb, di)
	}
	return floats.Dot(gw.Data, gw.Data) + floats.Dot(gb, gb)
}
