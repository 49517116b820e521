package data_test

import (
	"encoding/json"
	"fmt"
	"log"
	"strings"

	"github.com/fedcrypt/fedcrypt/data"
)

// Load the embedded breast-cancer set, hold out a stratified test set and
// standardize both with statistics of the training rows only.
func Example() {
	d, _, err := data.LoadEmbedded("wdbc", data.Options{})
	if err != nil {
		log.Fatal(err)
	}
	train, test, err := data.StratifiedSplit(d, 0.2, 1)
	if err != nil {
		log.Fatal(err)
	}
	t, err := data.FitTransform(train.X, data.MissingMean, data.NormalizeZScore)
	if err != nil {
		log.Fatal(err)
	}
	if err := t.Apply(train.X, train.X); err != nil {
		log.Fatal(err)
	}
	if err := t.Apply(test.X, test.X); err != nil {
		log.Fatal(err)
	}
	fmt.Println(d.Rows(), "rows,", len(d.Features), "features, classes", d.Classes, d.ClassCounts())
	fmt.Println("train", train.Rows(), train.ClassCounts(), "test", test.Rows(), test.ClassCounts())
	// Output:
	// 569 rows, 30 features, classes [B M] [357 212]
	// train 455 [285 170] test 114 [72 42]
}

func ExampleLoad() {
	csv := `patient_id,age,bmi,glucose,outcome
17,54,31.2,NA,yes
17,54,,148,yes
22,61,24.9,89,no
31,47,?,102,no
`
	d, rep, err := data.Load(strings.NewReader(csv), "clinic.csv", data.Options{
		Label:       "outcome",
		Positive:    "yes",
		PrivacyUnit: "patient_id",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d.Features, d.Classes, d.Y, d.Units)
	b, _ := json.Marshal(rep)
	fmt.Println(string(b))

	_, _, err = data.Load(strings.NewReader("age,outcome\n54,yes\nfifty,no\n"), "clinic.csv", data.Options{Label: "outcome"})
	fmt.Println(err)
	// Output:
	// [age bmi glucose] [no yes] [1 1 0 0] [0 0 1 2]
	// {"source":"clinic.csv","rows_read":4,"rows":4,"rows_missing_label":0,"rows_dropped":0,"missing":{"bmi":2,"glucose":1},"class_counts":{"no":2,"yes":2},"units":3}
	// clinic.csv: line 3, column "age": not a number
}

// Spread the digits over five hospitals with strong label skew: each
// hospital sees mostly a few digits, and all match the federation's schema.
func ExamplePartition() {
	d, _, err := data.LoadEmbedded("digits", data.Options{})
	if err != nil {
		log.Fatal(err)
	}
	scheme, err := data.ParseScheme("dirichlet:0.1")
	if err != nil {
		log.Fatal(err)
	}
	hospitals, err := data.Partition(d, 5, scheme, 7)
	if err != nil {
		log.Fatal(err)
	}
	schema := d.Schema()
	for _, h := range hospitals {
		fmt.Println(h.Name, h.Rows(), h.ClassCounts(), schema.Check(h))
	}
	// Output:
	// digits/hospital-1 120 [25 0 0 0 41 6 0 0 48 0] <nil>
	// digits/hospital-2 379 [0 182 0 0 19 44 0 8 126 0] <nil>
	// digits/hospital-3 277 [140 0 15 0 121 0 0 0 0 1] <nil>
	// digits/hospital-4 454 [4 0 2 177 0 124 0 1 0 146] <nil>
	// digits/hospital-5 567 [9 0 160 6 0 8 181 170 0 33] <nil>
}
