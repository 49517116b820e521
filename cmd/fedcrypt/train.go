package main

import (
	"context"
	"crypto/ed25519"
	crand "crypto/rand"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"text/tabwriter"
	"time"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/dp"
	"github.com/fedcrypt/fedcrypt/internal/sealedmodel"
	"github.com/fedcrypt/fedcrypt/model"
	"github.com/fedcrypt/fedcrypt/vault"
	"gonum.org/v1/gonum/mat"
)

// trainSettings are the knobs of central training.
type trainSettings struct {
	dp        bool
	epsilon   float64
	delta     float64
	acct      string
	clip      float64
	q         float64 // 0: batch / training rows
	steps     int
	noise     string
	model     string
	normalize string
	epochs    int
	batch     int
	optimizer string
	lr        float64
	decay     float64
	testFrac  float64
	seed      uint64
	int8      bool
	progress  time.Duration // between progress lines on stderr; 0: none
	// onEpoch and onStep, when set, are told of each epoch and DP-SGD step
	// done.
	onEpoch, onStep func(done int)
}

// trainResult is what one train/test run measured.
type trainResult struct {
	model.Metrics
	// Undefined names the metrics the test rows do not define (0 above).
	Undefined []string `json:"undefined,omitempty"`
	TrainRows int      `json:"train_rows"`
	TestRows  int      `json:"test_rows"`
	Params    int      `json:"params"`
	Output    string   `json:"output,omitempty"`
	// Int8 compares the int8 model with the float64 one on the test rows
	// (--int8).
	Int8 *int8Report `json:"int8,omitempty"`
	privacy
	// seal writes the trained model, with its schema and transforms, as a
	// sealed model file.
	seal func(path string, signer ed25519.PrivateKey, rs ...vault.Recipient) error
}

// privacy is the DP part of a result: empty without --dp.
type privacy struct {
	Epsilon         float64 `json:"epsilon,omitempty"`
	Delta           float64 `json:"delta,omitempty"`
	Accountant      string  `json:"accountant,omitempty"`
	NoiseMultiplier float64 `json:"noise_multiplier,omitempty"`
	SampleRate      float64 `json:"sample_rate,omitempty"`
	Steps           int     `json:"steps,omitempty"`
	ClipNorm        float64 `json:"clip_norm,omitempty"`
	PrivacyUnit     string  `json:"privacy_unit,omitempty"`
}

