package model

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// Workspace holds what one batch pass keeps between [Model.Backward] and the queries
// [Workspace.Norms], [Workspace.GroupNorms] and [Workspace.Gradient]: each layer's input
// activations aᵢ and output errors δᵢ = ∂ℓᵢ/∂zᵢ, one row per example. Its buffers grow to the
// largest batch seen and are reused, so a training loop does not allocate per batch.
//
// The first layer's activations are the batch itself, which is referenced, not copied: the batch
// must not change until the queries are done. A Workspace is not safe for concurrent use; give
// each goroutine its own.
type Workspace struct {
	widths []int // layer widths, input to output
	offs   []int // offset of each layer's W in the parameter vector
	nparam int
	rows   int // rows in the last batch; 0 before the first
	cap    int // rows the buffers hold

	x      blas64.General   // the batch (layer 0 input)
	hidden []blas64.General // hidden[l] is the input of layer l+1
	delta  []blas64.General // delta[l] is ∂ℓ/∂z of layer l

	ones    []float64 // rows ones, for bias sums
	sqA     []float64 // per-row squared norms of a layer input
	scratch []float64 // scaled rows, or one group's gradient
	order   []int     // rows sorted by group
	start   []int     // group boundaries in order
}

// NewWorkspace returns an empty workspace for m's architecture.
func NewWorkspace(m *Model) *Workspace {
	ws := &Workspace{}
	ws.bind(m)
	return ws
}

// bind sizes ws for m's layers, keeping the buffers if the architecture is the same.
func (ws *Workspace) bind(m *Model) {
	if ws.fits(m) {
		return
	}
	*ws = Workspace{widths: m.cfg.widths(), nparam: len(m.params)}
	for _, ly := range m.layers {
		ws.offs = append(ws.offs, ly.off)
	}
	ws.hidden = make([]blas64.General, len(m.layers)-1)
	ws.delta = make([]blas64.General, len(m.layers))
}

// fits reports whether ws was sized for m's layer widths.
func (ws *Workspace) fits(m *Model) bool {
	if len(ws.widths) != len(m.layers)+1 || ws.widths[0] != m.cfg.Inputs {
		return false
	}
	for l, ly := range m.layers {
		if ws.widths[l+1] != ly.out {
			return false
		}
	}
	return true
}

// grow makes the buffers hold rows rows. Beyond their capacity they grow to a quarter more than
// asked: DP-SGD's Poisson batches vary in size, and growing to each new largest batch exactly
// reallocated every buffer several times in a run's first steps.
func (ws *Workspace) grow(rows int) {
	if rows <= ws.cap {
		for l := range ws.hidden {
			ws.hidden[l].Rows = rows
		}
		for l := range ws.delta {
			ws.delta[l].Rows = rows
		}
		return
	}
	ws.cap = rows + rows/4
	alloc := func(c int) blas64.General {
		return blas64.General{Rows: rows, Cols: c, Stride: c, Data: make([]float64, ws.cap*c)}
	}
	for l := range ws.hidden {
		ws.hidden[l] = alloc(ws.widths[l+1])
	}
	for l := range ws.delta {
		ws.delta[l] = alloc(ws.widths[l+1])
	}
	ws.ones = make([]float64, ws.cap)
	for i := range ws.ones {
		ws.ones[i] = 1
	}
	ws.sqA = make([]float64, ws.cap)
	ws.order = make([]int, ws.cap)
	widest := slices.Max(ws.widths)
	ws.scratch = make([]float64, max(ws.cap*widest, ws.maxLayerSize()+widest))
}

// maxLayerSize is the largest In×Out among the layers.
func (ws *Workspace) maxLayerSize() int {
	n := 0
	for l := 0; l+1 < len(ws.widths); l++ {
		n = max(n, ws.widths[l]*ws.widths[l+1])
	}
	return n
}

// Rows returns the number of examples in the last batch passed to [Model.Backward].
func (ws *Workspace) Rows() int { return ws.rows }

// input returns the input activations of layer l.
func (ws *Workspace) input(l int) blas64.General {
	if l == 0 {
		return ws.x
	}
	return ws.hidden[l-1]
}

