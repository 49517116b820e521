package model

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"
)

// act is a hidden-layer activation.
type act uint8

const (
	actReLU act = iota
	actSigmoid
	actTanh
)

// head is the output layer's link and loss.
type head uint8

const (
	headSigmoidBCE head = iota // one logit, BCE
	headSoftmaxCE              // K logits, softmax cross-entropy
	headMSE                    // K raw outputs, mean squared error
)

// layer is one dense layer z = a·W + b. W is In×Out, row-major, and b has Out entries; both are
// views onto the model's flat parameter vector, W first, at offset off.
type layer struct {
	in, out int
	off     int
	w       blas64.General
	b       []float64
}

// Model is a feed-forward network whose parameters live in one contiguous []float64, laid out
// layer by layer as W (In×Out, row-major) then b (Out); see the package documentation.
//
// A Model is not safe for concurrent mutation. [Model.Predict], [Model.Loss] and [Evaluate] are safe
// for concurrent use as long as nobody changes the parameters meanwhile.
type Model struct {
	cfg    Config
	act    act
	head   head
	params []float64
	layers []layer
}

// New builds a model for cfg with weights drawn from rng: He normal, N(0, 2/fan_in), for layers
// feeding ReLU; Glorot normal, N(0, 2/(fan_in+fan_out)), for layers feeding sigmoid or tanh and for
// the output layer. Biases start at zero.
func New(cfg Config, rng *rand.Rand) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if rng == nil {
		return nil, errors.New("model: nil random source for initialization")
	}
	m := build(cfg, make([]float64, cfg.numParams()))
	for l, ly := range m.layers {
		std := math.Sqrt(2 / float64(ly.in+ly.out))
		if l < len(m.layers)-1 && m.act == actReLU {
			std = math.Sqrt(2 / float64(ly.in))
		}
		for i := range ly.in * ly.out {
			m.params[ly.off+i] = std * rng.NormFloat64()
		}
	}
	return m, nil
}

// build wires a model around params (len cfg.numParams()); cfg must be valid.
func build(cfg Config, params []float64) *Model {
	cfg.Hidden = slices.Clone(cfg.Hidden)
	m := &Model{cfg: cfg, params: params}
	switch cfg.activation() {
	case ActSigmoid:
		m.act = actSigmoid
	case ActTanh:
		m.act = actTanh
	}
	switch cfg.Loss {
	case LossSoftmaxCE:
		m.head = headSoftmaxCE
	case LossMSE:
		m.head = headMSE
	}
	w := cfg.widths()
	off := 0
	for l := 0; l+1 < len(w); l++ {
		in, out := w[l], w[l+1]
		m.layers = append(m.layers, layer{
			in: in, out: out, off: off,
			w: blas64.General{Rows: in, Cols: out, Stride: out, Data: params[off : off+in*out]},
			b: params[off+in*out : off+in*out+out],
		})
		off += (in + 1) * out
	}
	return m
}

// Config returns the model's architecture.
func (m *Model) Config() Config {
	c := m.cfg
	c.Hidden = slices.Clone(c.Hidden)
	return c
}

// NumParams returns the number of parameters (weights and biases).
func (m *Model) NumParams() int { return len(m.params) }

// Params returns the live parameter vector: writing to it changes the model.
func (m *Model) Params() []float64 { return m.params }

// Clone returns an independent copy of m.
func (m *Model) Clone() *Model { return build(m.cfg, slices.Clone(m.params)) }

// rawOf returns x as a BLAS matrix without copying when it is a *mat.Dense.
func rawOf(x mat.Matrix) blas64.General {
	if d, ok := x.(*mat.Dense); ok {
		return d.RawMatrix()
	}
	return mat.DenseCopyOf(x).RawMatrix()
}

// forward computes the logits of x into z (rows × Outputs), using hidden[l] (rows × width of
// hidden layer l) for the hidden activations.
func (m *Model) forward(x blas64.General, hidden []blas64.General, z blas64.General) {
	a := x
	for l, ly := range m.layers {
		dst := z
		if l < len(m.layers)-1 {
			dst = hidden[l]
		}
		for i := range dst.Rows {
			copy(dst.Data[i*dst.Stride:i*dst.Stride+ly.out], ly.b)
		}
		mul(blas.NoTrans, blas.NoTrans, a, ly.w, 1, dst)
		if l < len(m.layers)-1 {
			activate(m.act, dst)
		}
		a = dst
	}
}

// activate applies f elementwise to g in place.
func activate(f act, g blas64.General) {
	for i := range g.Rows {
		row := g.Data[i*g.Stride : i*g.Stride+g.Cols]
		switch f {
		case actReLU:
			for j, v := range row {
				row[j] = max(v, 0)
			}
		case actSigmoid:
			for j, v := range row {
				row[j] = sigmoid(v)
			}
		case actTanh:
			for j, v := range row {
				row[j] = math.Tanh(v)
			}
		}
	}
}