func runTrain(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
	var df dataFlags
	df.register(fs, "wdbc")
	var s trainSettings
	fs.StringVar(&s.model, "model", "logreg", "model: logreg, softmax, mlp:H1[,H2...][:relu|sigmoid|tanh]")
	fs.StringVar(&s.normalize, "normalize", "zscore", "feature scaling: zscore, minmax or none")
	fs.IntVar(&s.epochs, "epochs", 60, "passes over the training rows")
	fs.IntVar(&s.batch, "batch", 32, "mini-batch size")
	fs.StringVar(&s.optimizer, "optimizer", "adam", "optimizer: sgd, adam or rmsprop")
	fs.Float64Var(&s.lr, "lr", 0.01, "learning rate")
	fs.Float64Var(&s.decay, "decay", 1e-4, "L2 weight decay")
	fs.Float64Var(&s.testFrac, "test-fraction", 0.2, "fraction of rows held out for testing (stratified)")
	fs.Uint64Var(&s.seed, "seed", 1, "seed for the split, initialization and shuffling")
	cv := fs.Int("cv", 0, "run stratified K-fold cross-validation with K folds instead of one split")
	fs.DurationVar(&s.progress, "progress", 5*time.Second, "report progress on stderr at this `interval` (0: never)")
	fs.BoolVar(&s.dp, "dp", false, "train with DP-SGD (defaults then: --optimizer sgd --lr 1)")
	fs.Float64Var(&s.epsilon, "epsilon", 1, "with --dp: the privacy budget ε")
	fs.Float64Var(&s.delta, "delta", 1e-5, "with --dp: δ")
	fs.StringVar(&s.acct, "accountant", "rdp", "with --dp: rdp or pld")
	fs.Float64Var(&s.clip, "clip", 1, "with --dp: per-example L2 clipping norm C")
	fs.Float64Var(&s.q, "sample-rate", 0, "with --dp: Poisson sampling rate q (default --batch / training rows)")
	fs.IntVar(&s.steps, "steps", 100, "with --dp: DP-SGD steps")
	fs.StringVar(&s.noise, "noise", "fast", "with --dp: Gaussian sampler, fast or google")
	fs.StringVar(&df.Text, "text", "", "free-text `column`: features are its hashed unigrams and bigrams (with the numeric columns, if any)")
	var ts textSettings
	ts.register(fs)
	var out string
	(*outFlag)(&out).register(fs, "write the trained model, sealed (signed with --identity, encrypted to it and to -r/-R), to `file` (.age), for predict")
	var rf recipientFlags
	rf.register(fs, false)
	fs.BoolVar(&s.int8, "int8", false, "quantize the model to int8 (one scale per tensor): report its size and agreement with the float model on the test rows, and seal it so with --out")
	var jsonOut bool
	(*jsonFlag)(&jsonOut).register(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("train: unexpected argument %q", pos[0])
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if df.Text == "" {
		for _, name := range []string{"buckets", "ngrams", "hash-seed", "idf"} {
			if set[name] {
				return usagef("--%s is a text setting: add --text COLUMN", name)
			}
		}
	} else {
		if !set["model"] {
			s.model = defaultTextModel
		}
		if !set["epochs"] {
			s.epochs = defaultTextEpochs
		}
	}
	if !s.dp {
		// A privacy setting without --dp would train without privacy while
		// the command line says otherwise.
		for _, name := range []string{"epsilon", "delta", "accountant", "clip", "sample-rate", "steps", "noise"} {
			if set[name] {
				return usagef("--%s is a DP-SGD setting: add --dp (without it training is not private)", name)
			}
		}
	}
	if s.dp {
		if !set["optimizer"] {
			s.optimizer = "sgd"
		}
		if !set["lr"] {
			s.lr = 1
		}
		if !set["decay"] {
			s.decay = 0
		}
		if df.Text != "" {
			ts.privateDefaults(&s, set)
		}
		switch {
		case !(s.epsilon > 0) || math.IsInf(s.epsilon, 0):
			return usagef("--epsilon %v: must be positive and finite", s.epsilon)
		case !(s.delta > 0 && s.delta < 1):
			return usagef("--delta %v: must be in (0, 1)", s.delta)
		case !(s.clip > 0) || math.IsInf(s.clip, 0):
			return usagef("--clip %v: must be positive", s.clip)
		case s.q != 0 && !(s.q > 0 && s.q <= 1):
			return usagef("--sample-rate %v: must be in (0, 1]", s.q)
		case s.steps < 1:
			return usagef("--steps %d: must be at least 1", s.steps)
		case s.acct != dp.KindRDP && s.acct != dp.KindPLD:
			return usagef("--accountant %q: want rdp or pld", s.acct)
		}
	}
	switch {
	case s.epochs < 1:
		return usagef("--epochs %d: must be at least 1", s.epochs)
	case s.batch < 1:
		return usagef("--batch %d: must be at least 1", s.batch)
	case !(s.lr > 0) || math.IsInf(s.lr, 0):
		return usagef("--lr %v: must be positive", s.lr)
	case !(s.testFrac > 0 && s.testFrac < 1):
		return usagef("--test-fraction %v: must be in (0, 1)", s.testFrac)
	case *cv == 1 || *cv < 0:
		return usagef("--cv %d: need at least 2 folds", *cv)
	}
	if df.Text != "" {
		if err := ts.check(s, set); err != nil {
			return err
		}
	}
	switch {
	case out == "" && (len(rf.recipients) > 0 || len(rf.files) > 0):
		return usagef("train: -r/-R are for --out: the model file is encrypted to them")
	case s.int8 && *cv != 0:
		return usagef("train: --int8 compares the model of one split; --cv trains %d", *cv)
	case out != "" && *cv != 0:
		return usagef("train: --out writes the model of one split; --cv trains %d", *cv)
	case out != "" && df.keys.identity == "":
		return usagef("train: --out needs --identity: the model file is signed with its key")
	}
	var rs []vault.Recipient
	if out != "" {
		keep := []input{{"data file", df.Source}, {"identity file", df.keys.identity}}
		for _, f := range rf.files {
			keep = append(keep, input{"recipients file", f})
		}
		if err := notAnInput("--out", out, keep...); err != nil {
			return err
		}
		if len(rf.recipients) > 0 || len(rf.files) > 0 {
			if rs, err = rf.parse(e); err != nil {
				return err
			}
		}
	}
	ds, rep, err := df.load(e)
	if err != nil {
		return err
	}
	once := func(train, test *data.Dataset) (trainResult, error) { return trainOnce(train, test, s) }
	if df.Text != "" {
		if _, err := model.ParseSparseSpec(s.model, ts.cfg.Buckets+len(ds.Features), len(ds.Classes)); err != nil {
			return usageError{err.Error()}
		}
		once = func(train, test *data.Dataset) (trainResult, error) { return trainTextOnce(train, test, s, ts) }
	} else if _, err := model.ParseSpec(s.model, len(ds.Features), len(ds.Classes)); err != nil {
		return usageError{err.Error()}
	}
	a := assumeData(ds, rep, &df, fillDescription(ds.Options().Imputation(), "over the training rows"))
	var train, test *data.Dataset
	if *cv == 0 {
		if train, test, err = data.StratifiedSplit(ds, s.testFrac, s.seed); err != nil {
			return err
		}
		change := "--cv 5 tests on every row once"
		if ds.Rows() < 2*minTestRows {
			change = fmt.Sprintf("%d rows are too few to train and test a model on: more data", ds.Rows())
		}
		a.testRows(test.Rows(), change)
	} else {
		a.testRows(ds.Rows(), "more data")
	}
	e = a.say(e, e.stdout, jsonOut)
	prog := newTrainProgress(e.stderr, s, *cv)
	s.onEpoch, s.onStep = prog.done, prog.done
	once = prog.wrap(once)
	if *cv == 0 {
		r, err := once(train, test)
		if err != nil {
			return err
		}
		r.Undefined = r.Metrics.Undefined()
		if out != "" {
			id, err := df.keys.load(e)
			if err != nil {
				return err
			}
			if id.SigningKey() == nil {
				return usagef("train: --identity %s has no signing key (a passphrase identity): it cannot sign the model", df.keys.identity)
			}
			if err := r.seal(out, id.SigningKey(), append(rs, id.Recipient())...); err != nil {
				return fmt.Errorf("train: %w", err)
			}
			r.Output = out
		}
		if jsonOut {
			return writeJSON(e.stdout, r)
		}
		fmt.Fprintf(e.stdout, "%s on %s: %d training rows, %d test rows, %d parameters\n", s.model, ds.Name, r.TrainRows, r.TestRows, r.Params)
		if s.dp {
			fmt.Fprintf(e.stdout, "  DP-SGD: ε = %.4g at δ = %g (%s accountant), noise multiplier %.4g, sample rate %.4g, %d steps, clip %g\n",
				r.Epsilon, r.Delta, r.Accountant, r.NoiseMultiplier, r.SampleRate, r.Steps, r.ClipNorm)
		}
		printMetrics(e, r.Metrics)
		if q := r.Int8; q != nil {
			fmt.Fprintf(e.stdout, "  int8: %d bytes against %d (%.1f× smaller); on the %d test rows %.2f%% of classes as the float model's, probabilities within %.4f\n",
				q.Int8Bytes, q.FloatBytes, float64(q.FloatBytes)/float64(q.Int8Bytes), r.TestRows, 100*q.ClassAgreement, q.MaxProbDiff)
		}
		if out != "" {
			fmt.Fprintf(e.stdout, "  model sealed to %s\n", out)
		}
		return nil
	}
	folds, err := data.StratifiedKFold(ds, *cv, s.seed)
	if err != nil {
		return usageError{err.Error()}
	}
	var runs []model.Metrics
	var folds1 []trainResult
	for i, f := range folds {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r, err := once(f.Train, f.Test)
		if err != nil {
			return fmt.Errorf("fold %d: %w", i+1, err)
		}
		runs = append(runs, r.Metrics)
		folds1 = append(folds1, r)
	}
	sum := summarize(runs)
	if s.dp {
		// Every row trains in K−1 folds: compose those runs' steps.
		var events []dp.Event
		for _, r := range folds1[:len(folds1)-1] {
			events = append(events, dp.Event{SampleRate: r.SampleRate, NoiseMultiplier: r.NoiseMultiplier, Steps: r.Steps})
		}
		eps, err := dp.Epsilon(dp.AccountantConfig{Kind: s.acct}, s.delta, events...)
		if err != nil {
			return err
		}
		sum.privacy = folds1[0].privacy
		sum.Epsilon = eps
	}
	if jsonOut {
		return writeJSON(e.stdout, sum)
	}
	fmt.Fprintf(e.stdout, "%s on %s: %d-fold stratified cross-validation (mean ± standard deviation over folds)\n", s.model, ds.Name, *cv)
	if s.dp {
		fmt.Fprintf(e.stdout, "  DP-SGD per fold: ε = %.4g at δ = %g (%s), σ = %.4g, q = %.4g, %d steps, C = %g; over the %d folds each row trained in: ε = %.4g\n",
			folds1[0].Epsilon, s.delta, s.acct, folds1[0].NoiseMultiplier, folds1[0].SampleRate, s.steps, s.clip, *cv-1, sum.Epsilon)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	for _, m := range []struct {
		name      string
		mean, std float64
	}{{"accuracy", sum.Accuracy, sum.AccuracyStd}, {"precision", sum.Precision, sum.PrecisionStd},
		{"recall", sum.Recall, sum.RecallStd}, {"f1", sum.F1, sum.F1Std}, {"auc", sum.AUC, sum.AUCStd},
		{"brier", sum.Brier, sum.BrierStd}, {"ece", sum.ECE, sum.ECEStd}} {
		fmt.Fprintf(tw, "  %s\t%.4f ± %.4f\n", m.name, m.mean, m.std)
	}
	return tw.Flush()
}

// trainOnce fits the transform on train, trains a fresh model, and scores it
// on test.
func trainOnce(train, test *data.Dataset, s trainSettings) (trainResult, error) {
	tf, err := data.FitTransform(train.X, train.Options().Imputation(), s.normalize)
	if err != nil {
		return trainResult{}, err
	}
	xtr := mat.NewDense(train.Rows(), len(train.Features), nil)
	xte := mat.NewDense(test.Rows(), len(test.Features), nil)
	if err := tf.Apply(xtr, train.X); err != nil {
		return trainResult{}, err
	}
	if err := tf.Apply(xte, test.X); err != nil {
		return trainResult{}, err
	}
	cfg, err := model.ParseSpec(s.model, len(train.Features), len(train.Classes))
	if err != nil {
		return trainResult{}, err
	}
	m, err := model.New(cfg, rand.New(rand.NewPCG(s.seed, 0x7261696e)))
	if err != nil {
		return trainResult{}, err
	}
	opt := model.OptimizerConfig{Name: s.optimizer, LR: s.lr, Decay: s.decay}
	var priv privacy
	if s.dp {
		if priv, err = trainPrivate(m, xtr, train, opt, s); err != nil {
			return trainResult{}, err
		}
	} else if err = model.Fit(m, xtr, train.Y, model.FitConfig{Epochs: s.epochs, BatchSize: s.batch, Seed: s.seed, Optimizer: opt, OnEpoch: s.onEpoch}); err != nil {
		return trainResult{}, err
	}
	w, err := m.MarshalBinary()
	if err != nil {
		return trainResult{}, err
	}
	var q8 *int8Report
	if s.int8 {
		if w, q8, err = quantizeDense(m, w, xte); err != nil {
			return trainResult{}, err
		}
	}
	seal := func(path string, signer ed25519.PrivateKey, rs ...vault.Recipient) error {
		return sealedmodel.SealPayload(path, sealedmodel.Payload{Schema: train.Schema(), Transform: tf, Weights: w}, signer, rs...)
	}
	return trainResult{Metrics: model.Evaluate(m, xte, test.Y), TrainRows: train.Rows(), TestRows: test.Rows(), Params: m.NumParams(), Int8: q8, privacy: priv, seal: seal}, nil
}

// trainPrivate runs DP-SGD with the noise multiplier calibrated for the
// target ε over the steps, and returns the accountant's ε for them.
func trainPrivate(m *model.Model, x *mat.Dense, train *data.Dataset, opt model.OptimizerConfig, s trainSettings) (privacy, error) {
	return calibratedDPSGD(train, opt, s, func(cfg dp.SGDConfig) error {
		_, err := dp.Train(m, x, train.Y, train.Units, cfg, crand.Reader)
		return err
	})
}

// trainPrivateSparse is trainPrivate for a text model on sparse rows.
func trainPrivateSparse(m *model.SparseModel, x *model.CSR, train *data.Dataset, opt model.OptimizerConfig, s trainSettings) (privacy, error) {
	return calibratedDPSGD(train, opt, s, func(cfg dp.SGDConfig) error {
		_, err := dp.TrainSparse(m, x, train.Y, train.Units, cfg, crand.Reader)
		return err
	})
}

// calibratedDPSGD calibrates the noise multiplier for the target ε over the
// steps, runs DP-SGD with it through run, and returns the accountant's ε.
func calibratedDPSGD(train *data.Dataset, opt model.OptimizerConfig, s trainSettings, run func(dp.SGDConfig) error) (privacy, error) {
	units := train.Units
	n := train.Rows()
	if units != nil {
		n = train.NumUnits()
	}
	q := s.q
	if q == 0 {
		q = min(1, float64(s.batch)/float64(n))
	}
	acct := dp.AccountantConfig{Kind: s.acct}
	sigma, err := dp.CalibrateNoise(acct, s.epsilon, s.delta, q, s.steps)
	if err != nil {
		return privacy{}, err
	}
	cfg := dp.SGDConfig{ClipNorm: s.clip, NoiseMultiplier: sigma, SampleRate: q, Steps: s.steps, Optimizer: opt, Noise: s.noise, OnStep: s.onStep}
	if err := run(cfg); err != nil {
		return privacy{}, err
	}
	eps, err := dp.Epsilon(acct, s.delta, cfg.Event())
	if err != nil {
		return privacy{}, err
	}
	return privacy{Epsilon: eps, Delta: s.delta, Accountant: s.acct, NoiseMultiplier: sigma, SampleRate: q, Steps: s.steps,
		ClipNorm: s.clip, PrivacyUnit: train.PrivacyUnit}, nil
}

// cvSummary is the mean and standard deviation of each metric over folds.
type cvSummary struct {
	privacy
	Folds        int     `json:"folds"`
	Accuracy     float64 `json:"accuracy"`
	AccuracyStd  float64 `json:"accuracy_std"`
	Precision    float64 `json:"precision"`
	PrecisionStd float64 `json:"precision_std"`
	Recall       float64 `json:"recall"`
	RecallStd    float64 `json:"recall_std"`
	F1           float64 `json:"f1"`
	F1Std        float64 `json:"f1_std"`
	AUC          float64 `json:"auc"`
	AUCStd       float64 `json:"auc_std"`
	Brier        float64 `json:"brier"`
	BrierStd     float64 `json:"brier_std"`
	ECE          float64 `json:"ece"`
	ECEStd       float64 `json:"ece_std"`
}

func summarize(runs []model.Metrics) cvSummary {
	stat := func(get func(model.Metrics) float64) (mean, std float64) {
		for _, r := range runs {
			mean += get(r)
		}
		mean /= float64(len(runs))
		for _, r := range runs {
			d := get(r) - mean
			std += d * d
		}
		return mean, math.Sqrt(std / float64(len(runs)))
	}
	var s cvSummary
	s.Folds = len(runs)
	s.Accuracy, s.AccuracyStd = stat(func(m model.Metrics) float64 { return m.Accuracy })
	s.Precision, s.PrecisionStd = stat(func(m model.Metrics) float64 { return m.Precision })
	s.Recall, s.RecallStd = stat(func(m model.Metrics) float64 { return m.Recall })
	s.F1, s.F1Std = stat(func(m model.Metrics) float64 { return m.F1 })
	s.AUC, s.AUCStd = stat(func(m model.Metrics) float64 { return m.AUC })
	s.Brier, s.BrierStd = stat(func(m model.Metrics) float64 { return m.Brier })
	s.ECE, s.ECEStd = stat(func(m model.Metrics) float64 { return m.ECE })
	return s
}

func printMetrics(e *env, m model.Metrics) {
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	f := metricFormat(m)
	fmt.Fprintf(tw, "  accuracy\t%s\n  precision\t%s\n  recall\t%s\n  f1\t%s\n  auc\t%s\n  brier\t%s\n  ece\t%s\n",
		f("accuracy", m.Accuracy), f("precision", m.Precision), f("recall", m.Recall), f("f1", m.F1), f("auc", m.AUC), f("brier", m.Brier), f("ece", m.ECE))
	tw.Flush()
}

// int8Report compares an int8 model with its float64 original.
type int8Report struct {
	FloatBytes     int     `json:"float_bytes"`     // float64 weight file
	Int8Bytes      int     `json:"int8_bytes"`      // int8 weight file
	ClassAgreement float64 `json:"class_agreement"` // fraction of test rows given the same class
	MaxProbDiff    float64 `json:"max_prob_diff"`   // largest difference of a class probability
}

// quantizeDense returns m's int8 weights and how the int8 model compares on x.
func quantizeDense(m *model.Model, float []byte, x *mat.Dense) ([]byte, *int8Report, error) {
	qb, err := m.MarshalInt8()
	if err != nil {
		return nil, nil, err
	}
	q, err := model.Unmarshal(qb)
	if err != nil {
		return nil, nil, err
	}
	r, _ := x.Dims()
	k := m.Config().Outputs
	pf, pq := mat.NewDense(r, k, nil), mat.NewDense(r, k, nil)
	m.Predict(pf, x)
	q.Predict(pq, x)
	return qb, compareInt8(len(float), len(qb), pf, pq), nil
}

// compareInt8 compares the probabilities of the float and int8 models.
func compareInt8(floatBytes, int8Bytes int, pf, pq *mat.Dense) *int8Report {
	rep := &int8Report{FloatBytes: floatBytes, Int8Bytes: int8Bytes}
	rep.ClassAgreement, rep.MaxProbDiff = model.Agreement(pf, pq)
	return rep
}

// trainProgress reports on stderr, at most once an interval, how far
// training has come: the fold, the epoch or DP-SGD step.
type trainProgress struct {
	w           io.Writer
	every       time.Duration
	last        time.Time
	start       time.Time
	fold, folds int
	total       int    // epochs or steps per training
	unit        string // "epoch" or "step"
	lines       int
}

func newTrainProgress(w io.Writer, s trainSettings, folds int) *trainProgress {
	p := &trainProgress{w: w, every: s.progress, folds: folds, total: s.epochs, unit: "epoch"}
	if s.dp {
		p.total, p.unit = s.steps, "step"
	}
	return p
}

// wrap returns once reporting progress, through the settings' hooks.
func (p *trainProgress) wrap(once func(train, test *data.Dataset) (trainResult, error)) func(train, test *data.Dataset) (trainResult, error) {
	if p.every <= 0 {
		return once
	}
	p.start, p.last = time.Now(), time.Now()
	return func(train, test *data.Dataset) (trainResult, error) {
		p.fold++
		return once(train, test)
	}
}

// done is told that n epochs or steps of the current training are done.
func (p *trainProgress) done(n int) {
	if p.every <= 0 || time.Since(p.last) < p.every {
		return
	}
	p.last = time.Now()
	fold := ""
	if p.folds > 0 {
		fold = fmt.Sprintf("fold %d of %d, ", p.fold, p.folds)
	}
	fmt.Fprintf(p.w, "train: %s%s %d of %d, %.0f s\n", fold, p.unit, n, p.total, time.Since(p.start).Seconds())
}
