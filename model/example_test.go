package model_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/fedcrypt/fedcrypt/model"
)

// One batch pass gives what a DP-SGD step needs: per-example gradient norms, then the sum of the
// gradients each clipped to norm 1.
func ExampleWorkspace() {
	m, _ := model.New(model.Config{Kind: "logreg", Inputs: 2, Outputs: 1, Loss: "bce"}, rand.New(rand.NewPCG(1, 1)))
	copy(m.Params(), []float64{0.5, -0.5, 0}) // W = (0.5, −0.5), b = 0
	x := mat.NewDense(2, 2, []float64{
		1, 1,
		2, 0,
	})
	y := []float64{1, 0}

	ws := model.NewWorkspace(m)
	loss := m.Backward(ws, x, y)
	norms := make([]float64, 2)
	ws.Norms(norms)
	clip := make([]float64, 2)
	for i, n := range norms {
		clip[i] = min(1, 1/n)
	}
	sum, clipped := make([]float64, m.NumParams()), make([]float64, m.NumParams())
	ws.Gradient(sum, nil)
	ws.Gradient(clipped, clip)

	fmt.Printf("loss sum %.4f\n", loss)
	fmt.Printf("norms    %.4f\n", norms)
	fmt.Printf("sum      %.4f\n", sum)
	fmt.Printf("clipped  %.4f\n", clipped)
	// Output:
	// loss sum 2.0064
	// norms    [0.8660 1.6347]
	// sum      [0.9621 -0.5000 0.2311]
	// clipped  [0.3944 -0.5000 -0.0528]
}

// Train a model on a data set and score it.
func ExampleFit() {
	// Two well-separated classes in 3 dimensions.
	rng := rand.New(rand.NewPCG(1, 2))
	x := mat.NewDense(400, 3, nil)
	y := make([]float64, 400)
	for i := range 400 {
		y[i] = float64(i % 2)
		for j := range 3 {
			x.Set(i, j, rng.NormFloat64()+4*y[i]-2)
		}
	}
	cfg, err := model.ParseSpec("mlp:8", 3, 2)
	if err != nil {
		fmt.Println(err)
		return
	}
	m, _ := model.New(cfg, rand.New(rand.NewPCG(3, 4)))
	err = model.Fit(m, x, y, model.FitConfig{
		Epochs:    20,
		BatchSize: 32,
		Optimizer: model.OptimizerConfig{Name: "adam", LR: 0.01},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	mt := model.Evaluate(m, x, y)
	fmt.Printf("accuracy %.2f, auc %.2f\n", mt.Accuracy, mt.AUC)
	// Output:
	// accuracy 1.00, auc 1.00
}

func ExampleParseSpec() {
	cfg, err := model.ParseSpec("mlp:64,32:tanh", 30, 2)
	if err != nil {
		fmt.Println(err)
		return
	}
	b, _ := json.Marshal(cfg)
	fmt.Println(string(b))
	_, err = model.ParseSpec("mlp:64,x", 30, 2)
	fmt.Println(err)
	// Output:
	// {"kind":"mlp","inputs":30,"outputs":1,"hidden":[64,32],"activation":"tanh","loss":"bce"}
	// model spec "mlp:64,x": hidden width "x" is not a positive integer
}

// Weights survive a round trip through their file format.
func ExampleUnmarshal() {
	cfg := model.Config{Kind: "softmax", Inputs: 4, Outputs: 3, Loss: "softmax-ce"}
	m, _ := model.New(cfg, rand.New(rand.NewPCG(1, 1)))
	b, _ := m.MarshalBinary()
	loaded, err := model.Unmarshal(b)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(b), "bytes,", loaded.NumParams(), "parameters")
	_, err = model.Unmarshal(b[:len(b)-1])
	fmt.Println(err)
	// Output:
	// 203 bytes, 15 parameters
	// model weights: 202 bytes, want 203 (truncated or trailing data)
}
