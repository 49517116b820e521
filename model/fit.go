package model

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// FitConfig sets up non-private mini-batch training.
type FitConfig struct {
	Epochs    int             `json:"epochs"`
	BatchSize int             `json:"batch_size"` // capped at the number of rows
	Optimizer OptimizerConfig `json:"optimizer"`
	Seed      uint64          `json:"seed"` // seeds the shuffling of rows each epoch
	// OnEpoch, if set, is called after each epoch with the number of
	// epochs done, for progress reports.
	OnEpoch func(done int) `json:"-"`
}

// Validate reports the first setting outside its range.
func (c FitConfig) Validate() error {
	if c.Epochs < 1 {
		return fmt.Errorf("fit: epochs %d, want at least 1", c.Epochs)
	}
	if c.BatchSize < 1 {
		return fmt.Errorf("fit: batch size %d, want at least 1", c.BatchSize)
	}
	return c.Optimizer.Validate()
}

// Fit trains m in place by mini-batch gradient descent on the mean loss: each epoch shuffles the
// rows (deterministically from cfg.Seed) and takes one optimizer step per batch. It is the
// non-private reference that private training is compared to. It returns an error, leaving m
// partly trained, if the loss stops being finite.
func Fit(m *Model, x *mat.Dense, y []float64, cfg FitConfig) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	rows, cols := x.Dims()
	if cols != m.cfg.Inputs {
		return fmt.Errorf("fit: data has %d columns, model takes %d", cols, m.cfg.Inputs)
	}
	per := 1
	if m.head == headMSE {
		per = m.cfg.Outputs
	}
	if len(y) != rows*per {
		return fmt.Errorf("fit: %d targets for %d rows, want %d", len(y), rows, rows*per)
	}
	if err := checkFinite(x); err != nil {
		return fmt.Errorf("fit: %w", err)
	}
	if err := m.cfg.CheckTargets(y); err != nil {
		return fmt.Errorf("fit: %w", err)
	}
	opt, err := NewOptimizer(cfg.Optimizer, m.NumParams())
	if err != nil {
		return err
	}
	bs := min(cfg.BatchSize, rows)
	xb := mat.NewDense(bs, cols, nil)
	yb := make([]float64, bs*per)
	grad := make([]float64, m.NumParams())
	order := make([]int, rows)
	for i := range order {
		order[i] = i
	}
	ws := NewWorkspace(m)
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x6669742d73687566))
	xr := x.RawMatrix()
	for epoch := range cfg.Epochs {
		rng.Shuffle(rows, func(i, j int) { order[i], order[j] = order[j], order[i] })
		for start := 0; start < rows; start += bs {
			n := min(bs, rows-start)
			batch := xb
			if n < bs {
				batch = xb.Slice(0, n, 0, cols).(*mat.Dense)
			}
			for r, i := range order[start : start+n] {
				copy(xb.RawRowView(r), xr.Data[i*xr.Stride:i*xr.Stride+cols])
				copy(yb[r*per:(r+1)*per], y[i*per:(i+1)*per])
			}
			loss := m.Backward(ws, batch, yb[:n*per])
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				return fmt.Errorf("fit: loss became %v in epoch %d (learning rate %v too high?)", loss, epoch+1, cfg.Optimizer.LR)
			}
			ws.Gradient(grad, nil)
			floats.Scale(1/float64(n), grad)
			opt.Step(m.params, grad)
		}
		if cfg.OnEpoch != nil {
			cfg.OnEpoch(epoch + 1)
		}
	}
	return nil
}

// checkFinite returns an error naming the first NaN or infinite entry of x.
func checkFinite(x *mat.Dense) error {
	rows, _ := x.Dims()
	if rows == 0 {
		return errors.New("no rows")
	}
	for i := range rows {
		for j, v := range x.RawRowView(i) {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("feature %d of row %d is %v", j, i, v)
			}
		}
	}
	return nil
}