// Backward runs the forward and backward passes on a batch and returns the sum of the per-example
// losses. x is rows × Inputs. y holds one target per row — 0 or 1 (or a probability) for a binary
// model, the class index as a float64 for softmax, the target for MSE (Outputs targets per row,
// row-major, when Outputs > 1). The workspace keeps each layer's activations and errors for
// [Workspace.Norms], [Workspace.GroupNorms] and [Workspace.Gradient]; no per-example gradient is
// formed. It panics if the shapes do not match or a class target is invalid.
func (m *Model) Backward(ws *Workspace, x *mat.Dense, y []float64) (lossSum float64) {
	xr := x.RawMatrix()
	m.checkInput(xr)
	m.checkTargets(y, xr.Rows)
	ws.bind(m)
	ws.grow(xr.Rows)
	ws.rows, ws.x = xr.Rows, xr

	last := len(m.layers) - 1
	z := ws.delta[last]
	m.forward(xr, ws.hidden, z)
	k := m.cfg.Outputs
	for i := range xr.Rows {
		row := z.Data[i*k : (i+1)*k]
		lossSum += m.lossRow(row, m.target(y, i), row, i)
	}
	for l := last; l > 0; l-- {
		mul(blas.NoTrans, blas.Trans, ws.delta[l], m.layers[l].w, 0, ws.delta[l-1])
		scaleByDerivative(m.act, ws.delta[l-1], ws.hidden[l-1])
	}
	return lossSum
}

// rowSq writes the squared L2 norm of each row of g into dst.
func rowSq(dst []float64, g blas64.General) {
	for i := range dst {
		r := g.Data[i*g.Stride : i*g.Stride+g.Cols]
		dst[i] = floats.Dot(r, r)
	}
}

// mustHaveBatch panics when no batch has been run.
func (ws *Workspace) mustHaveBatch(what string) {
	if ws.rows == 0 {
		panic("model: Workspace." + what + " before Backward")
	}
}

// Norms writes the L2 norm of each example's gradient, over all parameters, into dst (len rows).
// For a dense layer the example's gradient is δᵢ(aᵢ, 1)ᵀ, so
//
//	‖∇ℓᵢ‖² = Σ_layers ‖δᵢ‖² (‖aᵢ‖² + 1)
//
// at the cost of one pass over the activations.
func (ws *Workspace) Norms(dst []float64) {
	ws.mustHaveBatch("Norms")
	if len(dst) != ws.rows {
		panic(fmt.Sprintf("model: Norms destination has %d entries for %d rows", len(dst), ws.rows))
	}
	clear(dst)
	ws.addSqNorms(dst)
	for i, v := range dst {
		dst[i] = math.Sqrt(v)
	}
}

// addSqNorms adds each example's squared gradient norm, Σ_layers ‖δᵢ‖² (‖aᵢ‖² + 1), to dst.
func (ws *Workspace) addSqNorms(dst []float64) {
	sq := ws.sqA[:ws.rows]
	for l, d := range ws.delta {
		rowSq(sq, ws.input(l))
		for i := range dst {
			r := d.Data[i*d.Stride : i*d.Stride+d.Cols]
			dst[i] += floats.Dot(r, r) * (sq[i] + 1)
		}
	}
}

// Gradient writes dst = Σᵢ c[i]·∇ℓᵢ, laid out like [Model.Params]; c == nil means every weight is
// 1 (the plain summed gradient). Per layer this is one matrix product,
//
//	∂W = Aᵀ·diag(c)·Δ,  ∂b = Δᵀ·c,
//
// with A the layer's input activations and Δ its errors, one row per example.
func (ws *Workspace) Gradient(dst []float64, c []float64) {
	ws.mustHaveBatch("Gradient")
	if len(dst) != ws.nparam {
		panic(fmt.Sprintf("model: Gradient destination has %d entries, model has %d parameters", len(dst), ws.nparam))
	}
	if c != nil && len(c) != ws.rows {
		panic(fmt.Sprintf("model: %d gradient weights for %d rows", len(c), ws.rows))
	}
	weights := c
	if weights == nil {
		weights = ws.ones[:ws.rows]
	}
	for l, d := range ws.delta {
		a := ws.input(l)
		in, out := a.Cols, d.Cols
		gw := blas64.General{Rows: in, Cols: out, Stride: out, Data: dst[ws.offs[l] : ws.offs[l]+in*out]}
		gb := blas64.Vector{N: out, Inc: 1, Data: dst[ws.offs[l]+in*out : ws.offs[l]+in*out+out]}
		blas64.Gemv(blas.Trans, 1, d, blas64.Vector{N: ws.rows, Inc: 1, Data: weights}, 0, gb)
		if c != nil {
			// Scale the narrower of A and Δ row by row.
			if in <= out {
				a = scaleRows(ws.scratch, a, c)
			} else {
				d = scaleRows(ws.scratch, d, c)
			}
		}
		mul(blas.Trans, blas.NoTrans, a, d, 0, gw)
	}
}

// scaleRows writes diag(c)·g into buf and returns it as a matrix.
func scaleRows(buf []float64, g blas64.General, c []float64) blas64.General {
	s := blas64.General{Rows: g.Rows, Cols: g.Cols, Stride: g.Cols, Data: buf[:g.Rows*g.Cols]}
	for i, ci := range c {
		floats.ScaleTo(s.Data[i*s.Stride:i*s.Stride+s.Cols], ci, g.Data[i*g.Stride:i*g.Stride+g.Cols])
	}
	return s
}
