package data

import (
	"fmt"
	"math"
	"testing"
)

// nearestCentroidAccuracy fits class means on train and scores test.
func nearestCentroidAccuracy(train, test *Dataset) float64 {
	_, c := train.X.Dims()
	k := len(train.Classes)
	mu := make([]float64, k*c)
	n := train.ClassCounts()
	for i := range train.Rows() {
		y := int(train.Y[i])
		for j, v := range train.X.RawRowView(i) {
			mu[y*c+j] += v / float64(n[y])
		}
	}
	correct := 0
	for i := range test.Rows() {
		best, bestD := 0, math.Inf(1)
		for y := range k {
			var d float64
			for j, v := range test.X.RawRowView(i) {
				d += (v - mu[y*c+j]) * (v - mu[y*c+j])
			}
			if d < bestD {
				best, bestD = y, d
			}
		}
		if best == int(test.Y[i]) {
			correct++
		}
	}
	return float64(correct) / float64(test.Rows())
}

func TestSynthetic(t *testing.T) {
	rows := 20000
	if testing.Short() {
		rows = 4000
	}
	for _, tt := range []struct{ features, classes int }{{2, 2}, {30, 2}, {64, 10}, {500, 3}} {
		t.Run(fmt.Sprintf("features=%d/classes=%d", tt.features, tt.classes), func(t *testing.T) {
			d := Synthetic(rows, tt.features, tt.classes, 1)
			if err := d.Validate(); err != nil {
				t.Fatal(err)
			}
			if r, c := d.X.Dims(); r != rows || c != tt.features || len(d.Classes) != tt.classes {
				t.Fatalf("%d×%d with %d classes", r, c, len(d.Classes))
			}
			for k, n := range d.ClassCounts() {
				if n < rows/tt.classes || n > rows/tt.classes+1 {
					t.Errorf("class %d: %d rows, want balanced", k, n)
				}
			}
			train, test, err := StratifiedSplit(d, 0.3, 1)
			if err != nil {
				t.Fatal(err)
			}
			acc := nearestCentroidAccuracy(train, test)
			chance := 1 / float64(tt.classes)
			t.Logf("nearest-centroid accuracy %.3f (chance %.3f)", acc, chance)
			// two classes √8 apart in unit noise: Φ(√2) ≈ 0.92 at best
			if acc < chance+0.2 || acc > 0.99 {
				t.Errorf("nearest-centroid accuracy %.3f: want learnable but not trivial", acc)
			}
			if sameDataset(d, Synthetic(rows, tt.features, tt.classes, 1)) != nil {
				t.Error("same seed, different data")
			}
			if sameDataset(d, Synthetic(rows, tt.features, tt.classes, 2)) == nil {
				t.Error("different seeds, same data")
			}
		})
	}
}

func TestSyntheticPanicsOnBadShape(t *testing.T) {
	for _, args := range [][3]int{{10, 0, 2}, {10, 3, 1}, {1, 3, 2}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Synthetic%v did not panic", args)
				}
			}()
			Synthetic(args[0], args[1], args[2], 0)
		}()
	}
}
