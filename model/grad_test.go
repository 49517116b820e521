package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// gradCases are the architectures the gradient tests run on: every kind, every activation,
// every loss.
func gradCases() []Config {
	cs := []Config{
		{Kind: KindLogReg, Inputs: 5, Outputs: 1, Loss: LossBCE},
		{Kind: KindSoftmax, Inputs: 5, Outputs: 4, Loss: LossSoftmaxCE},
		// Width-1 layers, where products become matrix-vector ones.
		{Kind: KindLogReg, Inputs: 1, Outputs: 1, Loss: LossBCE},
		{Kind: KindMLP, Inputs: 5, Outputs: 2, Hidden: []int{3, 1}, Activation: ActTanh, Loss: LossSoftmaxCE},
	}
	for _, a := range []string{ActReLU, ActSigmoid, ActTanh} {
		cs = append(cs,
			Config{Kind: KindMLP, Inputs: 5, Outputs: 1, Hidden: []int{6, 4}, Activation: a, Loss: LossBCE},
			Config{Kind: KindMLP, Inputs: 5, Outputs: 3, Hidden: []int{7}, Activation: a, Loss: LossSoftmaxCE},
			Config{Kind: KindMLP, Inputs: 5, Outputs: 2, Hidden: []int{6, 3}, Activation: a, Loss: LossMSE},
			Config{Kind: KindMLP, Inputs: 5, Outputs: 1, Hidden: []int{4}, Activation: a, Loss: LossMSE},
		)
	}
	return cs
}

func caseName(c Config) string {
	return fmt.Sprintf("%s/hidden=%v/%s/%s/out=%d", c.Kind, c.Hidden, c.activation(), c.Loss, c.Outputs)
}

// randomProblem builds a model with random weights and biases and a batch of rows with valid
// targets for it.
func randomProblem(t testing.TB, c Config, rows int, seed uint64) (*Model, *mat.Dense, []float64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	m, err := New(c, rng)
	if err != nil {
		t.Fatal(err)
	}
	for _, ly := range m.layers {
		for j := range ly.b {
			ly.b[j] = 0.3 * rng.NormFloat64()
		}
	}
	x := mat.NewDense(rows, c.Inputs, nil)
	for i := range rows {
		for j := range c.Inputs {
			x.Set(i, j, rng.NormFloat64())
		}
	}
	var y []float64
	switch c.Loss {
	case LossBCE:
		for i := range rows {
			y = append(y, float64(rng.IntN(2)))
			if i == 1 {
				y[i] = 0.3 // a soft label
			}
		}
	case LossSoftmaxCE:
		for range rows {
			y = append(y, float64(rng.IntN(c.Outputs)))
		}
	default:
		for range rows * c.Outputs {
			y = append(y, rng.NormFloat64())
		}
	}
	return m, x, y
}

// perExample computes each row's loss and gradient by running Backward on that row alone.
func perExample(m *Model, ws *Workspace, x *mat.Dense, y []float64) (losses []float64, grads [][]float64) {
	rows, in := x.Dims()
	per := len(y) / rows
	for i := range rows {
		xi := x.Slice(i, i+1, 0, in).(*mat.Dense)
		losses = append(losses, m.Backward(ws, xi, y[i*per:(i+1)*per]))
		g := make([]float64, m.NumParams())
		ws.Gradient(g, nil)
		grads = append(grads, g)
	}
	return losses, grads
}

// closeVec reports the first index where got and want differ by more than tol relative to the
// largest magnitude in want.
func closeVec(got, want []float64, tol float64) error {
	if len(got) != len(want) {
		return fmt.Errorf("length %d, want %d", len(got), len(want))
	}
	scale := 0.0
	for _, v := range want {
		scale = max(scale, math.Abs(v))
	}
	for i := range got {
		if d := math.Abs(got[i] - want[i]); !(d <= tol*scale) {
			return fmt.Errorf("index %d: got %.17g, want %.17g (diff %.3g, scale %.3g)", i, got[i], want[i], d, scale)
		}
	}
	return nil
}

// closeRel reports the first index where got and want differ by more than tol relative to
// want[i] itself.
func closeRel(got, want []float64, tol float64) error {
	if len(got) != len(want) {
		return fmt.Errorf("length %d, want %d", len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(got[i] - want[i]); !(d <= tol*math.Abs(want[i])) {
			return fmt.Errorf("index %d: got %.17g, want %.17g (rel diff %.3g)", i, got[i], want[i], d/math.Abs(want[i]))
		}
	}
	return nil
}

func norm2(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x * x
	}
	return math.Sqrt(s)
}

func TestBatchMatchesPerExample(t *testing.T) {
	group := []int{0, 1, 0, 2, 2, 2, 0, 1, 3} // group 4 stays empty
	for n, c := range gradCases() {
		t.Run(caseName(c), func(t *testing.T) {
			m, x, y := randomProblem(t, c, len(group), uint64(n))
			checkAgainstPerExample(t, m, x, y, group, 5)
		})
	}
}

