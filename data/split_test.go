package data

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"testing"
)

// withUnits gives d a privacy unit: rows are grouped into patients of one
// to four rows (of mixed labels), in a fixed pseudo-random pattern.
func withUnits(d *Dataset) *Dataset {
	d = d.Subset(allRows(d))
	d.PrivacyUnit = "patient"
	d.Units = make([]int, d.Rows())
	unit, left := -1, 0
	for i := range d.Units {
		if left == 0 {
			unit++
			left = 1 + (i*7+3)%4
			d.UnitIDs = append(d.UnitIDs, fmt.Sprintf("P%04d", unit))
		}
		d.Units[i] = unit
		left--
	}
	return d
}

func allRows(d *Dataset) []int {
	rows := make([]int, d.Rows())
	for i := range rows {
		rows[i] = i
	}
	return rows
}

// unitSets returns the set of unit ids in each data set, failing if a
// unit appears in two of them.
func unitSets(t *testing.T, parts ...*Dataset) map[string]int {
	t.Helper()
	owner := map[string]int{}
	for p, d := range parts {
		if err := d.Validate(); err != nil {
			t.Fatal(err)
		}
		for _, id := range d.UnitIDs {
			if q, ok := owner[id]; ok && q != p {
				t.Fatalf("unit %s in parts %d and %d", id, q, p)
			}
			owner[id] = p
		}
	}
	return owner
}

