package data

import (
	"fmt"
	"math"
	"strconv"

	"gonum.org/v1/gonum/mat"
)

// Synthetic returns a reproducible synthetic classification data set for
// scale tests: rows × features, classes balanced (counts differ by at most
// one) and shuffled. Each class k has a centroid μₖ with coordinates drawn
// from N(0, 4/features), and a row of class k is μₖ + N(0, I). Two
// centroids are then √8 ≈ 2.8 apart in expectation of the squared
// distance, whatever the width (the more features, the closer), so a
// nearest-centroid rule separates two classes with accuracy near
// Φ(√2) ≈ 0.92: learnable, not trivial. Features are named x0, x1, …,
// classes "0", "1", …, the label "class". Deterministic given seed.
//
// Synthetic panics unless rows ≥ classes ≥ 2 and features ≥ 1: its
// arguments come from code, not from input.
func Synthetic(rows, features, classes int, seed uint64) *Dataset {
	if classes < 2 || rows < classes || features < 1 {
		panic(fmt.Sprintf("data: Synthetic(%d rows, %d features, %d classes): want rows ≥ classes ≥ 2, features ≥ 1", rows, features, classes))
	}
	rng, _ := newRand("synthetic", seed)
	sd := 2 / math.Sqrt(float64(features))
	centroids := make([]float64, classes*features)
	for i := range centroids {
		centroids[i] = sd * rng.NormFloat64()
	}
	d := &Dataset{
		Name:     "synthetic",
		Features: make([]string, features),
		X:        mat.NewDense(rows, features, nil),
		Y:        make([]float64, rows),
		Classes:  make([]string, classes),
		Label:    "class",
		Missing:  MissingMean,
	}
	for j := range d.Features {
		d.Features[j] = "x" + strconv.Itoa(j)
	}
	for k := range d.Classes {
		d.Classes[k] = strconv.Itoa(k)
	}
	for i := range rows {
		d.Y[i] = float64(i % classes)
	}
	rng.Shuffle(rows, func(i, j int) { d.Y[i], d.Y[j] = d.Y[j], d.Y[i] })
	for i := range rows {
		mu := centroids[int(d.Y[i])*features:][:features]
		row := d.X.RawRowView(i)
		for j := range row {
			row[j] = mu[j] + rng.NormFloat64()
		}
	}
	return d
}
