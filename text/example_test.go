package text_test

import (
	"fmt"

	"github.com/fedcrypt/fedcrypt/text"
)

func ExampleTokens() {
	toks, _ := text.Tokens("Ménière's disease in a 47-year-old: 3.5 mg of IL-6 blockers; 肺癌")
	fmt.Printf("%q\n", toks)
	// Output:
	// ["meniere" "s" "disease" "in" "a" "0" "year" "old" "0" "mg" "of" "il" "0" "blockers" "肺" "癌"]
}

func ExampleTransform() {
	// Fixed in advance: 1,024 buckets, unigrams and bigrams, a seed; IDF from the training rows.
	tr, err := text.New(text.Config{Buckets: 1024, NGrams: 2, Seed: 1, Sublinear: true, IDF: true, Norm: text.NormL2})
	if err != nil {
		panic(err)
	}
	train := []string{"Lung tumor resected.", "Chest pain, normal ECG.", "Tumor of the colon."}
	counts, err := tr.Counts(train)
	if err != nil {
		panic(err)
	}
	if err := tr.FitIDF(counts); err != nil {
		panic(err)
	}
	x, err := tr.Apply([]string{"Colon tumor, colon tumor."})
	if err != nil {
		panic(err)
	}
	idx, _ := x.Row(0)
	fmt.Printf("%d rows × %d columns; the new document has %d distinct n-grams\n", x.Rows, x.Cols, len(idx))
	// Output:
	// 1 rows × 1024 columns; the new document has 4 distinct n-grams
}
