package dp

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/fedcrypt/fedcrypt/model"
	"gonum.org/v1/gonum/floats"
)

// syntheticDocs returns n documents of about nnz distinct hashed tokens each over cols buckets,
// values scaled to norm 1 as the text featurizer's l2 norm leaves them, and labels mod classes.
func syntheticDocs(n, cols, nnz, classes int, seed uint64) (*model.CSR, []float64) {
	r := rand.New(rand.NewPCG(seed, 9))
	x := model.NewCSR(cols)
	y := make([]float64, n)
	idx, val := make([]int, nnz), make([]float64, nnz)
	for i := range n {
		y[i] = float64(i % classes)
		for k := range nnz {
			// Zipf-like token ids: frequent tokens repeat across documents.
			idx[k] = int(float64(cols) * r.Float64() * r.Float64() * r.Float64())
			val[k] = 1
		}
		if err := x.AppendRow(idx, val); err != nil {
			panic(err)
		}
		_, v := x.Row(i)
		floats.Scale(1/floats.Norm(v, 2), v)
	}
	return x, y
}

// BenchmarkSparseStepRatio measures a DP-SGD step on text models against the non-private step
// on the same batch of 64 documents, alternated in one run so that both see the same machine
// load, with the same GOMAXPROCS (set it with -cpu 1,2: both steps then run with that many
// threads; the private step draws its dense noise on them while its gradients are computed).
//
//	go test ./dp -run XXX -bench SparseStepRatio -cpu 1,2 -benchtime 40x
func BenchmarkSparseStepRatio(b *testing.B) {
	const rows, batch, nnz = 2000, 64, 100
	cases := []struct {
		name string
		cfg  model.SparseConfig
	}{
		{"softmax/buckets=2^14/params=82k", model.SparseConfig{Kind: model.KindSparseLinear, Inputs: 1 << 14, Outputs: 5, Loss: model.LossSoftmaxCE}},
		{"softmax/buckets=2^18/params=1.3M", model.SparseConfig{Kind: model.KindSparseLinear, Inputs: 1 << 18, Outputs: 5, Loss: model.LossSoftmaxCE}},
		{"embag/buckets=2^16/dim=64/params=4.2M", model.SparseConfig{Kind: model.KindEmbeddingBag, Inputs: 1 << 16, Outputs: 5, Dim: 64, Loss: model.LossSoftmaxCE}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			x, y := syntheticDocs(rows, c.cfg.Inputs, nnz, 5, 1)
			m, err := model.NewSparse(c.cfg, rand.New(rand.NewPCG(1, 2)))
			if err != nil {
				b.Fatal(err)
			}
			opt := model.OptimizerConfig{Name: "sgd", LR: 0.1}
			cfg := SGDConfig{ClipNorm: 1, NoiseMultiplier: 1, SampleRate: batch / float64(rows), Steps: 1, Optimizer: opt}
			nz, err := NewNoise(SamplerFast, 1, 1, m.NumParams(), seeded(1))
			if err != nil {
				b.Fatal(err)
			}
			o1, _ := model.NewOptimizer(opt, m.NumParams())
			l := &sparseStepper{m: m, x: x, y: y, ws: model.NewSparseWorkspace(m)}
			tr := &trainer{l: l, rows: rows, cfg: cfg, noise: nz, opt: o1,
				grad: make([]float64, m.NumParams()), expected: batch, threshold: sampleThreshold(cfg.SampleRate)}
			// The non-private reference: the first 64 documents, plain sum.
			mp := m.Clone()
			o2, _ := model.NewOptimizer(opt, mp.NumParams())
			ws := model.NewSparseWorkspace(mp)
			first := make([]int, batch)
			for i := range first {
				first[i] = i
			}
			xb, yb := x.SelectRows(first), y[:batch]
			g := make([]float64, mp.NumParams())
			var priv, plain time.Duration
			var step uint64
			b.ReportAllocs()
			for b.Loop() {
				t0 := time.Now()
				tr.sampler = newStream(&tr.key, step, 0)
				step++
				if _, err := tr.step(); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				mp.Backward(ws, xb, yb)
				ws.Gradient(g, nil)
				floats.Scale(1.0/batch, g)
				o2.Step(mp.Params(), g)
				t2 := time.Now()
				priv += t1.Sub(t0)
				plain += t2.Sub(t1)
			}
			b.ReportMetric(float64(priv)/float64(plain), "private/non-private")
			b.ReportMetric(float64(priv.Nanoseconds())/float64(b.N), "private-ns/step")
			b.ReportMetric(float64(plain.Nanoseconds())/float64(b.N), "non-private-ns/step")
		})
	}
}
