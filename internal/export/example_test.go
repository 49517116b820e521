package export

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// exampleJSON is the JSON export of the package documentation.
const exampleJSON = `{
  "format": "fedcrypt-export/v1",
  "model_digest": "",
  "features": ["age", "marker"],
  "label": "outcome",
  "classes": ["well", "sick"],
  "positive_class": "sick",
  "missing": "a missing cell is NaN (or null in JSON); it is replaced by transform.fill",
  "transform": {"impute": "mean", "normalize": "zscore", "fill": [3, 1], "shift": [2, 1], "scale": [2, 0.5]},
  "layers": [
    {"inputs": 2, "outputs": 1, "activation": "sigmoid", "weights": [1.5, -2], "bias": [0.5]}
  ]
}`

// A JSON export of a logistic regression on two features, scored on a row
// with its second cell missing. By hand: the cells become
// ((4 − 2)/2, (1 − 1)/0.5) = (1, 0) after imputing 1, the logit is
// 0.5 + 1.5·1 − 2·0 = 2, and σ(2) = 0.8808.
func ExampleDecodeJSON() {
	f, err := DecodeJSON([]byte(exampleJSON))
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := f.Predict(mat.NewDense(1, 2, []float64{4, math.NaN()}))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("p(%s) = %.4f, p(%s) = %.4f\n", f.Classes[0], p.At(0, 0), f.Classes[1], p.At(0, 1))
	// Output: p(well) = 0.1192, p(sick) = 0.8808
}
