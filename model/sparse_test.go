package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// sparseCases are the sparse architectures the gradient tests run on.
func sparseCases() []SparseConfig {
	return []SparseConfig{
		{Kind: KindSparseLinear, Inputs: 7, Outputs: 1, Loss: LossBCE},
		{Kind: KindSparseLinear, Inputs: 7, Outputs: 4, Loss: LossSoftmaxCE},
		{Kind: KindEmbeddingBag, Inputs: 7, Outputs: 3, Dim: 4, Loss: LossSoftmaxCE},
		{Kind: KindEmbeddingBag, Inputs: 7, Outputs: 1, Dim: 3, Loss: LossBCE},
		{Kind: KindEmbeddingBag, Inputs: 9, Outputs: 3, Dim: 4, Hidden: []int{5}, Activation: ActTanh, Loss: LossSoftmaxCE},
		{Kind: KindEmbeddingBag, Inputs: 9, Outputs: 1, Dim: 2, Hidden: []int{3, 4}, Loss: LossBCE},
	}
}

// randomSparseProblem builds a model with random parameters (biases included) and a batch whose
// rows repeat tokens: each row draws up to 12 token ids from only Inputs buckets, so repeats,
// standing for both repeated tokens and hash collisions, are merged by AppendRow. Row 0 is empty.
func randomSparseProblem(t testing.TB, c SparseConfig, rows int, seed uint64) (*SparseModel, *CSR, []float64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 11))
	m, err := NewSparse(c, rng)
	if err != nil {
		t.Fatal(err)
	}
	for i := range m.params {
		m.params[i] = 0.5 * rng.NormFloat64()
	}
	x := NewCSR(c.Inputs)
	for i := range rows {
		n := 0
		if i > 0 {
			n = 1 + rng.IntN(12)
		}
		idx := make([]int, n)
		val := make([]float64, n)
		for k := range n {
			idx[k] = rng.IntN(c.Inputs)
			val[k] = 0.2 + rng.Float64()
		}
		if err := x.AppendRow(idx, val); err != nil {
			t.Fatal(err)
		}
	}
	y := make([]float64, rows)
	for i := range y {
		y[i] = float64(rng.IntN(max(c.Outputs, 2)))
	}
	return m, x, y
}

func sparseName(c SparseConfig) string {
	return fmt.Sprintf("%s/dim=%d/hidden=%v/%s/out=%d", c.Kind, c.Dim, c.Hidden, c.Loss, c.Outputs)
}

// sparsePerExample returns each row's gradient, computed by a backward pass on that row alone.
func sparsePerExample(m *SparseModel, x *CSR, y []float64) [][]float64 {
	ws := NewSparseWorkspace(m)
	out := make([][]float64, x.Rows)
	for i := range x.Rows {
		g := make([]float64, m.NumParams())
		m.Backward(ws, x.SelectRows([]int{i}), y[i:i+1])
		ws.Gradient(g, nil)
		out[i] = g
	}
	return out
}

func relClose(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol*max(math.Abs(want), 1e-300) || math.Abs(got-want) <= 1e-300
}

func TestSparseNormsGradientsAgainstBruteForce(t *testing.T) {
	for _, c := range sparseCases() {
		t.Run(sparseName(c), func(t *testing.T) {
			m, x, y := randomSparseProblem(t, c, 9, 3)
			g := sparsePerExample(m, x, y)
			ws := NewSparseWorkspace(m)
			loss := m.Backward(ws, x, y)
			if want := m.Loss(x, y) * float64(x.Rows); !relClose(loss, want, 1e-12) {
				t.Errorf("Backward loss %v, Loss·rows %v", loss, want)
			}
			norms := make([]float64, x.Rows)
			ws.Norms(norms)
			for i, gi := range g {
				if want := floats.Norm(gi, 2); !relClose(norms[i], want, 1e-9) {
					t.Errorf("row %d: norm %v, brute force %v", i, norms[i], want)
				}
			}
			// The weighted sum, and the plain sum.
			coef := make([]float64, x.Rows)
			for i := range coef {
				coef[i] = 0.1 + float64(i%4)/3
			}
			for _, cw := range [][]float64{coef, nil} {
				got := make([]float64, m.NumParams())
				for i := range got {
					got[i] = math.NaN() // every entry must be written
				}
				ws.Gradient(got, cw)
				want := make([]float64, m.NumParams())
				for i, gi := range g {
					floats.AddScaled(want, weight(cw, i), gi)
				}
				for p := range want {
					if math.Abs(got[p]-want[p]) > 1e-9*max(1, math.Abs(want[p])) {
						t.Fatalf("weights %v: gradient entry %d is %v, brute force %v", cw != nil, p, got[p], want[p])
					}
				}
			}
			// Groups: rows 0..8 in groups {0,3,6}, {1,4,7}, {2,5,8}, and an empty group 3.
			group := make([]int, x.Rows)
			for i := range group {
				group[i] = i % 3
			}
			gn := make([]float64, 4)
			ws.GroupNorms(gn, group)
			for k := range 4 {
				sum := make([]float64, m.NumParams())
				for i, gi := range g {
					if group[i] == k {
						floats.Add(sum, gi)
					}
				}
				if want := floats.Norm(sum, 2); !relClose(gn[k], want, 1e-9) {
					t.Errorf("group %d: norm %v, brute force %v", k, gn[k], want)
				}
			}
		})
	}
}

