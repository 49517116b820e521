package dp

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/fedcrypt/fedcrypt/model"
	"gonum.org/v1/gonum/mat"
)

// sparseRows returns n rows over cols columns, each with up to 6 entries drawn with repeats
// (merged), label i mod classes; and the same rows written densely.
func sparseRows(n, cols, classes int, seed uint64) (*model.CSR, *mat.Dense, []float64) {
	r := rand.New(rand.NewPCG(seed, 3))
	x := model.NewCSR(cols)
	xd := mat.NewDense(n, cols, nil)
	y := make([]float64, n)
	for i := range n {
		y[i] = float64(i % classes)
		k := 1 + r.IntN(6)
		idx, val := make([]int, k), make([]float64, k)
		for p := range k {
			idx[p] = (int(y[i]) + classes*r.IntN(cols/classes)) % cols
			val[p] = 2 * r.Float64()
			xd.Set(i, idx[p], xd.At(i, idx[p])+val[p])
		}
		if err := x.AppendRow(idx, val); err != nil {
			panic(err)
		}
	}
	return x, xd, y
}

// TestTrainSparseMatchesDense runs DP-SGD on softmax regression over sparse rows and on the
// dense model over the same rows written densely, from the same randomness: the sampling, the
// norms, the clipping and the noise are the same, so the models must agree to rounding.
func TestTrainSparseMatchesDense(t *testing.T) {
	const rows, cols, classes = 120, 40, 3
	x, xd, y := sparseRows(rows, cols, classes, 1)
	for _, units := range [][]int{nil, func() []int {
		u := make([]int, rows)
		for i := range u {
			u[i] = i / 3
		}
		return u
	}()} {
		sm, err := model.NewSparse(model.SparseConfig{Kind: model.KindSparseLinear, Inputs: cols, Outputs: classes, Loss: model.LossSoftmaxCE}, rand.New(rand.NewPCG(1, 1)))
		if err != nil {
			t.Fatal(err)
		}
		dm := newModel(t, model.Config{Kind: model.KindSoftmax, Inputs: cols, Outputs: classes, Loss: model.LossSoftmaxCE})
		copy(dm.Params(), sm.Params())
		cfg := sgdConfig()
		cfg.ClipNorm, cfg.Steps, cfg.SampleRate = 0.5, 30, 0.2
		ss, err := TrainSparse(sm, x, y, units, cfg, seeded(3))
		if err != nil {
			t.Fatal(err)
		}
		ds, err := Train(dm, xd, y, units, cfg, seeded(3))
		if err != nil {
			t.Fatal(err)
		}
		if ss != ds {
			t.Errorf("units %v: stats %+v, dense %+v", units != nil, ss, ds)
		}
		for p, v := range dm.Params() {
			if math.Abs(sm.Params()[p]-v) > 1e-9 {
				t.Fatalf("units %v: parameter %d is %v, dense %v", units != nil, p, sm.Params()[p], v)
			}
		}
	}
}

// TestTrainSparseNoisesEveryCoordinate checks that the noise is dense: after one step on a batch
// that touches a few embedding rows, every parameter has moved from its start, the rows no
// token touched included.
func TestTrainSparseNoisesEveryCoordinate(t *testing.T) {
	x := model.NewCSR(5000)
	for i := range 10 {
		if err := x.AppendRow([]int{i % 3}, []float64{1}); err != nil {
			t.Fatal(err)
		}
	}
	y := make([]float64, 10)
	for _, c := range []model.SparseConfig{
		{Kind: model.KindSparseLinear, Inputs: 5000, Outputs: 1, Loss: model.LossBCE},
		{Kind: model.KindEmbeddingBag, Inputs: 5000, Outputs: 1, Dim: 4, Loss: model.LossBCE},
	} {
		m, err := model.NewSparse(c, rand.New(rand.NewPCG(1, 1)))
		if err != nil {
			t.Fatal(err)
		}
		start := append([]float64(nil), m.Params()...)
		cfg := sgdConfig()
		cfg.Steps, cfg.SampleRate = 1, 1
		if _, err := TrainSparse(m, x, y, nil, cfg, seeded(4)); err != nil {
			t.Fatal(err)
		}
		for p, v := range m.Params() {
			if v == start[p] {
				t.Fatalf("%s: parameter %d of %d not noised", c.Kind, p, m.NumParams())
			}
		}
	}
}

func TestTrainSparseLearns(t *testing.T) {
	const cols, classes = 60, 3
	x, _, y := sparseRows(3000, cols, classes, 2)
	m, err := model.NewSparse(model.SparseConfig{Kind: model.KindEmbeddingBag, Inputs: cols, Outputs: classes, Dim: 8, Loss: model.LossSoftmaxCE}, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	cfg := sgdConfig()
	cfg.SampleRate, cfg.Steps = 0.05, 300
	cfg.Optimizer = model.OptimizerConfig{Name: "adam", LR: 0.05}
	if _, err := TrainSparse(m, x, y, nil, cfg, seeded(5)); err != nil {
		t.Fatal(err)
	}
	if acc := model.EvaluateSparse(m, x, y).Accuracy; acc < 0.9 {
		t.Errorf("accuracy %.3f after private training on separable rows, want ≥ 0.9", acc)
	}
}

func TestTrainSparseBadInput(t *testing.T) {
	x, _, y := sparseRows(10, 12, 2, 3)
	m, _ := model.NewSparse(model.SparseConfig{Kind: model.KindSparseLinear, Inputs: 12, Outputs: 1, Loss: model.LossBCE}, rand.New(rand.NewPCG(1, 1)))
	other := model.NewCSR(13)
	for _, tc := range []struct {
		name string
		x    *model.CSR
		y    []float64
		want string
	}{
		{"columns", other, nil, "data has 13 columns, model takes 12"},
		{"targets", x, y[:3], "3 targets for 10 rows"},
		{"label", x, append(append([]float64(nil), y[:9]...), 2), "target at row 9 is not a binary label"},
		{"nil", nil, y, "no data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := TrainSparse(m, tc.x, tc.y, nil, sgdConfig(), seeded(1))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}
