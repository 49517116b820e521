package sealedmodel

import (
	"fmt"

	"github.com/fedcrypt/fedcrypt/model"
	"gonum.org/v1/gonum/mat"
)

// Scorer scores rows read under a sealed model's schema: a dense model on
// its transform's numeric features, or a text model on its sparse input
// (the model's own featurization).
type Scorer struct {
	dense  *model.Model
	x      *mat.Dense // transformed numeric rows, dense model
	sparse *model.SparseModel
	in     *model.CSR // text model input
}

// Scorer prepares rows for scoring, read with the model's schema: each
// row's text (a text model) and its raw numeric features (nil for a text
// model without any).
func (l *Loaded) Scorer(docs []string, raw *mat.Dense) (*Scorer, error) {
	if l.Sparse != nil {
		in, err := l.Inputs(docs, raw)
		if err != nil {
			return nil, err
		}
		return &Scorer{sparse: l.Sparse, in: in}, nil
	}
	if raw == nil {
		return nil, fmt.Errorf("sealed model: no numeric rows to score")
	}
	n, _ := raw.Dims()
	x := mat.NewDense(n, len(l.Schema.Features), nil)
	if err := l.Transform.Apply(x, raw); err != nil {
		return nil, err
	}
	return &Scorer{dense: l.Dense, x: x}, nil
}

// Outputs is the network's number of outputs: 1 for a binary classifier
// with a sigmoid output, else one per class.
func (s *Scorer) Outputs() int {
	if s.sparse != nil {
		return s.sparse.Config().Outputs
	}
	return s.dense.Config().Outputs
}

// Params is the model's number of parameters.
func (s *Scorer) Params() int {
	if s.sparse != nil {
		return s.sparse.NumParams()
	}
	return s.dense.NumParams()
}

// Predict writes the probabilities of every row into p.
func (s *Scorer) Predict(p *mat.Dense) {
	if s.sparse != nil {
		s.sparse.Predict(p, s.in)
		return
	}
	s.dense.Predict(p, s.x)
}

// Evaluate scores the given rows against their labels y.
func (s *Scorer) Evaluate(rows []int, y []float64) model.Metrics {
	if s.sparse != nil {
		return model.EvaluateSparse(s.sparse, s.in.SelectRows(rows), y)
	}
	x := mat.NewDense(len(rows), s.x.RawMatrix().Cols, nil)
	for r, i := range rows {
		x.SetRow(r, s.x.RawRowView(i))
	}
	return model.Evaluate(s.dense, x, y)
}
