package dp

import (
	"errors"
	"fmt"
	"io"

	"github.com/fedcrypt/fedcrypt/model"
	"gonum.org/v1/gonum/mat"
)

// stepper is the model side of a DP-SGD step, for dense or sparse input: a batched backward
// pass that keeps what the per-example (per-unit) norms and the clipped sum need.
type stepper interface {
	rows() int
	params() []float64
	// backward runs the forward and backward passes on the given rows, returning the loss sum.
	backward(batch []int) float64
	norms(dst []float64)
	groupNorms(dst []float64, group []int)
	gradient(dst, c []float64)
}

// denseStepper is a model.Model on dense rows; a batch is copied out of x.
type denseStepper struct {
	m      *model.Model
	x      *mat.Dense
	y      []float64
	per    int // targets per row
	ws     *model.Workspace
	xb, yb []float64
}

func (l *denseStepper) rows() int         { r, _ := l.x.Dims(); return r }
func (l *denseStepper) params() []float64 { return l.m.Params() }

func (l *denseStepper) backward(batch []int) float64 {
	b, per := len(batch), l.per
	_, cols := l.x.Dims()
	l.xb = grow(l.xb, b*cols)
	l.yb = grow(l.yb, b*per)
	for k, i := range batch {
		copy(l.xb[k*cols:(k+1)*cols], l.x.RawRowView(i))
		copy(l.yb[k*per:(k+1)*per], l.y[i*per:(i+1)*per])
	}
	return l.m.Backward(l.ws, mat.NewDense(b, cols, l.xb), l.yb)
}

func (l *denseStepper) norms(dst []float64)                   { l.ws.Norms(dst) }
func (l *denseStepper) groupNorms(dst []float64, group []int) { l.ws.GroupNorms(dst, group) }
func (l *denseStepper) gradient(dst, c []float64)             { l.ws.Gradient(dst, c) }

// sparseStepper is a model.SparseModel on sparse rows; a batch's rows are gathered into a
// reused CSR.
type sparseStepper struct {
	m  *model.SparseModel
	x  *model.CSR
	y  []float64
	ws *model.SparseWorkspace
	xb model.CSR
	yb []float64
}

func (l *sparseStepper) rows() int         { return l.x.Rows }
func (l *sparseStepper) params() []float64 { return l.m.Params() }

func (l *sparseStepper) backward(batch []int) float64 {
	l.x.SelectRowsInto(&l.xb, batch)
	l.yb = grow(l.yb, len(batch))
	for k, i := range batch {
		l.yb[k] = l.y[i]
	}
	return l.m.Backward(l.ws, &l.xb, l.yb)
}

func (l *sparseStepper) norms(dst []float64)                   { l.ws.Norms(dst) }
func (l *sparseStepper) groupNorms(dst []float64, group []int) { l.ws.GroupNorms(dst, group) }
func (l *sparseStepper) gradient(dst, c []float64)             { l.ws.Gradient(dst, c) }

// TrainSparse runs DP-SGD on a sparse-input model (hashed n-grams, an embedding bag) in place,
// exactly as [Train] does on a dense one: Poisson sampling of rows (or units) at SampleRate, each
// example's (unit's) gradient clipped to ClipNorm using the exact norms of
// [model.SparseWorkspace.Norms] (no per-example gradient is formed), the clipped sum accumulated
// over the batch's non-zeros only, and Gaussian noise of standard deviation
// NoiseMultiplier·ClipNorm added to every coordinate of the model at every step, whether or not
// a token of the batch touches it: noising only the touched embedding rows would reveal which
// tokens the batch holds. The noise is drawn on the other cores while the gradients are computed.
// The guarantee is cfg.Event()'s, the same (q, σ, steps) as a dense model's.
func TrainSparse(m *model.SparseModel, x *model.CSR, y []float64, units []int, cfg SGDConfig, rng io.Reader) (Stats, error) {
	if err := cfg.Validate(); err != nil {
		return Stats{}, err
	}
	if x == nil {
		return Stats{}, errors.New("dp-sgd: no data")
	}
	if err := m.CheckData(x, y); err != nil {
		return Stats{}, fmt.Errorf("dp-sgd: %w", err)
	}
	return run(&sparseStepper{m: m, x: x, y: y, ws: model.NewSparseWorkspace(m)}, units, cfg, rng)
}
