// Command clinicaltext federates medical abstracts across three hospitals to classify them into
// five conditions from their free text, as `fedcrypt sim --text abstract` does: each hospital's
// abstracts are tokenized and their words hashed into buckets (package text), weighted by IDF from
// the document frequencies every hospital releases with differential privacy, and a softmax
// regression is trained by federated averaging, every update CKKS-encrypted under the
// federation's multiparty key (sim.TextDefaults gives the settings). It runs the federation
// without DP, then with DP-SGD at ε = 3 (δ = 1e-5) per hospital, and prints both beside the
// centralized reference: one model trained on the pooled training rows (`fedcrypt train --text`).
//
// The data, medical-abstracts.csv, is CC BY-SA 3.0 (attribution in ATTRIBUTION.md beside it).
package main

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"io"
	"log"
	"os"

	"github.com/fedcrypt/fedcrypt/central"
	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/sim"
)

//go:embed medical-abstracts.csv
var abstracts []byte

func main() {
	if err := run(context.Background(), os.Stdout, full); err != nil {
		log.Fatal(err)
	}
}

// size is how much the example runs: all of it (full), or a sample of the
// abstracts in fewer rounds and buckets, for a quick test of the same code.
type size struct {
	rows    int // stratified sample of the abstracts; 0: all 2,000
	rounds  int // 0: the text defaults' 10
	buckets int // of the run without DP; 0: the default's 2¹⁸
}

var full = size{}

func run(ctx context.Context, w io.Writer, sz size) error {
	ds, _, err := data.Load(bytes.NewReader(abstracts), "medical-abstracts.csv", data.Options{Label: "condition", Text: "abstract"})
	if err != nil {
		return err
	}
	if sz.rows > 0 {
		if _, ds, err = data.StratifiedSplit(ds, float64(sz.rows)/float64(ds.Rows()), 1); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "%d abstracts, %d conditions (majority class 0.333); 20%% held out, the rest split over 3 hospitals\n", ds.Rows(), len(ds.Classes))

	// The reference: one model on the pooled training rows, as `fedcrypt train --text` trains it
	// (softmax regression on hashed unigrams with tf-idf fitted on those rows, 20 epochs of Adam).
	// The federation featurizes alike, but its IDF weights come from the hospitals' DP document
	// frequencies, and it splits off its own held-out rows.
	train, test, err := data.StratifiedSplit(ds, 0.2, 1)
	if err != nil {
		return err
	}
	tc := sim.DefaultTextFeatures(false)
	if sz.buckets > 0 {
		tc.Buckets = sz.buckets
	}
	ref, err := central.Train(train, test, central.Settings{Model: "softmax", Epochs: 20, Batch: 32, Optimizer: "adam", LR: 0.01, Decay: 1e-4, Seed: 1, Text: &tc})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "centralized, no privacy:   accuracy %.3f\n", ref.Accuracy)

	// Three hospitals, threshold T = 2, updates CKKS-encrypted (precise preset): the text
	// defaults, with or without DP. A seed makes the example repeatable (seed 2 is the median of
	// seeds 1 to 3 without DP, BENCHMARKS.md); never seed a run on real data.
	for _, private := range []bool{false, true} {
		cfg := sim.TextDefaults("abstract", private)
		seed := uint64(2)
		cfg.Seed, cfg.Epsilon = &seed, 3
		if sz.rounds > 0 {
			cfg.Rounds = sz.rounds
		}
		if !private && sz.buckets > 0 {
			f := sim.DefaultTextFeatures(false)
			f.Buckets = sz.buckets
			cfg.TextFeatures = &f
		}
		res, err := sim.Run(ctx, ds, cfg)
		if err != nil {
			return err
		}
		what := "federated, no privacy:     "
		if private {
			what = fmt.Sprintf("federated, DP ε = %g each: ", cfg.Epsilon)
		}
		fmt.Fprintf(w, "%saccuracy %.3f (%d rounds, %d parameters, encrypted %v: %.0f bytes up per round, %.1f s)\n",
			what, res.Accuracy, res.Rounds, res.Params, res.Encrypted, res.BytesUpPerRound, res.Seconds)
	}
	return nil
}
