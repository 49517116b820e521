package stats_test

import (
	"fmt"
	"math"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/stats"
	"gonum.org/v1/gonum/mat"
)

func Example() {
	schema := data.Schema{Features: []string{"chol", "age"}, Label: "y", Classes: []string{"0", "1"}}
	spec := stats.Spec{EpsilonShare: 0.2, Features: []stats.FeatureSpec{
		{Name: "chol", Bounds: &[2]float64{100, 500}, Bins: 8},
		{Name: "age", Bounds: &[2]float64{18, 90}},
	}}
	l, err := stats.NewLayout(spec, schema)
	if err != nil {
		panic(err)
	}
	fmt.Printf("vector of %d values, sensitivity %.4f\n", l.Len(), l.Sensitivity())

	// One hospital's rows: a cholesterol beyond the bounds is clamped, a
	// missing age counts as missing.
	d := &data.Dataset{Name: "h", Features: schema.Features, Classes: schema.Classes, Label: "y",
		X: mat.NewDense(3, 2, []float64{180, 40, 240, math.NaN(), 900, 70}), Y: []float64{0, 1, 1}}
	v, _, err := l.Encode(d)
	if err != nil {
		panic(err)
	}
	// In a run each hospital adds Release.AddNoise's noise and the
	// federation sums; here, the exact totals.
	s, err := l.Decode(v, 0)
	if err != nil {
		panic(err)
	}
	chol, age := s.Features[0].All, s.Features[1].All
	fmt.Printf("chol: mean %.1f, median in [%g, %g]\n", chol.Mean.Value, chol.Median.Lo, chol.Median.Hi)
	fmt.Printf("age: %g of %g missing, mean %.1f\n", age.Missing.Value, s.Rows.Value, age.Mean.Value)
	tf, _, err := s.Transform(data.MissingMean, data.NormalizeZScore)
	if err != nil {
		panic(err)
	}
	fmt.Printf("transform: fill %.1f, clamp %v\n", tf.Fill, *tf.Clamp[0])
	// Output:
	// vector of 34 values, sensitivity 2.8284
	// chol: mean 306.7, median in [200, 250]
	// age: 1 of 3 missing, mean 55.0
	// transform: fill [306.7 55.0], clamp [100 500]
}