func wdbc(t testing.TB) *Dataset {
	d, _, err := LoadEmbedded("wdbc", Options{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func ratio(d *Dataset, class int) float64 {
	return float64(d.ClassCounts()[class]) / float64(d.Rows())
}

func TestStratifiedSplit(t *testing.T) {
	d := wdbc(t)
	for _, frac := range []float64{0.1, 0.2, 0.25, 0.5} {
		t.Run(fmt.Sprint(frac), func(t *testing.T) {
			train, test, err := StratifiedSplit(d, frac, 42)
			if err != nil {
				t.Fatal(err)
			}
			if train.Rows()+test.Rows() != d.Rows() || test.Rows() != int(math.Round(frac*569)) {
				t.Fatalf("train %d + test %d rows of %d", train.Rows(), test.Rows(), d.Rows())
			}
			// the malignant share is kept to within one row
			want := ratio(d, 1)
			for _, p := range []*Dataset{train, test} {
				if diff := math.Abs(float64(p.ClassCounts()[1]) - want*float64(p.Rows())); diff > 1 {
					t.Errorf("%d of %d malignant, want %.1f", p.ClassCounts()[1], p.Rows(), want*float64(p.Rows()))
				}
			}
			if err := disjointCover(d, train, test); err != nil {
				t.Error(err)
			}
		})
	}
}

// disjointCover checks that the parts' rows are exactly d's rows, each
// once, by matching rows on their contents.
func disjointCover(d *Dataset, parts ...*Dataset) error {
	var buf []byte
	key := func(d *Dataset, i int) string {
		buf = binary.LittleEndian.AppendUint64(buf[:0], math.Float64bits(d.Y[i]))
		for _, v := range d.X.RawRowView(i) {
			buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(v))
		}
		return string(buf)
	}
	count := map[string]int{}
	for i := range d.Rows() {
		count[key(d, i)]++
	}
	for _, p := range parts {
		for i := range p.Rows() {
			count[key(p, i)]--
		}
	}
	for k, n := range count {
		if n != 0 {
			return fmt.Errorf("a row of %d bytes: %+d copies missing", len(k), n)
		}
	}
	return nil
}

func TestSplitDeterministic(t *testing.T) {
	d := wdbc(t)
	a1, b1, _ := StratifiedSplit(d, 0.3, 9)
	a2, b2, _ := StratifiedSplit(d, 0.3, 9)
	a3, _, _ := StratifiedSplit(d, 0.3, 10)
	if sameDataset(a1, a2) != nil || sameDataset(b1, b2) != nil {
		t.Error("same seed, different splits")
	}
	if sameDataset(a1, a3) == nil {
		t.Error("different seeds, same split")
	}
	f1, _ := StratifiedKFold(d, 5, 9)
	f2, _ := StratifiedKFold(d, 5, 9)
	for i := range f1 {
		if sameDataset(f1[i].Test, f2[i].Test) != nil {
			t.Errorf("fold %d differs with the same seed", i)
		}
	}
}

func TestStratifiedKFold(t *testing.T) {
	for _, name := range []string{"wdbc", "digits"} {
		d, _, err := LoadEmbedded(name, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []int{2, 5, 10} {
			t.Run(fmt.Sprintf("%s/k=%d", name, k), func(t *testing.T) {
				folds, err := StratifiedKFold(d, k, 0)
				if err != nil {
					t.Fatal(err)
				}
				tests := make([]*Dataset, k)
				total := d.ClassCounts()
				for f, fold := range folds {
					tests[f] = fold.Test
					if fold.Train.Rows()+fold.Test.Rows() != d.Rows() {
						t.Fatalf("fold %d: %d + %d rows", f, fold.Train.Rows(), fold.Test.Rows())
					}
					if err := disjointCover(d, fold.Train, fold.Test); err != nil {
						t.Fatalf("fold %d: %v", f, err)
					}
					if n := fold.Test.Rows(); n < d.Rows()/k || n > d.Rows()/k+1 {
						t.Errorf("fold %d: %d test rows, want %d or %d", f, n, d.Rows()/k, d.Rows()/k+1)
					}
					for c, n := range fold.Test.ClassCounts() {
						if n < total[c]/k || n > total[c]/k+1 {
							t.Errorf("fold %d: class %d has %d test rows, want %d or %d", f, c, n, total[c]/k, total[c]/k+1)
						}
					}
				}
				if err := disjointCover(d, tests...); err != nil {
					t.Errorf("test folds do not partition the rows: %v", err)
				}
			})
		}
	}
}

func TestSplitKeepsUnits(t *testing.T) {
	d := withUnits(wdbc(t))
	train, test, err := StratifiedSplit(d, 0.25, 3)
	if err != nil {
		t.Fatal(err)
	}
	owner := unitSets(t, train, test)
	if len(owner) != d.NumUnits() {
		t.Errorf("%d units after the split, %d before", len(owner), d.NumUnits())
	}
	if got, want := test.NumUnits(), int(math.Round(0.25*float64(d.NumUnits()))); got != want {
		t.Errorf("%d test units, want %d", got, want)
	}
	folds, err := StratifiedKFold(d, 5, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range folds {
		unitSets(t, f.Train, f.Test)
	}
}

func TestSplitErrors(t *testing.T) {
	d := wdbc(t)
	two := d.Subset([]int{0, 1})
	for _, tt := range []struct {
		name string
		err  error
	}{
		{"fraction 0", second2(StratifiedSplit(d, 0, 1))},
		{"fraction 1", second2(StratifiedSplit(d, 1, 1))},
		{"fraction NaN", second2(StratifiedSplit(d, math.NaN(), 1))},
		{"one row", second2(StratifiedSplit(d.Subset([]int{0}), 0.5, 1))},
		{"k 1", second(StratifiedKFold(d, 1, 1))},
		{"k above rows", second(StratifiedKFold(two, 3, 1))},
	} {
		if tt.err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
	// the smallest possible split still leaves a row on each side
	train, test, err := StratifiedSplit(two, 0.01, 1)
	if err != nil || train.Rows() != 1 || test.Rows() != 1 {
		t.Errorf("2 rows at 0.01: %v", err)
	}
}

func second2[A, B any](_ A, _ B, err error) error { return err }

func TestApportion(t *testing.T) {
	tests := []struct {
		total   int
		weights []int
		want    []int
	}{
		{10, []int{5, 5}, []int{5, 5}},
		{3, []int{1, 1, 1, 1}, []int{1, 1, 1, 0}},
		{142, []int{357, 212}, []int{89, 53}},
		{5, []int{2, 0, 8}, []int{1, 0, 4}},
		{9, []int{1, 1}, []int{1, 1}},
	}
	for _, tt := range tests {
		if got := apportion(tt.total, tt.weights); !slices.Equal(got, tt.want) {
			t.Errorf("apportion(%d, %v) = %v, want %v", tt.total, tt.weights, got, tt.want)
		}
	}
}