// TestBatchMatchesPerExampleAtScale repeats the comparison with layers and batches large enough
// that the matrix products run blocked and in parallel.
func TestBatchMatchesPerExampleAtScale(t *testing.T) {
	if testing.Short() {
		t.Skip("per-example brute force at scale")
	}
	const rows, groups = 150, 40
	group := make([]int, rows)
	for i := range group {
		group[i] = (i * i) % (groups - 1) // group 39 stays empty; group sizes vary
	}
	for n, c := range []Config{
		{Kind: KindMLP, Inputs: 70, Outputs: 1, Hidden: []int{256, 130}, Activation: ActTanh, Loss: LossBCE},
		{Kind: KindMLP, Inputs: 300, Outputs: 10, Hidden: []int{200}, Loss: LossSoftmaxCE},
		{Kind: KindSoftmax, Inputs: 300, Outputs: 260, Loss: LossSoftmaxCE},
	} {
		t.Run(caseName(c), func(t *testing.T) {
			m, x, y := randomProblem(t, c, rows, 50+uint64(n))
			checkAgainstPerExample(t, m, x, y, group, groups)
		})
	}
}

// checkAgainstPerExample compares the batched loss, norms, group norms and gradients with sums of
// per-example gradients, each from Backward on one row; group[G-1] must be empty.
func checkAgainstPerExample(t *testing.T, m *Model, x *mat.Dense, y []float64, group []int, groups int) {
	t.Helper()
	rows := len(group)
	ws := NewWorkspace(m)
	lossSum := m.Backward(ws, x, y)
	norms := make([]float64, rows)
	ws.Norms(norms)
	sum := make([]float64, m.NumParams())
	ws.Gradient(sum, nil)
	cycle := []float64{0.5, -1, 2, 0, 1, 0.25, 3, -0.5, 1.5} // signs, zero, fractions
	cw := make([]float64, rows)
	for i := range cw {
		cw[i] = cycle[i%len(cycle)]
	}
	weighted := make([]float64, m.NumParams())
	ws.Gradient(weighted, cw)
	gnorms := map[groupPath][]float64{}
	for _, p := range []groupPath{groupAuto, groupGram, groupSum} {
		groupMethod = p
		gnorms[p] = make([]float64, groups)
		ws.GroupNorms(gnorms[p], group)
	}
	groupMethod = groupAuto

	// Brute force, reusing the same workspace with one row at a time.
	losses, grads := perExample(m, ws, x, y)
	wantLoss, wantNorms := 0.0, make([]float64, rows)
	wantSum, wantWeighted := make([]float64, m.NumParams()), make([]float64, m.NumParams())
	groupSums := make([][]float64, groups)
	for g := range groupSums {
		groupSums[g] = make([]float64, m.NumParams())
	}
	for i, g := range grads {
		wantLoss += losses[i]
		wantNorms[i] = norm2(g)
		for j, v := range g {
			wantSum[j] += v
			wantWeighted[j] += cw[i] * v
			groupSums[group[i]][j] += v
		}
	}
	wantGroup := make([]float64, groups)
	for g := range groups {
		wantGroup[g] = norm2(groupSums[g])
	}
	if err := closeRel([]float64{lossSum}, []float64{wantLoss}, 1e-12); err != nil {
		t.Errorf("loss sum: %v", err)
	}
	if err := closeRel(norms, wantNorms, 1e-9); err != nil {
		t.Errorf("Norms: %v", err)
	}
	if err := closeVec(sum, wantSum, 1e-9); err != nil {
		t.Errorf("Gradient(nil): %v", err)
	}
	if err := closeVec(weighted, wantWeighted, 1e-9); err != nil {
		t.Errorf("Gradient(c): %v", err)
	}
	last := groups - 1
	if wantGroup[last] != 0 {
		t.Fatalf("empty group has brute-force norm %v", wantGroup[last])
	}
	for p, got := range gnorms {
		if got[last] != 0 {
			t.Errorf("GroupNorms path %d: empty group norm %v, want 0", p, got[last])
		}
		if err := closeRel(got[:last], wantGroup[:last], 1e-9); err != nil {
			t.Errorf("GroupNorms path %d: %v", p, err)
		}
	}

	// The shrunk workspace grows back and gives the same answer bit for bit.
	if again := m.Backward(ws, x, y); again != lossSum {
		t.Errorf("second Backward loss %v, first %v", again, lossSum)
	}
	again := make([]float64, m.NumParams())
	ws.Gradient(again, cw)
	if err := closeVec(again, weighted, 0); err != nil {
		t.Errorf("Gradient after reuse: %v", err)
	}
}

func TestGradientMatchesNumerical(t *testing.T) {
	const rows, h = 6, 1e-5
	for n, c := range gradCases() {
		t.Run(caseName(c), func(t *testing.T) {
			m, x, y := randomProblem(t, c, rows, 100+uint64(n))
			ws := NewWorkspace(m)
			m.Backward(ws, x, y)
			grad := make([]float64, m.NumParams())
			ws.Gradient(grad, nil)
			p := m.Params()
			for j := range p {
				orig := p[j]
				p[j] = orig + h
				up := m.Loss(x, y) * rows
				p[j] = orig - h
				down := m.Loss(x, y) * rows
				p[j] = orig
				num := (up - down) / (2 * h)
				if d := math.Abs(num - grad[j]); d > 1e-6*max(1, math.Abs(num)) {
					t.Errorf("param %d: analytic %.12g, central difference %.12g", j, grad[j], num)
				}
			}
		})
	}
}

