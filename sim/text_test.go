package sim

import (
	"context"
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fedcrypt/fedcrypt/audit"
	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/internal/sealedmodel"
	"github.com/fedcrypt/fedcrypt/model"
	"github.com/fedcrypt/fedcrypt/vault"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// abstracts loads the medical abstracts (examples/clinicaltext): 2,000
// abstracts of 5 conditions, text column "abstract". With rows > 0 it
// keeps a stratified sample of that many.
func abstracts(t testing.TB, rows int) *data.Dataset {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "examples", "clinicaltext", "medical-abstracts.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ds, _, err := data.Load(f, "medical-abstracts.csv", data.Options{Label: "condition", Text: "abstract"})
	if err != nil {
		t.Fatal(err)
	}
	if rows > 0 {
		if _, ds, err = data.StratifiedSplit(ds, float64(rows)/float64(ds.Rows()), 18); err != nil {
			t.Fatal(err)
		}
	}
	return ds
}

func runText(t testing.TB, ds *data.Dataset, cfg Config) *Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	res, err := Run(ctx, ds, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestTextFederationPlumbing federates a slice of the abstracts across 3
// hospitals with DP, encryption and the private evaluation (the text
// model's probabilities on each hospital's held-out rows), and checks what
// the run leaves: the
// audit log verifies, recomputing the text featurization from the logged
// totals; the sealed model is a text model carrying that featurization,
// whose scores on the test rows, read back through the sealedmodel API as
// predict reads it, are the run's own.
func TestTextFederationPlumbing(t *testing.T) {
	ds := abstracts(t, 300)
	dir := filepath.Join(t.TempDir(), "run")
	cfg := TextDefaults("abstract", true)
	cfg.Rounds, cfg.Epsilon, cfg.EvalEpsilon, cfg.Seed, cfg.OutDir = 2, 3, 0.5, seeded(18), dir
	res := runText(t, ds, cfg)
	if res.Rounds != 2 || !res.Encrypted || !res.DP || res.Epsilon > 3*(1+1e-6) {
		t.Fatalf("%d rounds, encrypted %v, DP %v, ε %g", res.Rounds, res.Encrypted, res.DP, res.Epsilon)
	}
	// The private evaluation scores the text model's probabilities on each
	// hospital's held-out rows: 5 classes, each row counted once.
	if ev := res.PrivateEvaluation; ev == nil || len(ev.Sites) != 3 || len(ev.Confusion) != 5 {
		t.Fatalf("private evaluation: %+v", ev)
	}
	fed, err := federation.Load(filepath.Join(dir, FileConfig))
	if err != nil {
		t.Fatal(err)
	}
	if fed.SparseModel == nil || fed.Data.Text == nil || !fed.Data.Text.IDF || fed.Data.Text.Buckets != 1<<10 {
		t.Fatalf("config: sparse model %v, text %+v", fed.SparseModel, fed.Data.Text)
	}
	if n, _ := fed.NumParams(); n != res.Params || n != (1<<10+1)*5 {
		t.Fatalf("%d parameters, the result says %d", n, res.Params)
	}
	st := res.Statistics
	if st == nil || st.Text == nil || len(st.Text.IDF) != 1<<10 || st.Transform != nil {
		t.Fatalf("statistics: %+v", st)
	}
	run, err := audit.VerifyFile(filepath.Join(dir, FileAudit), fed, audit.Options{})
	if err != nil || !run.Verified {
		t.Fatalf("audit: %v", err)
	}
	if d := st.Text.Digest(); run.Statistics.TextTransform != hexDigest(d) {
		t.Fatalf("audit's text transform %s, the run's %s", run.Statistics.TextTransform, hexDigest(d))
	}

	researcher, err := vault.ReadIdentityFile(filepath.Join(dir, FileResearcher), nil)
	if err != nil {
		t.Fatal(err)
	}
	aggPub, _ := fed.Aggregator.PublicKey()
	l, err := sealedmodel.Load(filepath.Join(dir, FileModel), aggPub, researcher)
	if err != nil {
		t.Fatal(err)
	}
	if l.Sparse == nil || l.Text == nil || l.Text.Digest() != st.Text.Digest() {
		t.Fatal("model.age: not the run's text model and featurization")
	}
	_, test, err := data.StratifiedSplit(ds, cfg.TestFraction, seedFrom(source(cfg.Seed, "split")))
	if err != nil {
		t.Fatal(err)
	}
	x, err := l.Inputs(test.Text, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := mat.NewDense(test.Rows(), 5, nil)
	l.Sparse.Predict(p, x)
	var right int
	for i := range test.Rows() {
		if row := p.RawRowView(i); float64(floats.MaxIdx(row)) == test.Y[i] {
			right++
		}
	}
	if got := float64(right) / float64(test.Rows()); got != res.Accuracy || test.Rows() != res.TestRows {
		t.Fatalf("the sealed model scores %.4f on %d test rows, the run %.4f on %d", got, test.Rows(), res.Accuracy, res.TestRows)
	}
}

func hexDigest(d [32]byte) string { return hex.EncodeToString(d[:]) }

// TestTextFederation measures federated text classification on the
// medical abstracts (2,000 rows, 5 classes, majority 0.333; centralized
// `train --text --cv 5` reaches 0.5565), 3 hospitals with TextDefaults,
// against issue 18's targets: without DP within 3 points of the
// centralized figure (≥ 0.527, median over 3 seeds); at ε = 3, δ = 1e-5,
// the median over 3 seeds at least 5 points above the majority class
// (≥ 0.383). Encryption is off for those (a seeded run trains alike with
// it); a 5-round run with CKKS, private and not, is timed and logged
// (BENCHMARKS.md keeps the figures).
//
//	go test ./sim -run TestTextFederation$ -v -timeout 30m
func TestTextFederation(t *testing.T) {
	if testing.Short() {
		t.Skip("trains 8 federations on 2,000 abstracts")
	}
	ds := abstracts(t, 0)
	median := func(private bool) float64 {
		var accs []float64
		for seed := uint64(1); seed <= 3; seed++ {
			cfg := TextDefaults("abstract", private)
			cfg.HE, cfg.Epsilon, cfg.Seed = false, 3, seeded(seed)
			res := runText(t, ds, cfg)
			t.Logf("dp=%v seed %d: accuracy %.4f, ε %.3f, %d parameters, %.1fs", private, seed, res.Accuracy, res.Epsilon, res.Params, res.Seconds)
			accs = append(accs, res.Accuracy)
		}
		slices.Sort(accs)
		return accs[1]
	}
	if m := median(false); m < 0.527 {
		t.Errorf("without DP: median accuracy %.4f, want ≥ 0.527 (centralized 0.5565 less 3 points)", m)
	} else {
		t.Logf("without DP: median accuracy %.4f", m)
	}
	if m := median(true); m < 0.383 {
		t.Errorf("ε = 3: median accuracy %.4f, want ≥ 0.383 (the majority class 0.333 and 5 points)", m)
	} else {
		t.Logf("ε = 3: median accuracy %.4f", m)
	}
	for _, private := range []bool{true, false} {
		cfg := TextDefaults("abstract", private)
		cfg.Rounds, cfg.Epsilon, cfg.Seed = 5, 3, seeded(1)
		res := runText(t, ds, cfg)
		if !res.Encrypted {
			t.Fatal("the timed run is not encrypted")
		}
		t.Logf("dp=%v, 5 rounds with CKKS (%s preset): %.1fs, accuracy %.4f, %d parameters, %.0f bytes up per round, GOMAXPROCS %d",
			private, cfg.Preset, res.Seconds, res.Accuracy, res.Params, res.BytesUpPerRound, runtime.GOMAXPROCS(0))
	}
}

var tuneText = flag.Bool("tune-text", false, "run the text settings search on the abstracts' training rows (slow; prints a table)")

// validationRun runs cfg on the training rows of the split the run of
// seed would make of ds: the run's own held-out rows are then validation
// rows carved from the training rows, and the rows a run of that seed is
// reported on are never seen.
func validationRun(t testing.TB, ds *data.Dataset, cfg Config, seed uint64) *Result {
	t.Helper()
	cfg.Seed = seeded(seed)
	train, _, err := data.StratifiedSplit(ds, cfg.TestFraction, seedFrom(source(cfg.Seed, "split")))
	if err != nil {
		t.Fatal(err)
	}
	return runText(t, train, cfg)
}

// TestTuneText is how the text settings of [TextDefaults] and
// [DefaultTextFeatures] were chosen: each setting run on validation rows
// carved from the training rows of the abstracts (validationRun), at
// ε = 3 (δ = 1e-5) and without DP, 3 hospitals, encryption off (a seeded
// run trains alike with and without it), scored by the median accuracy
// over seeds 1–3. TUNE_TEXT lists the settings (tuneGrid), TUNE_TEXT_MODE
// picks dp or nodp runs only, TUNE_TEXT_SEEDS the number of seeds:
//
//	TUNE_TEXT='buckets=256,ngrams=1;buckets=512' TUNE_TEXT_MODE=dp go test ./sim -run TuneText -tune-text -v -timeout 60m
func TestTuneText(t *testing.T) {
	if !*tuneText {
		t.Skip("the text settings search runs with -tune-text")
	}
	ds := abstracts(t, 0)
	grid := tuneGrid(os.Getenv("TUNE_TEXT"))
	seeds := uint64(3)
	if s, err := strconv.Atoi(os.Getenv("TUNE_TEXT_SEEDS")); err == nil {
		seeds = uint64(s)
	}
	modes := map[string][]bool{"": {true, false}, "dp": {true}, "nodp": {false}}[os.Getenv("TUNE_TEXT_MODE")]
	for _, private := range modes {
		for _, g := range grid {
			var accs []float64
			start := time.Now()
			for seed := uint64(1); seed <= seeds; seed++ {
				cfg := TextDefaults("abstract", private)
				cfg.HE, cfg.Epsilon = false, 3
				g.set(&cfg)
				accs = append(accs, validationRun(t, ds, cfg, seed).Accuracy)
			}
			slices.Sort(accs)
			t.Logf("dp=%v %-40s median %.4f (%.4f–%.4f) %.0fs", private, g.name, accs[len(accs)/2], accs[0], accs[len(accs)-1], time.Since(start).Seconds())
		}
	}
}

// tuneGrid parses settings to try, separated by ";", each a comma list of
// key=value: buckets, ngrams, idf (0/1), terms (max terms per doc),
// rounds, steps, lr, clip, q, server (fedavg, fedavgm, fedadam), slr
// (server learning rate), mom (server momentum), model, opt (local
// optimizer: sgd, adam; set before lr), lmom (local momentum), beta1 (Adam's), bound
// (the update's L2 bound).
func tuneGrid(s string) []struct {
	name string
	set  func(*Config)
} {
	var out []struct {
		name string
		set  func(*Config)
	}
	for _, spec := range strings.Split(s, ";") {
		kvs := strings.Split(strings.TrimSpace(spec), ",")
		out = append(out, struct {
			name string
			set  func(*Config)
		}{spec, func(c *Config) {
			tf := c.textFeatures()
			for _, kv := range kvs {
				k, v, _ := strings.Cut(kv, "=")
				f, _ := strconv.ParseFloat(v, 64)
				switch k {
				case "buckets":
					tf.Buckets = int(f)
				case "ngrams":
					tf.NGrams = int(f)
				case "idf":
					tf.IDF = f != 0
				case "terms":
					c.MaxTermsPerDoc = int(f)
				case "rounds":
					c.Rounds = int(f)
				case "steps":
					c.LocalSteps = int(f)
				case "lr":
					c.Local.LR = f
				case "clip":
					c.ClipNorm = f
				case "q":
					c.SampleRate = f
				case "server":
					c.Server.Name = v
				case "slr":
					c.Server.LR = f
				case "mom":
					c.Server.Momentum = f
				case "model":
					c.Model = v
				case "opt":
					c.Local = model.OptimizerConfig{Name: v, LR: c.Local.LR, Momentum: c.Local.Momentum}
				case "lmom":
					c.Local.Momentum = f
				case "beta1":
					c.Local.Beta1 = f
				case "bound":
					c.UpdateBound = f
				}
			}
			c.TextFeatures = &tf
		}})
	}
	return out
}
