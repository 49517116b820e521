package export

import (
	"encoding/json"
	"math"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// FuzzDecodeJSON: any accepted JSON export re-encodes to one that decodes
// to the same file, and scores a row (all cells missing, or all zero)
// without panicking, to probabilities that sum to 1.
func FuzzDecodeJSON(f *testing.F) {
	seeds := 0
	for _, spec := range []string{"logreg", "mlp:3,2:tanh"} {
		tm := train(f, "wdbc", spec, 1)
		b, err := JSON(tm.m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		seeds++
	}
	for _, s := range []string{
		exampleJSON,
		`{"format":"fedcrypt-export/v1","features":["a"],"label":"y","classes":["0","1","2"],"missing":"",` +
			`"transform":{"impute":"mean","normalize":"none","fill":[0],"shift":[0],"scale":[1]},` +
			`"layers":[{"inputs":1,"outputs":3,"activation":"softmax","weights":[1,2,3],"bias":[0,0,0]}]}`,
		`{"format":"fedcrypt-export/v1","layers":[{"inputs":0,"outputs":0}]}`,
		`{}`,
	} {
		f.Add([]byte(s))
		seeds++
	}
	if seeds == 0 {
		f.Fatal("empty seed corpus")
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := DecodeJSON(b)
		if err != nil {
			return
		}
		again, err := json.Marshal(file)
		if err != nil {
			t.Fatal(err)
		}
		file2, err := DecodeJSON(again)
		if err != nil {
			t.Fatalf("re-encoded export does not decode: %v", err)
		}
		if !slices.Equal(file2.Features, file.Features) || len(file2.Layers) != len(file.Layers) ||
			!slices.Equal(file2.Layers[0].Weights, file.Layers[0].Weights) {
			t.Fatal("the round trip changed the export")
		}
		n := len(file.Features)
		x := mat.NewDense(2, n, nil)
		for j := range n {
			x.Set(0, j, math.NaN())
		}
		p, err := file.Predict(x)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			sum := 0.0
			for _, v := range p.RawRowView(i) {
				sum += v
			}
			// Weights of any finite size may overflow to NaN; an honest sum
			// is otherwise 1.
			if !math.IsNaN(sum) && math.Abs(sum-1) > 1e-9 {
				t.Fatalf("row %d: probabilities sum to %v", i, sum)
			}
		}
	})
}