// TestSparseGradientCentralDifferences checks each example's gradient, which the brute force
// above is built from, against central differences of its loss.
func TestSparseGradientCentralDifferences(t *testing.T) {
	for _, c := range sparseCases() {
		t.Run(sparseName(c), func(t *testing.T) {
			m, x, y := randomSparseProblem(t, c, 4, 5)
			g := sparsePerExample(m, x, y)
			const h = 1e-6
			for i := range x.Rows {
				xi := x.SelectRows([]int{i})
				for p := range m.params {
					old := m.params[p]
					m.params[p] = old + h
					up := m.Loss(xi, y[i:i+1])
					m.params[p] = old - h
					down := m.Loss(xi, y[i:i+1])
					m.params[p] = old
					if fd := (up - down) / (2 * h); math.Abs(fd-g[i][p]) > 1e-6*max(1, math.Abs(fd)) {
						t.Fatalf("row %d parameter %d: gradient %v, central difference %v", i, p, g[i][p], fd)
					}
				}
			}
		})
	}
}

// TestSparseLinearMatchesDense checks softmax regression on sparse rows against the dense model
// on the same rows written out densely, repeated tokens summed: the losses, gradients and
// per-example norms must agree.
func TestSparseLinearMatchesDense(t *testing.T) {
	for _, c := range sparseCases()[:2] {
		t.Run(sparseName(c), func(t *testing.T) {
			sm, x, y := randomSparseProblem(t, c, 8, 9)
			kind := KindSoftmax
			if c.Loss == LossBCE {
				kind = KindLogReg
			}
			dm := modelWith(t, Config{Kind: kind, Inputs: c.Inputs, Outputs: c.Outputs, Loss: c.Loss}, sm.Params())
			xd := mat.NewDense(x.Rows, x.Cols, nil)
			for i := range x.Rows {
				idx, val := x.Row(i)
				for k, j := range idx {
					xd.Set(i, j, xd.At(i, j)+val[k])
				}
			}
			sws, dws := NewSparseWorkspace(sm), NewWorkspace(dm)
			sl, dl := sm.Backward(sws, x, y), dm.Backward(dws, xd, y)
			if !relClose(sl, dl, 1e-12) {
				t.Errorf("loss %v, dense %v", sl, dl)
			}
			sn, dn := make([]float64, x.Rows), make([]float64, x.Rows)
			sws.Norms(sn)
			dws.Norms(dn)
			sg, dg := make([]float64, sm.NumParams()), make([]float64, dm.NumParams())
			sws.Gradient(sg, sn)
			dws.Gradient(dg, sn)
			for i := range sn {
				if !relClose(sn[i], dn[i], 1e-9) {
					t.Errorf("row %d: norm %v, dense %v", i, sn[i], dn[i])
				}
			}
			for p := range sg {
				if math.Abs(sg[p]-dg[p]) > 1e-9*max(1, math.Abs(dg[p])) {
					t.Fatalf("gradient entry %d: %v, dense %v", p, sg[p], dg[p])
				}
			}
			sp, dp := mat.NewDense(x.Rows, c.Outputs, nil), mat.NewDense(x.Rows, c.Outputs, nil)
			sm.Predict(sp, x)
			dm.Predict(dp, xd)
			if !mat.EqualApprox(sp, dp, 1e-12) {
				t.Errorf("predictions differ from the dense model's")
			}
		})
	}
}

func TestCSRAppendRowMerges(t *testing.T) {
	x := NewCSR(10)
	if err := x.AppendRow([]int{7, 2, 7, 2, 2, 0}, []float64{1, 1, 0.5, 1, 1, 3}); err != nil {
		t.Fatal(err)
	}
	if err := x.AppendRow(nil, nil); err != nil {
		t.Fatal(err)
	}
	idx, val := x.Row(0)
	if fmt.Sprint(idx, val) != "[0 2 7] [3 3 1.5]" {
		t.Errorf("row 0 is %v %v, want [0 2 7] [3 3 1.5]", idx, val)
	}
	if x.Rows != 2 || x.NNZ() != 3 {
		t.Errorf("%d rows, %d non-zeros; want 2 and 3", x.Rows, x.NNZ())
	}
	if err := x.Validate(); err != nil {
		t.Error(err)
	}
	for _, tc := range []struct {
		name string
		idx  []int
		val  []float64
		want string
	}{
		{"column too large", []int{1, 10}, []float64{1, 1}, "entry 1 has column 10 outside [0, 10)"},
		{"negative column", []int{-1}, []float64{1}, "column -1"},
		{"NaN", []int{1}, []float64{math.NaN()}, "entry 0 is not finite"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, x.AppendRow(tc.idx, tc.val), tc.want)
			if x.Rows != 2 {
				t.Errorf("a failed append changed the matrix")
			}
		})
	}
	bad := &CSR{Rows: 1, Cols: 10, Ptr: []int{0, 2}, Idx: []int{3, 3}, Val: []float64{1, 1}}
	wantErr(t, bad.Validate(), "out of range or out of order")
}

func TestSparseConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    SparseConfig
		want string
	}{
		{"linear softmax", SparseConfig{Kind: KindSparseLinear, Inputs: 1 << 18, Outputs: 5, Loss: LossSoftmaxCE}, ""},
		{"bag", SparseConfig{Kind: KindEmbeddingBag, Inputs: 1 << 16, Outputs: 5, Dim: 32, Loss: LossSoftmaxCE}, ""},
		{"bag mlp", SparseConfig{Kind: KindEmbeddingBag, Inputs: 100, Outputs: 1, Dim: 8, Hidden: []int{4}, Activation: ActTanh, Loss: LossBCE}, ""},
		{"no inputs", SparseConfig{Kind: KindSparseLinear, Outputs: 5, Loss: LossSoftmaxCE}, "inputs 0"},
		{"mse", SparseConfig{Kind: KindSparseLinear, Inputs: 4, Outputs: 1, Loss: LossMSE}, "loss \"mse\""},
		{"bce with 3", SparseConfig{Kind: KindSparseLinear, Inputs: 4, Outputs: 3, Loss: LossBCE}, "needs outputs 1"},
		{"linear dim", SparseConfig{Kind: KindSparseLinear, Inputs: 4, Outputs: 3, Dim: 2, Loss: LossSoftmaxCE}, "takes no dim"},
		{"bag no dim", SparseConfig{Kind: KindEmbeddingBag, Inputs: 4, Outputs: 3, Loss: LossSoftmaxCE}, "dim 0"},
		{"bag activation alone", SparseConfig{Kind: KindEmbeddingBag, Inputs: 4, Outputs: 3, Dim: 2, Activation: ActReLU, Loss: LossSoftmaxCE}, "takes no activation"},
		{"too big", SparseConfig{Kind: KindEmbeddingBag, Inputs: MaxWidth, Outputs: 3, Dim: 1 << 10, Loss: LossSoftmaxCE}, "parameters, at most"},
		{"kind", SparseConfig{Kind: "bert", Inputs: 4, Outputs: 3, Loss: LossSoftmaxCE}, "unknown kind"},
	} {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, tc.c.Validate(), tc.want) })
	}
}

// TestFitSparseLearns trains softmax regression and an embedding bag on a synthetic task where
// the class is decided by which of a few marker tokens a row holds among noise tokens.
func TestFitSparseLearns(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	const rows, classes, vocab = 600, 3, 200
	x := NewCSR(vocab)
	y := make([]float64, rows)
	for i := range rows {
		k := rng.IntN(classes)
		y[i] = float64(k)
		idx := []int{k}
		for range 8 {
			idx = append(idx, classes+rng.IntN(vocab-classes))
		}
		val := make([]float64, len(idx))
		for p := range val {
			val[p] = 1 / float64(len(idx))
		}
		if err := x.AppendRow(idx, val); err != nil {
			t.Fatal(err)
		}
	}
	train, test := make([]int, 0, rows), make([]int, 0, rows)
	for i := range rows {
		if i%4 == 0 {
			test = append(test, i)
		} else {
			train = append(train, i)
		}
	}
	sub := func(rs []int) []float64 {
		out := make([]float64, len(rs))
		for k, i := range rs {
			out[k] = y[i]
		}
		return out
	}
	for _, c := range []SparseConfig{
		{Kind: KindSparseLinear, Inputs: vocab, Outputs: classes, Loss: LossSoftmaxCE},
		{Kind: KindEmbeddingBag, Inputs: vocab, Outputs: classes, Dim: 8, Loss: LossSoftmaxCE},
	} {
		t.Run(c.Kind, func(t *testing.T) {
			m, err := NewSparse(c, rand.New(rand.NewPCG(1, 2)))
			if err != nil {
				t.Fatal(err)
			}
			cfg := FitConfig{Epochs: 30, BatchSize: 16, Seed: 3, Optimizer: OptimizerConfig{Name: OptAdam, LR: 0.05}}
			if err := FitSparse(m, x.SelectRows(train), sub(train), cfg); err != nil {
				t.Fatal(err)
			}
			if mt := EvaluateSparse(m, x.SelectRows(test), sub(test)); mt.Accuracy < 0.95 {
				t.Errorf("held-out accuracy %.3f, want ≥ 0.95", mt.Accuracy)
			}
		})
	}
}
