package model

import (
	"math"
	"sync"
	"testing"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

func TestPredictAgreesWithLoss(t *testing.T) {
	const rows = 7
	for n, c := range gradCases() {
		if c.Loss == LossMSE {
			continue
		}
		t.Run(caseName(c), func(t *testing.T) {
			m, x, y := randomProblem(t, c, rows, 200+uint64(n))
			if c.Loss == LossBCE {
				for i := range y {
					y[i] = float64(i % 2)
				}
			}
			p := mat.NewDense(rows, c.Outputs, nil)
			m.Predict(p, x)
			nll := 0.0
			for i := range rows {
				row := p.RawRowView(i)
				switch c.Loss {
				case LossBCE:
					if y[i] == 1 {
						nll -= math.Log(row[0])
					} else {
						nll -= math.Log(1 - row[0])
					}
				case LossSoftmaxCE:
					if s := floats.Sum(row); math.Abs(s-1) > 1e-12 {
						t.Errorf("row %d probabilities sum to %v", i, s)
					}
					nll -= math.Log(row[int(y[i])])
				}
			}
			if got, want := m.Loss(x, y), nll/rows; math.Abs(got-want) > 1e-12*want {
				t.Errorf("Loss %.15g, mean −log Predict %.15g", got, want)
			}
		})
	}
}

func TestPredictAnyMatrixConcurrently(t *testing.T) {
	c := Config{Kind: KindMLP, Inputs: 4, Outputs: 3, Hidden: []int{5}, Activation: ActSigmoid, Loss: LossSoftmaxCE}
	m, x, _ := randomProblem(t, c, 6, 4)
	want := mat.NewDense(6, 3, nil)
	m.Predict(want, x)
	// The same rows through a non-Dense matrix (a transposed transpose).
	xt := mat.DenseCopyOf(x.T())
	var wg sync.WaitGroup
	got := make([]*mat.Dense, 4)
	for g := range got {
		got[g] = mat.NewDense(6, 3, nil)
		wg.Go(func() { m.Predict(got[g], xt.T()) })
	}
	wg.Wait()
	for g := range got {
		if !mat.EqualApprox(got[g], want, 1e-15) {
			t.Errorf("goroutine %d: predictions differ", g)
		}
	}
}

func TestWorkspaceFollowsModel(t *testing.T) {
	a, xa, ya := randomProblem(t, Config{Kind: KindMLP, Inputs: 3, Outputs: 1, Hidden: []int{4}, Loss: LossBCE}, 5, 1)
	b, xb, yb := randomProblem(t, Config{Kind: KindSoftmax, Inputs: 6, Outputs: 3, Loss: LossSoftmaxCE}, 8, 2)
	shared := NewWorkspace(a)
	for _, tc := range []struct {
		m    *Model
		x    *mat.Dense
		y    []float64
		name string
	}{{a, xa, ya, "a"}, {b, xb, yb, "b"}, {a, xa, ya, "a again"}} {
		fresh := NewWorkspace(tc.m)
		l1, l2 := tc.m.Backward(shared, tc.x, tc.y), tc.m.Backward(fresh, tc.x, tc.y)
		g1, g2 := make([]float64, tc.m.NumParams()), make([]float64, tc.m.NumParams())
		shared.Gradient(g1, nil)
		fresh.Gradient(g2, nil)
		if l1 != l2 || !floats.Equal(g1, g2) {
			t.Errorf("%s: a workspace used by another model gives loss %v and gradient %v, a fresh one %v and %v", tc.name, l1, g1, l2, g2)
		}
	}
}

func TestLossInChunksMatchesBackward(t *testing.T) {
	// More rows than one forward chunk, and not a multiple of it.
	const rows = 2*chunkRows + 37
	c := Config{Kind: KindMLP, Inputs: 6, Outputs: 4, Hidden: []int{9, 5}, Activation: ActTanh, Loss: LossSoftmaxCE}
	m, x, y := randomProblem(t, c, rows, 8)
	want := m.Backward(NewWorkspace(m), x, y) / rows
	if got := m.Loss(x, y); math.Abs(got-want) > 1e-13*want {
		t.Errorf("Loss %.17g, Backward mean %.17g", got, want)
	}
	p := mat.NewDense(rows, 4, nil)
	m.Predict(p, x)
	last := mat.NewDense(1, 4, nil)
	m.Predict(last, x.Slice(rows-1, rows, 0, 6))
	if !mat.EqualApprox(last, p.Slice(rows-1, rows, 0, 4), 1e-15) {
		t.Errorf("last row predicted alone %v, in the batch %v", last.RawRowView(0), p.RawRowView(rows-1))
	}
}

// TestWorkspaceGrowsWithHeadroom: batches a little larger than the first (DP-SGD's Poisson
// batches) reuse its buffers, and give what a fresh workspace gives.
func TestWorkspaceGrowsWithHeadroom(t *testing.T) {
	c := Config{Kind: KindMLP, Inputs: 5, Outputs: 1, Hidden: []int{7}, Loss: LossBCE}
	m, x, y := randomProblem(t, c, 80, 3)
	ws := NewWorkspace(m)
	m.Backward(ws, mat.DenseCopyOf(x.Slice(0, 64, 0, 5)), y[:64])
	first := &ws.hidden[0].Data[0]
	for _, rows := range []int{70, 80, 50} {
		xb, yb := mat.DenseCopyOf(x.Slice(0, rows, 0, 5)), y[:rows]
		fresh := NewWorkspace(m)
		l1, l2 := m.Backward(ws, xb, yb), m.Backward(fresh, xb, yb)
		g1, g2 := make([]float64, m.NumParams()), make([]float64, m.NumParams())
		ws.Gradient(g1, nil)
		fresh.Gradient(g2, nil)
		if l1 != l2 || !floats.Equal(g1, g2) {
			t.Errorf("%d rows: reused workspace gives loss %v, a fresh one %v", rows, l1, l2)
		}
		if &ws.hidden[0].Data[0] != first {
			t.Errorf("%d rows after 64: the buffers were reallocated", rows)
		}
	}
}
