package dp_test

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/fedcrypt/fedcrypt/dp"
	"github.com/fedcrypt/fedcrypt/model"
	"gonum.org/v1/gonum/mat"
)

func ExampleEpsilon() {
	run := dp.Event{SampleRate: 0.04, NoiseMultiplier: 1.5, Steps: 2250}
	rdp, err := dp.Epsilon(dp.AccountantConfig{Kind: dp.KindRDP}, 1e-5, run)
	if err != nil {
		panic(err)
	}
	pld, err := dp.Epsilon(dp.AccountantConfig{Kind: dp.KindPLD}, 1e-5, run)
	if err != nil {
		panic(err)
	}
	fmt.Printf("RDP ε = %.4f, PLD ε = %.4f\n", rdp, pld)
	// Output: RDP ε = 7.3291, PLD ε = 6.7688
}

func ExampleCalibrateNoise() {
	sigma, err := dp.CalibrateNoise(dp.AccountantConfig{Kind: dp.KindRDP}, 8, 1e-5, 0.04, 2000)
	if err != nil {
		panic(err)
	}
	fmt.Printf("noise multiplier %.4f\n", sigma)
	// Output: noise multiplier 1.3561
}

func ExampleLedger_Reserve() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "ledger")
	defer os.RemoveAll(dir)
	store := dp.FileStore{Path: filepath.Join(dir, "ledger.json")}

	key := bytes.Repeat([]byte{42}, 32) // the hospital's digest key
	id, _ := dp.DatasetID(key, strings.NewReader("radius,texture,label\n17.9,10.4,1\n"))
	ledger, _ := dp.NewLedger(id, 569, dp.LedgerConfig{EpsilonCap: 1, Delta: 1e-5, Accountant: dp.AccountantConfig{Kind: dp.KindRDP}})
	round := dp.Entry{Run: "fed-1/round-1", Kind: dp.EntryTraining, ClipNorm: 1, PrivacyUnit: "record",
		Event: dp.Event{SampleRate: 0.05, NoiseMultiplier: 3, Steps: 40}}
	for r := 1; ; r++ {
		round.Run = fmt.Sprintf("fed-1/round-%d", r)
		eps, err := ledger.Reserve(ctx, store, round) // durable before training starts
		if errors.Is(err, dp.ErrBudgetExhausted) {
			fmt.Printf("round %d refused\n", r)
			break
		}
		fmt.Printf("round %d: ε = %.3f\n", r, eps)
	}
	// Output:
	// round 1: ε = 0.459
	// round 2: ε = 0.645
	// round 3: ε = 0.792
	// round 4: ε = 0.918
	// round 5 refused
}

func ExampleTrain() {
	// Two clusters of 400 rows with 4 features.
	r := rand.New(rand.NewPCG(1, 1))
	x := mat.NewDense(400, 4, nil)
	y := make([]float64, 400)
	for i := range 400 {
		y[i] = float64(i % 2)
		for j := range 4 {
			x.Set(i, j, r.NormFloat64()+2*y[i]-1)
		}
	}
	m, _ := model.New(model.Config{Kind: "logreg", Inputs: 4, Outputs: 1, Loss: "bce"}, r)
	cfg := dp.SGDConfig{ClipNorm: 1, NoiseMultiplier: 2, SampleRate: 0.1, Steps: 100,
		Optimizer: model.OptimizerConfig{Name: "sgd", LR: 0.5}}
	st, err := dp.Train(m, x, y, nil, cfg, crand.Reader)
	if err != nil {
		panic(err)
	}
	eps, _ := dp.Epsilon(dp.AccountantConfig{Kind: dp.KindPLD}, 1e-5, cfg.Event())
	fmt.Printf("%d steps, ε = %.2f, accuracy above 0.9: %v\n", st.Steps, eps, model.Evaluate(m, x, y).Accuracy > 0.9)
	// Output: 100 steps, ε = 2.34, accuracy above 0.9: true
}
