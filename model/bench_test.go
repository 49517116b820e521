package model

import (
	"fmt"
	"math"
	"testing"
	"time"

	"gonum.org/v1/gonum/floats"
)

// BenchmarkTrain measures non-private training throughput: one optimizer step per batch
// (Backward, summed gradient, mean, Adam step).
func BenchmarkTrain(b *testing.B) {
	for _, bc := range []struct {
		name string
		cfg  Config
	}{
		{"logreg-30", Config{Kind: KindLogReg, Inputs: 30, Outputs: 1, Loss: LossBCE}},
		{"mlp-64-128-64-10", Config{Kind: KindMLP, Inputs: 64, Outputs: 10, Hidden: []int{128, 64}, Loss: LossSoftmaxCE}},
	} {
		const batch = 64
		b.Run(fmt.Sprintf("model=%s/batch=%d", bc.name, batch), func(b *testing.B) {
			m, x, y := randomProblem(b, bc.cfg, batch, 1)
			ws := NewWorkspace(m)
			grad := make([]float64, m.NumParams())
			opt, err := NewOptimizer(OptimizerConfig{Name: OptAdam, LR: 1e-3}, m.NumParams())
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			best := time.Duration(math.MaxInt64)
			for b.Loop() {
				t0 := time.Now()
				m.Backward(ws, x, y)
				ws.Gradient(grad, nil)
				floats.Scale(1.0/batch, grad)
				opt.Step(m.Params(), grad)
				best = min(best, time.Since(t0))
			}
			b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "examples/s")
			// The fastest step, the figure least disturbed by other load on a shared machine.
			b.ReportMetric(batch/best.Seconds(), "best-examples/s")
			b.ReportMetric(float64(m.NumParams()), "params")
		})
	}
}

// dpCases are MLPs of about 10⁴ and 10⁶ parameters for the private-step benchmarks.
var dpCases = []struct {
	name string
	cfg  Config
}{
	{"1e4", Config{Kind: KindMLP, Inputs: 64, Outputs: 10, Hidden: []int{128}, Loss: LossSoftmaxCE}},        // 9,610
	{"1e6", Config{Kind: KindMLP, Inputs: 784, Outputs: 10, Hidden: []int{1000, 200}, Loss: LossSoftmaxCE}}, // 987,210
}

// BenchmarkGradient compares the gradient work of a private step (Backward, Norms, clip factors,
// Gradient(c)), and of one clipping per group of rows (GroupNorms instead of Norms), with a
// non-private one (Backward, Gradient(nil)) on a batch of 64.
func BenchmarkGradient(b *testing.B) {
	const batch, clip = 64, 1.0
	for _, dc := range dpCases {
		m, x, y := randomProblem(b, dc.cfg, batch, 2)
		ws := NewWorkspace(m)
		grad := make([]float64, m.NumParams())
		norms, c := make([]float64, batch), make([]float64, batch)
		private := func() {
			m.Backward(ws, x, y)
			ws.Norms(norms)
			for i, n := range norms {
				c[i] = min(1, clip/n)
			}
			ws.Gradient(grad, c)
		}
		// Patient-level clipping: 16 patients of 4 rows each, every row weighted by its
		// patient's clip factor.
		group, gnorms := make([]int, batch), make([]float64, batch/4)
		for i := range group {
			group[i] = i / 4
		}
		privateGroups := func() {
			m.Backward(ws, x, y)
			ws.GroupNorms(gnorms, group)
			for i, g := range group {
				c[i] = min(1, clip/gnorms[g])
			}
			ws.Gradient(grad, c)
		}
		nonPrivate := func() {
			m.Backward(ws, x, y)
			ws.Gradient(grad, nil)
		}
		for _, v := range []struct {
			name string
			step func()
		}{{"private", private}, {"private-groups", privateGroups}, {"nonprivate", nonPrivate}} {
			b.Run(fmt.Sprintf("params=%s/%s", dc.name, v.name), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					v.step()
				}
				b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "examples/s")
			})
		}
		// The steps alternated in one run. On a shared machine other processes only ever add
		// time, so the fastest of many repetitions is the figure least disturbed by them; the
		// ratios are taken of those minima.
		b.Run(fmt.Sprintf("params=%s/ratio", dc.name), func(b *testing.B) {
			steps := []func(){nonPrivate, private, privateGroups}
			best := []time.Duration{math.MaxInt64, math.MaxInt64, math.MaxInt64}
			for b.Loop() {
				for k, step := range steps {
					t0 := time.Now()
					step()
					best[k] = min(best[k], time.Since(t0))
				}
			}
			b.ReportMetric(float64(best[0].Nanoseconds()), "min-nonprivate-ns")
			b.ReportMetric(float64(best[1])/float64(best[0]), "private/nonprivate")
			b.ReportMetric(float64(best[2])/float64(best[0]), "groups/nonprivate")
		})
	}
}
