package model

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// SparseWorkspace holds what one batch pass of a [SparseModel] keeps between
// [SparseModel.Backward] and the queries [SparseWorkspace.Norms], [SparseWorkspace.GroupNorms] and
// [SparseWorkspace.Gradient]: the batch (referenced, not copied: it must not change until the
// queries are done), the sparse layer's outputs hᵢ and errors δᵢ = ∂ℓᵢ/∂hᵢ, and for an embedding
// bag the head's [Workspace]. Its buffers grow to the largest batch seen and are reused. A
// SparseWorkspace is not safe for concurrent use.
type SparseWorkspace struct {
	cfg   SparseConfig
	x     *CSR
	rows  int
	h     []float64 // rows × width: sparse layer outputs
	delta []float64 // rows × width: ∂ℓ/∂h
	head  *Workspace
	order []int
	start []int
}

// NewSparseWorkspace returns an empty workspace for m's architecture.
func NewSparseWorkspace(m *SparseModel) *SparseWorkspace {
	ws := &SparseWorkspace{cfg: m.Config()}
	if m.head != nil {
		ws.head = NewWorkspace(m.head)
	}
	return ws
}

// Rows returns the number of examples in the last batch.
func (ws *SparseWorkspace) Rows() int { return ws.rows }

// Backward runs the forward and backward passes on a batch of sparse rows x with class targets y
// (one per row) and returns the sum of the per-example losses. No per-example gradient is formed:
// the workspace keeps δᵢ = ∂ℓᵢ/∂hᵢ at the sparse layer's output, from which the example's
// gradient of E is the outer product xᵢ δᵢᵀ (non-zero only on the rows xᵢ touches) and that of b
// is δᵢ. For an embedding bag the head's backward pass gives its errors Δ₀ at its first layer,
// and δᵢ = W₀·Δ₀ᵢ. It panics if the shapes do not match, or a target is invalid, or the
// workspace was made for another architecture.
func (m *SparseModel) Backward(ws *SparseWorkspace, x *CSR, y []float64) (lossSum float64) {
	m.checkInput(x)
	if len(y) != x.Rows {
		panic(fmt.Sprintf("model: %d targets for %d rows", len(y), x.Rows))
	}
	if ws.cfg.Kind != m.cfg.Kind || ws.cfg.Inputs != m.cfg.Inputs || ws.cfg.width() != m.cfg.width() || (ws.head == nil) != (m.head == nil) {
		panic("model: SparseWorkspace made for another architecture")
	}
	w := m.cfg.width()
	n := x.Rows
	ws.x, ws.rows = x, n
	ws.h = growFloats(ws.h, n*w)
	ws.delta = growFloats(ws.delta, n*w)
	m.embed(ws.h, x, 0, n)
	if m.head == nil {
		for i := range n {
			z := ws.h[i*w : (i+1)*w]
			lossSum += rowLoss(m.link, z, y[i:i+1], ws.delta[i*w:(i+1)*w], i)
		}
		return lossSum
	}
	lossSum = m.head.Backward(ws.head, mat.NewDense(n, w, ws.h), y)
	// δ = Δ₀·W₀ᵀ: the head's first-layer errors taken back through its weights.
	l0 := m.head.layers[0]
	d0 := ws.head.delta[0]
	mul(blas.NoTrans, blas.Trans, d0, l0.w, 0, blas64.General{Rows: n, Cols: w, Stride: w, Data: ws.delta})
	return lossSum
}

// growFloats returns s resized to n, reallocating when its capacity is short.
func growFloats(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}

// mustHaveBatch panics when no batch has been run.
func (ws *SparseWorkspace) mustHaveBatch(what string) {
	if ws.rows == 0 {
		panic("model: SparseWorkspace." + what + " before Backward")
	}
}

// Norms writes the L2 norm of each example's gradient, over all parameters, into dst (len rows).
// Row i of the batch touches the embedding rows j with xᵢⱼ ≠ 0, each once after repeated tokens
// and hash collisions are merged, and its gradient there is xᵢⱼ·δᵢ; with the bias (sparse-linear),
//
//	‖∇ℓᵢ‖² = ‖δᵢ‖² (Σⱼ xᵢⱼ² + 1)  + Σ_head layers ‖δᵢ⁽ˡ⁾‖² (‖aᵢ⁽ˡ⁾‖² + 1)
//
// (Goodfellow 2015, arXiv:1510.01799; for embedding layers, where a token repeated in a document
// adds to one row, Li, Tramèr, Liang & Hashimoto 2022, "Large Language Models Can Be Strong
// Differentially Private Learners", ICLR). The cost is one pass over the batch's non-zeros and
// the head's activations: no per-example gradient is formed.
func (ws *SparseWorkspace) Norms(dst []float64) {
	ws.mustHaveBatch("Norms")
	if len(dst) != ws.rows {
		panic(fmt.Sprintf("model: Norms destination has %d entries for %d rows", len(dst), ws.rows))
	}
	w := ws.cfg.width()
	bias := 0.0
	if ws.cfg.hasBias() {
		bias = 1
	}
	for i := range dst {
		d := ws.delta[i*w : (i+1)*w]
		dst[i] = floats.Dot(d, d) * (ws.x.rowSqNorm(i) + bias)
	}
	if ws.head != nil {
		ws.head.addSqNorms(dst)
	}
	for i, v := range dst {
		dst[i] = math.Sqrt(v)
	}
}

