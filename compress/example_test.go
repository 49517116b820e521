package compress_test

import (
	"fmt"

	"github.com/fedcrypt/fedcrypt/compress"
)

// Two hospitals compress their round-3 updates with the map the round fixes; the sum of what they
// upload (what the aggregator adds, encrypted) expands to the projection of the summed updates.
func Example() {
	cfg, err := compress.Parse("randk:0.25")
	if err != nil {
		panic(err)
	}
	seed := compress.RoundSeed([]byte("federation config hash"), 3)
	plan, err := compress.NewPlan(cfg, 8, seed)
	if err != nil {
		panic(err)
	}
	a := []float64{1, 2, 3, 4, 5, 6, 7, 8}
	b := []float64{10, 20, 30, 40, 50, 60, 70, 80}
	ya, yb := make([]float64, plan.Size()), make([]float64, plan.Size())
	plan.Compress(ya, a)
	plan.Compress(yb, b)
	sum := make([]float64, plan.Size())
	for i := range sum {
		sum[i] = ya[i] + yb[i]
	}
	out := make([]float64, plan.Dim())
	plan.Expand(out, sum)
	fmt.Println("uploaded", plan.Size(), "of", plan.Dim(), "values each")
	fmt.Println("sum", sum)
	fmt.Println("expanded", out)
	// Output:
	// uploaded 2 of 8 values each
	// sum [11 77]
	// expanded [11 0 0 0 0 0 77 0]
}
