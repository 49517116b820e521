package dp

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/fedcrypt/fedcrypt/model"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// blobs returns n rows of d features in two Gaussian clusters, label 1 for
// the cluster at +shift.
func blobs(n, d int, shift float64, seed uint64) (*mat.Dense, []float64) {
	r := rand.New(rand.NewPCG(seed, 7))
	x := mat.NewDense(n, d, nil)
	y := make([]float64, n)
	for i := range n {
		y[i] = float64(i % 2)
		for j := range d {
			x.Set(i, j, r.NormFloat64()+shift*(2*y[i]-1))
		}
	}
	return x, y
}

func newModel(t testing.TB, cfg model.Config) *model.Model {
	t.Helper()
	m, err := model.New(cfg, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var logreg = func(d int) model.Config { return model.Config{Kind: "logreg", Inputs: d, Outputs: 1, Loss: "bce"} }

func sgdConfig() SGDConfig {
	return SGDConfig{ClipNorm: 1, NoiseMultiplier: 1, SampleRate: 0.1, Steps: 200,
		Optimizer: model.OptimizerConfig{Name: "sgd", LR: 0.5}}
}

func TestTrainLearns(t *testing.T) {
	for _, noise := range []string{SamplerFast, SamplerGoogle} {
		t.Run(noise, func(t *testing.T) {
			x, y := blobs(1000, 5, 1, 1)
			m := newModel(t, logreg(5))
			before := m.Loss(x, y)
			cfg := sgdConfig()
			cfg.Noise = noise
			if noise == SamplerGoogle {
				cfg.Steps = 40
			}
			st, err := Train(m, x, y, nil, cfg, seeded(1))
			if err != nil {
				t.Fatal(err)
			}
			after := m.Loss(x, y)
			acc := model.Evaluate(m, x, y).Accuracy
			if !(after < before*0.7) || acc < 0.85 {
				t.Errorf("loss %v → %v, accuracy %v: DP-SGD did not learn", before, after, acc)
			}
			if st.Steps != cfg.Steps || st.NoiseStdDev < 1 || !(st.SamplerDistance > 0) {
				t.Errorf("stats %+v", st)
			}
			// Poisson sampling: mean batch q·n within 4 standard errors.
			se := math.Sqrt(1000*0.1*0.9/float64(cfg.Steps)) * 4
			if math.Abs(st.MeanBatch-100) > se {
				t.Errorf("mean batch %v, want 100 ± %v", st.MeanBatch, se)
			}
		})
	}
}

// TestTrainStepMatchesDefinition runs one full-batch step with small noise
// (standard deviation 5e-7) and compares it with the DP-SGD update computed from the model's
// per-example gradients by brute force: clip each to C, sum, divide by q·n.
func TestTrainStepMatchesDefinition(t *testing.T) {
	cfgM := model.Config{Kind: "mlp", Inputs: 4, Outputs: 3, Hidden: []int{5}, Loss: "softmax-ce"}
	x, _ := blobs(12, 4, 0.5, 3)
	y := make([]float64, 12)
	for i := range y {
		y[i] = float64(i % 3)
	}
	units := []int{7, 7, 3, 3, 3, 9, 1, 1, 4, 4, 4, 4}
	for _, tc := range []struct {
		name  string
		units []int
	}{{"records", nil}, {"units", units}} {
		t.Run(tc.name, func(t *testing.T) {
			m := newModel(t, cfgM)
			start := append([]float64(nil), m.Params()...)
			const clip, lr = 0.05, 1.0
			cfg := SGDConfig{ClipNorm: clip, NoiseMultiplier: 1e-5, SampleRate: 1, Steps: 1,
				Optimizer: model.OptimizerConfig{Name: "sgd", LR: lr}}
			if _, err := Train(m, x, y, tc.units, cfg, seeded(2)); err != nil {
				t.Fatal(err)
			}
			// Brute force: one example (or unit) at a time.
			ref := newModel(t, cfgM)
			ws := model.NewWorkspace(ref)
			groups := map[int][]int{}
			var order []int
			for i := range 12 {
				u := i
				if tc.units != nil {
					u = tc.units[i]
				}
				if _, ok := groups[u]; !ok {
					order = append(order, u)
				}
				groups[u] = append(groups[u], i)
			}
			sum := make([]float64, ref.NumParams())
			g := make([]float64, ref.NumParams())
			for _, u := range order {
				rows := groups[u]
				xb := mat.NewDense(len(rows), 4, nil)
				yb := make([]float64, len(rows))
				for k, i := range rows {
					xb.SetRow(k, x.RawRowView(i))
					yb[k] = y[i]
				}
				ref.Backward(ws, xb, yb)
				ws.Gradient(g, nil)
				if n := floats.Norm(g, 2); n > clip {
					floats.Scale(clip/n, g)
				}
				floats.Add(sum, g)
			}
			want := append([]float64(nil), start...)
			floats.AddScaled(want, -lr/float64(len(order)), sum)
			got := m.Params()
			for i := range want {
				if math.Abs(got[i]-want[i]) > 1e-5 {
					t.Fatalf("param %d: %v, want %v (start %v)", i, got[i], want[i], start[i])
				}
			}
		})
	}
}

func TestTrainNoisesEmptyBatches(t *testing.T) {
	x, y := blobs(10, 3, 1, 4)
	m := newModel(t, logreg(3))
	start := append([]float64(nil), m.Params()...)
	cfg := sgdConfig()
	cfg.SampleRate, cfg.Steps = 1e-9, 3
	st, err := Train(m, x, y, nil, cfg, seeded(5))
	if err != nil {
		t.Fatal(err)
	}
	if st.MeanBatch != 0 {
		t.Fatalf("mean batch %v at q = 1e-9", st.MeanBatch)
	}
	if floats.Equal(start, m.Params()) {
		t.Error("parameters unchanged: empty batches must still be noised")
	}
}

func TestTrainReproducible(t *testing.T) {
	x, y := blobs(200, 4, 1, 5)
	run := func(seed byte) []float64 {
		m := newModel(t, logreg(4))
		cfg := sgdConfig()
		cfg.Steps = 20
		cfg.Optimizer = model.OptimizerConfig{Name: "adam", LR: 0.05}
		if _, err := Train(m, x, y, nil, cfg, seeded(seed)); err != nil {
			t.Fatal(err)
		}
		return m.Params()
	}
	if a, b := run(9), run(9); !floats.Equal(a, b) {
		t.Error("same seed, different models")
	}
	if a, b := run(9), run(10); floats.Equal(a, b) {
		t.Error("different seeds, same model")
	}
}

func TestTrainBadInput(t *testing.T) {
	x, y := blobs(20, 3, 1, 6)
	good := sgdConfig()
	with := func(f func(*SGDConfig)) SGDConfig { c := good; f(&c); return c }
	nan := math.NaN()
	bad := mat.NewDense(20, 3, nil)
	bad.Copy(x)
	bad.Set(4, 1, math.Inf(1))
	cases := []struct {
		name  string
		x     *mat.Dense
		y     []float64
		units []int
		cfg   SGDConfig
		want  string
	}{
		{"clip", x, y, nil, with(func(c *SGDConfig) { c.ClipNorm = 0 }), "clip norm 0"},
		{"sigma", x, y, nil, with(func(c *SGDConfig) { c.NoiseMultiplier = nan }), "noise multiplier NaN"},
		{"rate", x, y, nil, with(func(c *SGDConfig) { c.SampleRate = 2 }), "sample rate 2"},
		{"steps", x, y, nil, with(func(c *SGDConfig) { c.Steps = 0 }), "steps 0"},
		{"sampler", x, y, nil, with(func(c *SGDConfig) { c.Noise = "box-muller" }), `"box-muller"`},
		{"optimizer", x, y, nil, with(func(c *SGDConfig) { c.Optimizer.Name = "lbfgs" }), "lbfgs"},
		{"targets", x, y[:5], nil, good, "5 targets for 20 rows"},
		{"labels", x, append(make([]float64, 19), 7), nil, good, "dp-sgd"},
		{"units", x, y, []int{1, 2}, good, "2 privacy-unit labels for 20 rows"},
		{"inf", bad, y, nil, good, "row 4"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := newModel(t, logreg(3))
			_, err := Train(m, c.x, c.y, c.units, c.cfg, seeded(1))
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %v, want one line containing %q", err, c.want)
			}
		})
	}
	m := newModel(t, logreg(4))
	if _, err := Train(m, x, y, nil, good, seeded(1)); err == nil || !strings.Contains(err.Error(), "columns") {
		t.Errorf("wrong column count: %v", err)
	}
}