// GroupNorms writes, for each group g, the L2 norm of the group's summed gradient
// ‖Σ_{i∈g} ∇ℓᵢ‖ into dst (len G), where group[i] ∈ [0, G) is row i's group (the patient). For
// the sparse layer
//
//	‖Σ_{i∈g} xᵢδᵢᵀ (and δᵢ)‖² = Σ_{i,k∈g} (δᵢ·δₖ)(xᵢ·xₖ + 1)
//
// with xᵢ·xₖ a merge of two sorted rows; the head adds its own part ([Workspace.GroupNorms]).
// Groups with no row get 0. It panics if group has the wrong length or names a group outside
// [0, G).
func (ws *SparseWorkspace) GroupNorms(dst []float64, group []int) {
	ws.mustHaveBatch("GroupNorms")
	if len(group) != ws.rows {
		panic(fmt.Sprintf("model: %d group labels for %d rows", len(group), ws.rows))
	}
	order, start := sortByGroup(group, len(dst), &ws.order, &ws.start)
	w := ws.cfg.width()
	bias := 0.0
	if ws.cfg.hasBias() {
		bias = 1
	}
	for g := range dst {
		s := 0.0
		members := order[start[g]:start[g+1]]
		for p, i := range members {
			di := ws.delta[i*w : (i+1)*w]
			ii, iv := ws.x.Row(i)
			s += floats.Dot(di, di) * (ws.x.rowSqNorm(i) + bias)
			for _, k := range members[:p] {
				ki, kv := ws.x.Row(k)
				s += 2 * floats.Dot(di, ws.delta[k*w:(k+1)*w]) * (sparseDot(ii, iv, ki, kv) + bias)
			}
		}
		dst[g] = s
	}
	if ws.head != nil {
		ws.head.addGroupSqNorms(dst, group)
	}
	for g, v := range dst {
		dst[g] = math.Sqrt(v)
	}
}

// Gradient writes dst = Σᵢ c[i]·∇ℓᵢ, laid out like [SparseModel.Params]; c == nil means every
// weight is 1. The sparse layer's part is scattered row by row over the batch's non-zeros,
//
//	∂E_j = Σᵢ cᵢ xᵢⱼ δᵢ,  ∂b = Σᵢ cᵢ δᵢ,
//
// and every embedding row no example touches is zero; the head's part is [Workspace.Gradient].
func (ws *SparseWorkspace) Gradient(dst []float64, c []float64) {
	ws.mustHaveBatch("Gradient")
	if n := ws.cfg.numParams(); len(dst) != n {
		panic(fmt.Sprintf("model: Gradient destination has %d entries, model has %d parameters", len(dst), n))
	}
	if c != nil && len(c) != ws.rows {
		panic(fmt.Sprintf("model: %d gradient weights for %d rows", len(c), ws.rows))
	}
	w := ws.cfg.width()
	emb := ws.cfg.Inputs * w
	clear(dst[:emb])
	ws.scatter(dst[:emb], c)
	off := emb
	if ws.cfg.hasBias() {
		b := dst[emb : emb+w]
		clear(b)
		for i := range ws.rows {
			floats.AddScaled(b, weight(c, i), ws.delta[i*w:(i+1)*w])
		}
		off += w
	}
	if ws.head != nil {
		ws.head.Gradient(dst[off:], c)
	}
}

// scatter adds Σᵢ cᵢ xᵢⱼ δᵢ to row j of the embedding gradient g for every stored entry.
func (ws *SparseWorkspace) scatter(g []float64, c []float64) {
	w := ws.cfg.width()
	for i := range ws.rows {
		ci := weight(c, i)
		if ci == 0 {
			continue
		}
		d := ws.delta[i*w : (i+1)*w]
		idx, val := ws.x.Row(i)
		for k, j := range idx {
			floats.AddScaled(g[j*w:(j+1)*w], ci*val[k], d)
		}
	}
}

// weight returns c[i], or 1 when c is nil.
func weight(c []float64, i int) float64 {
	if c == nil {
		return 1
	}
	return c[i]
}
