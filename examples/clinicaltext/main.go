// Command clinicaltext classifies medical abstracts into five conditions from their free text,
// with the text models of fedcrypt: the abstracts are tokenized and their words hashed into
// buckets (package text), a softmax regression is trained on them without privacy (IDF fitted
// on the training rows), then again with DP-SGD at ε = 3 (no IDF: document frequencies fitted on
// the training rows are not private), and both are scored on held-out abstracts.
//
// This is the centralized half of federating the abstracts across hospitals: the featurization
// needs nothing fitted on data but the IDF weights, which a federation takes from DP document
// frequencies (text.DocumentFrequencies, Transform.SetIDF), and DP-SGD on the sparse rows is
// what each hospital runs (dp.TrainSparse).
//
// The data, medical-abstracts.csv, is CC BY-SA 3.0 (attribution in ATTRIBUTION.md beside it).
package main

import (
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"os"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/dp"
	"github.com/fedcrypt/fedcrypt/model"
	"github.com/fedcrypt/fedcrypt/text"
)

//go:embed medical-abstracts.csv
var abstracts []byte

func main() {
	if err := run(os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(w io.Writer) error {
	ds, _, err := data.Load(bytes.NewReader(abstracts), "medical-abstracts.csv", data.Options{Label: "condition", Text: "abstract"})
	if err != nil {
		return err
	}
	train, test, err := data.StratifiedSplit(ds, 0.2, 1)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%d abstracts, %d classes; %d for training, %d held out\n", ds.Rows(), len(ds.Classes), train.Rows(), test.Rows())

	// Without privacy: unigrams in 2¹⁸ buckets, sublinear tf-idf, softmax regression.
	acc, params, err := fit(train, test, text.Config{Buckets: 1 << 18, NGrams: 1, Sublinear: true, IDF: true, Norm: text.NormL2}, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "softmax regression, tf-idf:      accuracy %.3f (%d parameters)\n", acc, params)

	// With DP-SGD at ε = 3, δ = 1e-5: no IDF, 2¹¹ buckets, Poisson sampling at q = 0.5 for 100
	// steps, clipping at 0.5 (the defaults of `train --text --dp`). A seed makes the example
	// repeatable; never seed a run on real data (crypto/rand).
	const eps, delta, q, steps = 3, 1e-5, 0.5, 100
	sigma, err := dp.CalibrateNoise(dp.AccountantConfig{Kind: dp.KindRDP}, eps, delta, q, steps)
	if err != nil {
		return err
	}
	cfg := dp.SGDConfig{ClipNorm: 0.5, NoiseMultiplier: sigma, SampleRate: q, Steps: steps,
		Optimizer: model.OptimizerConfig{Name: model.OptAdam, LR: 0.1}}
	acc, params, err = fit(train, test, text.Config{Buckets: 1 << 11, NGrams: 1, Sublinear: true, Norm: text.NormL2}, &cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "softmax regression, DP ε = %g:   accuracy %.3f (%d parameters, σ = %.2f; majority class 0.333)\n", float64(eps), acc, params, sigma)
	return nil
}

// fit featurizes the abstracts with cfg (IDF, if on, from the training rows), trains softmax
// regression, privately with priv, and returns its held-out accuracy.
func fit(train, test *data.Dataset, cfg text.Config, priv *dp.SGDConfig) (float64, int, error) {
	tr, err := text.New(cfg)
	if err != nil {
		return 0, 0, err
	}
	xtr, err := tr.Counts(train.Text)
	if err != nil {
		return 0, 0, err
	}
	if cfg.IDF {
		if err := tr.FitIDF(xtr); err != nil {
			return 0, 0, err
		}
	}
	if err := tr.Weight(xtr); err != nil {
		return 0, 0, err
	}
	xte, err := tr.Apply(test.Text)
	if err != nil {
		return 0, 0, err
	}
	spec, err := model.ParseSparseSpec("softmax", cfg.Buckets, len(train.Classes))
	if err != nil {
		return 0, 0, err
	}
	m, err := model.NewSparse(spec, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		return 0, 0, err
	}
	if priv != nil {
		_, err = dp.TrainSparse(m, xtr, train.Y, nil, *priv, rand.NewChaCha8([32]byte{'c', 'l', 'i', 'n'}))
	} else {
		err = model.FitSparse(m, xtr, train.Y, model.FitConfig{Epochs: 20, BatchSize: 32, Seed: 1,
			Optimizer: model.OptimizerConfig{Name: model.OptAdam, LR: 0.01, Decay: 1e-4}})
	}
	if err != nil {
		return 0, 0, err
	}
	return model.EvaluateSparse(m, xte, test.Y).Accuracy, m.NumParams(), nil
}