// BenchmarkStepRatio measures one private DP-SGD step (Poisson sampling,
// norms, clipped sum, noise from the fast sampler, update) against one
// non-private step (backward, plain sum, update) on batches of about the
// same size, and reports their ratio.
func BenchmarkStepRatio(b *testing.B) {
	const rows, batch = 569, 64
	cases := []struct {
		name string
		cfg  model.Config
	}{
		{"logreg/params=31", logreg(30)},
		{"mlp/params=10k", model.Config{Kind: "mlp", Inputs: 30, Outputs: 1, Hidden: []int{310}, Loss: "bce"}},
		{"mlp/params=1M", model.Config{Kind: "mlp", Inputs: 30, Outputs: 1, Hidden: []int{990, 990}, Loss: "bce"}},
	}
	x, y := blobs(rows, 30, 0.5, 8)
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			m := newModel(b, c.cfg)
			opt := model.OptimizerConfig{Name: "sgd", LR: 0.01}
			cfg := SGDConfig{ClipNorm: 1, NoiseMultiplier: 1, SampleRate: batch / float64(rows), Steps: 1, Optimizer: opt}
			nz, err := NewNoise(SamplerFast, 1, 1, m.NumParams(), seeded(1))
			if err != nil {
				b.Fatal(err)
			}
			o1, _ := model.NewOptimizer(opt, m.NumParams())
			l := &denseStepper{m: m, x: x, y: y, per: 1, ws: model.NewWorkspace(m)}
			tr := &trainer{l: l, rows: rows, cfg: cfg, noise: nz, opt: o1,
				grad: make([]float64, m.NumParams()), expected: batch, threshold: sampleThreshold(cfg.SampleRate)}
			// The non-private reference: the first 64 rows, plain sum.
			mp := m.Clone()
			o2, _ := model.NewOptimizer(opt, mp.NumParams())
			ws := model.NewWorkspace(mp)
			xb := mat.DenseCopyOf(x.Slice(0, batch, 0, 30))
			yb := y[:batch]
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
