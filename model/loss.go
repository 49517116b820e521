package model

import (
	"fmt"
	"math"
)

// sigmoid is the logistic function, evaluated without overflow for any z.
func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

// logSumExp returns log Σ exp(z_k), shifted by the maximum so that no term overflows.
func logSumExp(z []float64) float64 {
	mx := math.Inf(-1)
	for _, v := range z {
		mx = max(mx, v)
	}
	if math.IsInf(mx, 0) {
		return mx
	}
	s := 0.0
	for _, v := range z {
		s += math.Exp(v - mx)
	}
	return mx + math.Log(s)
}

// softmax replaces z by its softmax.
func softmax(z []float64) {
	lse := logSumExp(z)
	for k, v := range z {
		z[k] = math.Exp(v - lse)
	}
}

// target returns the targets of row i: one value for classifiers, Outputs values for MSE.
func (m *Model) target(y []float64, i int) []float64 {
	if m.head == headMSE {
		k := m.cfg.Outputs
		return y[i*k : (i+1)*k]
	}
	return y[i : i+1]
}

// lossRow returns the loss of one row from its logits z and targets t. When delta is not nil it
// receives ∂ℓ/∂z; delta may alias z.
//
//	BCE:        ℓ = max(z,0) − t·z + log(1 + e^−|z|),  ∂ℓ/∂z = σ(z) − t
//	softmax CE: ℓ = logΣₖe^{zₖ} − z_t,               ∂ℓ/∂zₖ = softmax(z)ₖ − [k = t]
//	MSE:        ℓ = (1/K)Σₖ(zₖ − tₖ)²,               ∂ℓ/∂zₖ = 2(zₖ − tₖ)/K
func (m *Model) lossRow(z, t, delta []float64, row int) float64 {
	return rowLoss(m.head, z, t, delta, row)
}

// rowLoss is [Model.lossRow] for the output head h.
func rowLoss(h head, z, t, delta []float64, row int) float64 {
	switch h {
	case headSigmoidBCE:
		v, y := z[0], t[0]
		if !(y >= 0 && y <= 1) {
			panic(fmt.Sprintf("model: binary target at row %d is not in [0, 1]", row))
		}
		loss := max(v, 0) - y*v + math.Log1p(math.Exp(-math.Abs(v)))
		if delta != nil {
			delta[0] = sigmoid(v) - y
		}
		return loss
	case headSoftmaxCE:
		c := int(t[0])
		if float64(c) != t[0] || c < 0 || c >= len(z) {
			panic(fmt.Sprintf("model: class target at row %d is not an integer in [0, %d)", row, len(z)))
		}
		lse := logSumExp(z)
		loss := lse - z[c]
		if delta != nil {
			for k, v := range z {
				delta[k] = math.Exp(v - lse)
			}
			delta[c]--
		}
		return loss
	default:
		inv := 1 / float64(len(z))
		loss := 0.0
		for k, v := range z {
			d := v - t[k]
			loss += d * d
			if delta != nil {
				delta[k] = 2 * d * inv
			}
		}
		return loss * inv
	}
}

// checkTargets panics when y does not have one target per row (Outputs per row for MSE).
func (m *Model) checkTargets(y []float64, rows int) {
	want := rows
	if m.head == headMSE {
		want = rows * m.cfg.Outputs
	}
	if len(y) != want {
		panic(fmt.Sprintf("model: %d targets for %d rows, want %d", len(y), rows, want))
	}
}

// CheckTargets reports the first target in y that the model cannot train on: for a binary model a
// value other than 0 or 1, for softmax a value that is not a class index in [0, Outputs), for MSE a
// value that is not finite. The error names the index in y, not the value (labels are patient
// data).
func (c Config) CheckTargets(y []float64) error {
	for i, v := range y {
		switch c.Loss {
		case LossBCE:
			if v != 0 && v != 1 {
				return fmt.Errorf("model: target at row %d is not a binary label (0 or 1)", i)
			}
		case LossSoftmaxCE:
			if k := int(v); float64(k) != v || k < 0 || k >= c.Outputs {
				return fmt.Errorf("model: target at row %d is not a class index in [0, %d)", i, c.Outputs)
			}
		default:
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("model: target at row %d is not finite", i)
			}
		}
	}
	return nil
}
