package model

import (
	"fmt"
	"math/rand/v2"

	"gonum.org/v1/gonum/floats"
)

// FitSparse trains m in place by mini-batch gradient descent on the mean loss over the sparse rows
// x with class targets y, as [Fit] does for a dense model: each epoch shuffles the rows
// (deterministically from cfg.Seed) and takes one optimizer step per batch. Weight decay, when
// set, applies to every parameter at every step (the optimizer's rule). It returns an error,
// leaving m partly trained, if the data are invalid or the loss stops being finite.
func FitSparse(m *SparseModel, x *CSR, y []float64, cfg FitConfig) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := checkSparseFit(m, x, y); err != nil {
		return fmt.Errorf("fit: %w", err)
	}
	opt, err := NewOptimizer(cfg.Optimizer, m.NumParams())
	if err != nil {
		return err
	}
	rows := x.Rows
	bs := min(cfg.BatchSize, rows)
	order := make([]int, rows)
	for i := range order {
		order[i] = i
	}
	ws := NewSparseWorkspace(m)
	grad := make([]float64, m.NumParams())
	yb := make([]float64, bs)
	batch := &CSR{}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x6669742d73687566))
	for epoch := range cfg.Epochs {
		rng.Shuffle(rows, func(i, j int) { order[i], order[j] = order[j], order[i] })
		for start := 0; start < rows; start += bs {
			b := order[start:min(start+bs, rows)]
			x.SelectRowsInto(batch, b)
			for r, i := range b {
				yb[r] = y[i]
			}
			loss := m.Backward(ws, batch, yb[:len(b)])
			if err := finiteLoss(loss, epoch, cfg.Optimizer.LR); err != nil {
				return err
			}
			ws.Gradient(grad, nil)
			floats.Scale(1/float64(len(b)), grad)
			opt.Step(m.params, grad)
		}
		if cfg.OnEpoch != nil {
			cfg.OnEpoch(epoch + 1)
		}
	}
	return nil
}
