package federation

import (
	"math"
	"slices"
	"testing"

	"github.com/fedcrypt/fedcrypt/data"
	"gonum.org/v1/gonum/mat"
)

// TestTransforms computes a text federation's transforms from exact
// totals, and checks the model input they give and the digest a claim
// names: the numeric transform's alone without a text column, a digest of
// both with one, changed by any IDF weight.
func TestTransforms(t *testing.T) {
	c := textConfig(t, 3)
	docs := []string{"chest pain at rest", "pain in the chest", "a rash", "fever and rash"}
	d := &data.Dataset{Name: "h", Features: []string{"a"}, Classes: c.Data.Schema.Classes, Label: "y",
		X: mat.NewDense(4, 1, []float64{1, 2, 3, math.NaN()}), Y: []float64{0, 0, 1, 2}, TextColumn: "note", Text: docs}
	l, err := c.StatsLayout()
	if err != nil {
		t.Fatal(err)
	}
	totals, _, err := l.Encode(d)
	if err != nil {
		t.Fatal(err)
	}
	in, err := c.Transforms(totals, 0)
	if err != nil {
		t.Fatal(err)
	}
	if in.Numeric == nil || in.Text == nil || len(in.Text.IDF) != 256 {
		t.Fatalf("transforms: numeric %v, text %v", in.Numeric, in.Text)
	}
	x, err := in.Sparse(d)
	if err != nil {
		t.Fatal(err)
	}
	if r, cols := x.Dims(); r != 4 || cols != 257 {
		t.Fatalf("input of %d×%d, want 4×257", r, cols)
	}
	num := mat.NewDense(4, 1, nil)
	if err := in.Numeric.Apply(num, d.X); err != nil {
		t.Fatal(err)
	}
	words, err := in.Text.Apply(docs)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		idx, val := x.Row(i)
		widx, wval := words.Row(i)
		if v := num.At(i, 0); v != 0 { // a sparse row holds no zero
			widx, wval = append(slices.Clone(widx), 256), append(slices.Clone(wval), v)
		}
		if !slices.Equal(idx, widx) || !slices.Equal(val, wval) {
			t.Errorf("row %d: %v %v, want the text's then column 256: %v %v", i, idx, val, widx, wval)
		}
	}
	if _, err := in.Dense(d); err == nil {
		t.Error("Dense gave a text federation's rows")
	}

	digest := in.Digest()
	if digest == in.Numeric.Digest() || digest == in.Text.Digest() {
		t.Error("a text federation's digest is one transform's alone")
	}
	in.Text.IDF[7] *= 1.5
	if in.Digest() == digest {
		t.Error("another IDF weight gives the same digest")
	}
	if TransformDigest(in.Numeric, nil) != in.Numeric.Digest() {
		t.Error("without a text transform the digest is not the numeric transform's, as claims named it before text")
	}
}
