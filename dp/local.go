package dp

import (
	"fmt"
	"io"

	"github.com/fedcrypt/fedcrypt/model"
	"gonum.org/v1/gonum/mat"
)

// Input is a model's input rows: a *mat.Dense for a [Dense] learner, a
// *model.CSR (hashed n-grams) for a [Sparse] one.
type Input interface {
	Dims() (rows, cols int)
}

// A Learner is a model bound to the training rows of one hospital,
// whatever the model's input: what a federated client trains each round
// and scores at the end. [Dense] and [Sparse] implement it. A Learner is
// not safe for concurrent use.
type Learner interface {
	// NumParams returns the number of parameters; Params returns them,
	// live: writing to the slice changes the model.
	NumParams() int
	Params() []float64
	// SetParams copies p into the parameters; it fails if p is not of
	// NumParams values.
	SetParams(p []float64) error
	// Rows returns the number of training rows.
	Rows() int
	// Train runs DP-SGD ([Train], [TrainSparse]) over the training rows
	// from the current parameters.
	Train(cfg SGDConfig, rng io.Reader) (Stats, error)
	// Fit trains without privacy ([model.Fit], [model.FitSparse]), for
	// comparison runs.
	Fit(cfg model.FitConfig) error
	// Predict writes the class probabilities of the rows of x into dst
	// (rows × outputs), and Evaluate scores the model on x against the
	// classes y; both fail if x is not the learner's kind of input or not
	// of its width.
	Predict(dst *mat.Dense, x Input) error
	Evaluate(x Input, y []float64) (model.Metrics, error)
}

var (
	_ Learner = (*Dense)(nil)
	_ Learner = (*Sparse)(nil)
)

// Dense is a [Learner] of a [model.Model] on dense rows.
type Dense struct {
	m     *model.Model
	x     *mat.Dense
	y     []float64
	units []int
}

// NewDense binds m to the rows x, their targets y (as [Train] takes them)
// and their privacy units (nil: each row is a unit). The data are checked
// when training.
func NewDense(m *model.Model, x *mat.Dense, y []float64, units []int) *Dense {
	return &Dense{m: m, x: x, y: y, units: units}
}

// Model returns the model, whose parameters the learner trains.
func (l *Dense) Model() *model.Model { return l.m }

func (l *Dense) NumParams() int              { return l.m.NumParams() }
func (l *Dense) Params() []float64           { return l.m.Params() }
func (l *Dense) SetParams(p []float64) error { return setParams(l.m.Params(), p) }
func (l *Dense) Rows() int                   { r, _ := l.x.Dims(); return r }

func (l *Dense) Train(cfg SGDConfig, rng io.Reader) (Stats, error) {
	return Train(l.m, l.x, l.y, l.units, cfg, rng)
}

func (l *Dense) Fit(cfg model.FitConfig) error { return model.Fit(l.m, l.x, l.y, cfg) }

func (l *Dense) Predict(dst *mat.Dense, x Input) error {
	d, err := inputOf[*mat.Dense](x, l.m.Config().Inputs, "dense")
	if err != nil {
		return err
	}
	if err := checkDst(dst, x, l.m.Config().Outputs); err != nil {
		return err
	}
	l.m.Predict(dst, d)
	return nil
}

func (l *Dense) Evaluate(x Input, y []float64) (model.Metrics, error) {
	d, err := inputOf[*mat.Dense](x, l.m.Config().Inputs, "dense")
	if err != nil {
		return model.Metrics{}, err
	}
	if err := checkTargets(x, y, l.m.Config().CheckTargets); err != nil {
		return model.Metrics{}, err
	}
	return model.Evaluate(l.m, d, y), nil
}

// Sparse is a [Learner] of a [model.SparseModel] on sparse rows.
type Sparse struct {
	m     *model.SparseModel
	x     *model.CSR
	y     []float64
	units []int
}

// NewSparse binds m to the rows x, their class targets y and their
// privacy units (nil: each row is a unit). The data are checked when
// training.
func NewSparse(m *model.SparseModel, x *model.CSR, y []float64, units []int) *Sparse {
	return &Sparse{m: m, x: x, y: y, units: units}
}

// Model returns the model, whose parameters the learner trains.
func (l *Sparse) Model() *model.SparseModel { return l.m }

func (l *Sparse) NumParams() int              { return l.m.NumParams() }
func (l *Sparse) Params() []float64           { return l.m.Params() }
func (l *Sparse) SetParams(p []float64) error { return setParams(l.m.Params(), p) }
func (l *Sparse) Rows() int                   { return l.x.Rows }

func (l *Sparse) Train(cfg SGDConfig, rng io.Reader) (Stats, error) {
	return TrainSparse(l.m, l.x, l.y, l.units, cfg, rng)
}

func (l *Sparse) Fit(cfg model.FitConfig) error { return model.FitSparse(l.m, l.x, l.y, cfg) }

func (l *Sparse) Predict(dst *mat.Dense, x Input) error {
	c, err := inputOf[*model.CSR](x, l.m.Config().Inputs, "sparse")
	if err != nil {
		return err
	}
	if err := checkDst(dst, x, l.m.Config().Outputs); err != nil {
		return err
	}
	l.m.Predict(dst, c)
	return nil
}

func (l *Sparse) Evaluate(x Input, y []float64) (model.Metrics, error) {
	c, err := inputOf[*model.CSR](x, l.m.Config().Inputs, "sparse")
	if err != nil {
		return model.Metrics{}, err
	}
	if err := l.m.CheckData(c, y); err != nil {
		return model.Metrics{}, fmt.Errorf("dp: %w", err)
	}
	return model.EvaluateSparse(l.m, c, y), nil
}

// setParams copies p into dst, of the same length.
func setParams(dst, p []float64) error {
	if len(p) != len(dst) {
		return fmt.Errorf("dp: %d parameters for a model of %d", len(p), len(dst))
	}
	copy(dst, p)
	return nil
}

// inputOf returns x as the input type T of a model of cols inputs.
func inputOf[T Input](x Input, cols int, kind string) (T, error) {
	v, ok := x.(T)
	if !ok {
		return v, fmt.Errorf("dp: a %s model takes %T rows, not %T", kind, *new(T), x)
	}
	if _, c := v.Dims(); c != cols {
		return v, fmt.Errorf("dp: rows of %d columns for a model of %d inputs", c, cols)
	}
	return v, nil
}

// checkDst checks that dst holds x's rows × outputs probabilities.
func checkDst(dst *mat.Dense, x Input, outputs int) error {
	rows, _ := x.Dims()
	if r, c := dst.Dims(); r != rows || c != outputs {
		return fmt.Errorf("dp: predictions of %d×%d for %d rows of %d classes", r, c, rows, outputs)
	}
	return nil
}

// checkTargets checks y, one class per row of x.
func checkTargets(x Input, y []float64, check func([]float64) error) error {
	if rows, _ := x.Dims(); len(y) != rows {
		return fmt.Errorf("dp: %d targets for %d rows", len(y), rows)
	}
	if err := check(y); err != nil {
		return fmt.Errorf("dp: %w", err)
	}
	return nil
}