func TestLossIsStable(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		w    []float64 // params
		x, y []float64
		want float64
	}{
		{"bce/z=+800/y=0", Config{Kind: KindLogReg, Inputs: 1, Outputs: 1, Loss: LossBCE}, []float64{800, 0}, []float64{1}, []float64{0}, 800},
		{"bce/z=+800/y=1", Config{Kind: KindLogReg, Inputs: 1, Outputs: 1, Loss: LossBCE}, []float64{800, 0}, []float64{1}, []float64{1}, 0},
		{"bce/z=-800/y=1", Config{Kind: KindLogReg, Inputs: 1, Outputs: 1, Loss: LossBCE}, []float64{800, 0}, []float64{-1}, []float64{1}, 800},
		{"bce/z=0/y=1", Config{Kind: KindLogReg, Inputs: 1, Outputs: 1, Loss: LossBCE}, []float64{800, 0}, []float64{0}, []float64{1}, math.Ln2},
		// Logits (1000, 0, −1000) from W = (1, 0, −1) and x = 1000.
		{"softmax/true=0", Config{Kind: KindSoftmax, Inputs: 1, Outputs: 3, Loss: LossSoftmaxCE}, []float64{1, 0, -1, 0, 0, 0}, []float64{1000}, []float64{0}, 0},
		{"softmax/true=2", Config{Kind: KindSoftmax, Inputs: 1, Outputs: 3, Loss: LossSoftmaxCE}, []float64{1, 0, -1, 0, 0, 0}, []float64{1000}, []float64{2}, 2000},
		{"softmax/equal", Config{Kind: KindSoftmax, Inputs: 1, Outputs: 3, Loss: LossSoftmaxCE}, []float64{0, 0, 0, 0, 0, 0}, []float64{1000}, []float64{1}, math.Log(3)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := modelWith(t, tt.cfg, tt.w)
			x := mat.NewDense(1, 1, tt.x)
			if got := m.Loss(x, tt.y); math.Abs(got-tt.want) > 1e-12*max(1, tt.want) {
				t.Errorf("Loss = %v, want %v", got, tt.want)
			}
			ws := NewWorkspace(m)
			m.Backward(ws, x, tt.y)
			g := make([]float64, m.NumParams())
			ws.Gradient(g, nil)
			for j, v := range g {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Errorf("gradient %d is %v", j, v)
				}
			}
		})
	}
}

func TestBatchPassDoesNotAllocate(t *testing.T) {
	c := Config{Kind: KindMLP, Inputs: 8, Outputs: 3, Hidden: []int{16, 8}, Loss: LossSoftmaxCE}
	m, x, y := randomProblem(t, c, 32, 3)
	ws := NewWorkspace(m)
	norms, weights, grad := make([]float64, 32), make([]float64, 32), make([]float64, m.NumParams())
	group, gnorms := make([]int, 32), make([]float64, 8)
	for i := range group {
		group[i] = i % 8
		weights[i] = 1 / float64(i+1)
	}
	allocs := testing.AllocsPerRun(20, func() {
		m.Backward(ws, x, y)
		ws.Norms(norms)
		ws.GroupNorms(gnorms, group)
		ws.Gradient(grad, weights)
	})
	if allocs != 0 {
		t.Errorf("Backward+Norms+GroupNorms+Gradient allocate %v times per batch, want 0", allocs)
	}
}

func TestBackwardPanicsOnBadTargets(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		y    float64
	}{
		{"bce/2", Config{Kind: KindLogReg, Inputs: 2, Outputs: 1, Loss: LossBCE}, 2},
		{"bce/NaN", Config{Kind: KindLogReg, Inputs: 2, Outputs: 1, Loss: LossBCE}, math.NaN()},
		{"softmax/fraction", Config{Kind: KindSoftmax, Inputs: 2, Outputs: 3, Loss: LossSoftmaxCE}, 1.5},
		{"softmax/out-of-range", Config{Kind: KindSoftmax, Inputs: 2, Outputs: 3, Loss: LossSoftmaxCE}, 3},
		{"softmax/negative", Config{Kind: KindSoftmax, Inputs: 2, Outputs: 3, Loss: LossSoftmaxCE}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := modelWith(t, tt.cfg, nil)
			if err := tt.cfg.CheckTargets([]float64{0, tt.y}); err == nil {
				t.Errorf("CheckTargets accepted %v", tt.y)
			}
			defer func() {
				if recover() == nil {
					t.Errorf("Backward accepted target %v", tt.y)
				}
			}()
			m.Backward(NewWorkspace(m), mat.NewDense(2, 2, nil), []float64{0, tt.y})
		})
	}
}