// scaleByDerivative multiplies d elementwise by f'(z), written in terms of h = f(z).
func scaleByDerivative(f act, d, h blas64.General) {
	for i := range d.Rows {
		dr := d.Data[i*d.Stride : i*d.Stride+d.Cols]
		hr := h.Data[i*h.Stride : i*h.Stride+h.Cols]
		switch f {
		case actReLU:
			for j, v := range hr {
				if v <= 0 {
					dr[j] = 0
				}
			}
		case actSigmoid:
			for j, v := range hr {
				dr[j] *= v * (1 - v)
			}
		case actTanh:
			for j, v := range hr {
				dr[j] *= 1 - v*v
			}
		}
	}
}

// chunkRows bounds the rows of one forward pass in Predict and Loss, so that scoring a large data
// set needs hidden buffers of chunkRows rows, not of the whole set.
const chunkRows = 256

// subRows returns rows [s, e) of g as a view.
func subRows(g blas64.General, s, e int) blas64.General {
	return blas64.General{Rows: e - s, Cols: g.Cols, Stride: g.Stride, Data: g.Data[s*g.Stride : (e-1)*g.Stride+g.Cols]}
}

// logits writes the logits of the rows of x into z (rows × Outputs), chunk by chunk.
func (m *Model) logits(x, z blas64.General) {
	if x.Rows == 0 {
		return
	}
	n := min(x.Rows, chunkRows)
	hidden := make([]blas64.General, len(m.layers)-1)
	for l := range hidden {
		w := m.layers[l].out
		hidden[l] = blas64.General{Rows: n, Cols: w, Stride: w, Data: make([]float64, n*w)}
	}
	for s := 0; s < x.Rows; s += n {
		e := min(s+n, x.Rows)
		for l := range hidden {
			hidden[l].Rows = e - s
		}
		m.forward(subRows(x, s, e), hidden, subRows(z, s, e))
	}
}

// checkInput panics when x does not have the model's number of columns.
func (m *Model) checkInput(x blas64.General) {
	if x.Cols != m.cfg.Inputs {
		panic(fmt.Sprintf("model: input has %d columns, model takes %d", x.Cols, m.cfg.Inputs))
	}
}

// Predict writes the model's outputs for the rows of x into dst (rows × Outputs): the probability
// of the positive class for a binary model, class probabilities for softmax cross-entropy, raw
// outputs for MSE. It panics if the shapes do not match.
func (m *Model) Predict(dst *mat.Dense, x mat.Matrix) {
	xr := rawOf(x)
	m.checkInput(xr)
	if r, c := dst.Dims(); r != xr.Rows || c != m.cfg.Outputs {
		panic(fmt.Sprintf("model: Predict destination is %d×%d, want %d×%d", r, c, xr.Rows, m.cfg.Outputs))
	}
	z := dst.RawMatrix()
	m.logits(xr, z)
	for i := range z.Rows {
		row := z.Data[i*z.Stride : i*z.Stride+z.Cols]
		switch m.head {
		case headSigmoidBCE:
			row[0] = sigmoid(row[0])
		case headSoftmaxCE:
			softmax(row)
		}
	}
}

// Loss returns the mean loss over the rows of x with targets y (see [Model.Backward] for the
// layout of y). It panics if the shapes do not match or a target is invalid.
func (m *Model) Loss(x mat.Matrix, y []float64) float64 {
	xr := rawOf(x)
	m.checkInput(xr)
	m.checkTargets(y, xr.Rows)
	k := m.cfg.Outputs
	z := blas64.General{Rows: xr.Rows, Cols: k, Stride: k, Data: make([]float64, xr.Rows*k)}
	m.logits(xr, z)
	sum := 0.0
	for i := range z.Rows {
		sum += m.lossRow(z.Data[i*k:(i+1)*k], m.target(y, i), nil, i)
	}
	return sum / float64(xr.Rows)
}

// mul computes c = op(a)·op(b) + beta·c, as a matrix-vector product when c has one column (a
// logistic output, or its gradient), where BLAS Level 3 would loop over one-element rows.
func mul(tA, tB blas.Transpose, a, b blas64.General, beta float64, c blas64.General) {
	if c.Cols != 1 {
		blas64.Gemm(tA, tB, 1, a, b, beta, c)
		return
	}
	x := blas64.Vector{N: b.Rows, Inc: b.Stride, Data: b.Data} // op(b) = b, one column
	if tB == blas.Trans {
		x = blas64.Vector{N: b.Cols, Inc: 1, Data: b.Data} // op(b) = bᵀ, b one row
	}
	blas64.Gemv(tA, 1, a, x, beta, blas64.Vector{N: c.Rows, Inc: c.Stride, Data: c.Data})
}
