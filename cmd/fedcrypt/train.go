package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"text/tabwriter"
	"time"

	"github.com/fedcrypt/fedcrypt/central"
	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/dp"
	"github.com/fedcrypt/fedcrypt/internal/sealedmodel"
	"github.com/fedcrypt/fedcrypt/model"
	"github.com/fedcrypt/fedcrypt/vault"
)

// trainSettings are central training's settings and the command's own:
// the share of rows held out and how often progress is reported.
type trainSettings struct {
	central.Settings
	testFrac float64
	progress time.Duration // between progress lines on stderr; 0: none
}

// trainResult is what train reports of one split.
type trainResult struct {
	central.Result
	// Undefined names the metrics the test rows do not define (0 above).
	Undefined []string `json:"undefined,omitempty"`
	Output    string   `json:"output,omitempty"`
}

func runTrain(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
	var df dataFlags
	df.register(fs, "wdbc")
	var s trainSettings
	fs.StringVar(&s.Model, "model", "logreg", "model: logreg, softmax, mlp:H1[,H2...][:relu|sigmoid|tanh]")
	fs.StringVar(&s.Normalize, "normalize", "zscore", "feature scaling: zscore, minmax or none")
	fs.IntVar(&s.Epochs, "epochs", 60, "passes over the training rows")
	fs.IntVar(&s.Batch, "batch", 32, "mini-batch size")
	fs.StringVar(&s.Optimizer, "optimizer", "adam", "optimizer: sgd, adam or rmsprop")
	fs.Float64Var(&s.LR, "lr", 0.01, "learning rate")
	fs.Float64Var(&s.Decay, "decay", 1e-4, "L2 weight decay")
	fs.Float64Var(&s.testFrac, "test-fraction", 0.2, "fraction of rows held out for testing (stratified)")
	fs.Uint64Var(&s.Seed, "seed", 1, "seed for the split, initialization and shuffling")
	cv := fs.Int("cv", 0, "run stratified K-fold cross-validation with K folds instead of one split")
	fs.DurationVar(&s.progress, "progress", 5*time.Second, "report progress on stderr at this `interval` (0: never)")
	fs.BoolVar(&s.DP, "dp", false, "train with DP-SGD (defaults then: --optimizer sgd --lr 1)")
	fs.Float64Var(&s.Epsilon, "epsilon", 1, "with --dp: the privacy budget ε")
	fs.Float64Var(&s.Delta, "delta", 1e-5, "with --dp: δ")
	fs.StringVar(&s.Accountant, "accountant", "rdp", "with --dp: rdp or pld")
	fs.Float64Var(&s.Clip, "clip", 1, "with --dp: per-example L2 clipping norm C")
	fs.Float64Var(&s.SampleRate, "sample-rate", 0, "with --dp: Poisson sampling rate q (default --batch / training rows)")
	fs.IntVar(&s.Steps, "steps", 100, "with --dp: DP-SGD steps")
	fs.StringVar(&s.Noise, "noise", "fast", "with --dp: Gaussian sampler, fast or google")
	var ts textFlags
	ts.register(fs, &df.Text, false)
	var out string
	(*outFlag)(&out).register(fs, "write the trained model, sealed (signed with --identity, encrypted to it and to -r/-R), to `file` (.age), for predict")
	var rf recipientFlags
	rf.register(fs, false)
	fs.BoolVar(&s.Int8, "int8", false, "quantize the model for deployment (12-bit values with a scale per output unit, about 5× smaller than float64; the flag keeps the name of the earlier 8-bit format): report its size and agreement with the float model on the test rows, and seal it so with --out")
	var jsonOut bool
	(*jsonFlag)(&jsonOut).register(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("train: unexpected argument %q", pos[0])
	}
	set := setFlags(fs)
	if err := ts.check(set); err != nil {
		return err
	}
	if df.Text != "" {
		if !set["model"] {
			s.Model = defaultTextModel
		}
		if !set["epochs"] {
			s.Epochs = defaultTextEpochs
		}
	}
	if !s.DP {
		// A privacy setting without --dp would train without privacy while
		// the command line says otherwise.
		for _, name := range []string{"epsilon", "delta", "accountant", "clip", "sample-rate", "steps", "noise"} {
			if set[name] {
				return usagef("--%s is a DP-SGD setting: add --dp (without it training is not private)", name)
			}
		}
	}
	if s.DP {
		if !set["optimizer"] {
			s.Optimizer = "sgd"
		}
		if !set["lr"] {
			s.LR = 1
		}
		if !set["decay"] {
			s.Decay = 0
		}
		if df.Text != "" {
			trainTextPrivateDefaults(&ts, &s, set)
		}
		switch {
		case !(s.Epsilon > 0) || math.IsInf(s.Epsilon, 0):
			return usagef("--epsilon %v: must be positive and finite", s.Epsilon)
		case !(s.Delta > 0 && s.Delta < 1):
			return usagef("--delta %v: must be in (0, 1)", s.Delta)
		case !(s.Clip > 0) || math.IsInf(s.Clip, 0):
			return usagef("--clip %v: must be positive", s.Clip)
		case s.SampleRate != 0 && !(s.SampleRate > 0 && s.SampleRate <= 1):
			return usagef("--sample-rate %v: must be in (0, 1]", s.SampleRate)
		case s.Steps < 1:
			return usagef("--steps %d: must be at least 1", s.Steps)
		case s.Accountant != dp.KindRDP && s.Accountant != dp.KindPLD:
			return usagef("--accountant %q: want rdp or pld", s.Accountant)
		}
	}
	switch {
	case s.Epochs < 1:
		return usagef("--epochs %d: must be at least 1", s.Epochs)
	case s.Batch < 1:
		return usagef("--batch %d: must be at least 1", s.Batch)
	case !(s.LR > 0) || math.IsInf(s.LR, 0):
		return usagef("--lr %v: must be positive", s.LR)
	case !(s.testFrac > 0 && s.testFrac < 1):
		return usagef("--test-fraction %v: must be in (0, 1)", s.testFrac)
	case *cv == 1 || *cv < 0:
		return usagef("--cv %d: need at least 2 folds", *cv)
	}
	if df.Text != "" {
		if err := checkTrainText(&ts, s, set); err != nil {
			return err
		}
	}
	switch {
	case out == "" && (len(rf.recipients) > 0 || len(rf.files) > 0):
		return usagef("train: -r/-R are for --out: the model file is encrypted to them")
	case s.Int8 && *cv != 0:
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
	if df.Text != "" {
		if _, err := model.ParseSparseSpec(s.Model, ts.cfg.Buckets+len(ds.Features), len(ds.Classes)); err != nil {
			return usageError{err.Error()}
		}
		s.Text = &ts.cfg
	} else if _, err := model.ParseSpec(s.Model, len(ds.Features), len(ds.Classes)); err != nil {
		return usageError{err.Error()}
	}
	a := assumeData(ds, rep, &df, fillDescription(ds.Options().Imputation(), "over the training rows"))
	var train, test *data.Dataset
	if *cv == 0 {
		if train, test, err = data.StratifiedSplit(ds, s.testFrac, s.Seed); err != nil {
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
	s.OnEpoch, s.OnStep = prog.done, prog.done
	once := prog.wrap(central.Train)
	if *cv == 0 {
		cr, err := once(train, test, s.Settings)
		if err != nil {
			return err
		}
		r := trainResult{Result: cr, Undefined: cr.Metrics.Undefined()}
		if out != "" {
			id, err := df.keys.load(e)
			if err != nil {
				return err
			}
			if id.SigningKey() == nil {
				return usagef("train: --identity %s has no signing key (a passphrase identity): it cannot sign the model", df.keys.identity)
			}
			if err := sealedmodel.SealPayload(out, r.Payload, id.SigningKey(), append(rs, id.Recipient())...); err != nil {
				return fmt.Errorf("train: %w", err)
			}
			r.Output = out
		}
		if jsonOut {
			return writeJSON(e.stdout, r)
		}
		fmt.Fprintf(e.stdout, "%s on %s: %d training rows, %d test rows, %d parameters\n", s.Model, ds.Name, r.TrainRows, r.TestRows, r.Params)
		if s.DP {
			fmt.Fprintf(e.stdout, "  DP-SGD: ε = %.4g at δ = %g (%s accountant), noise multiplier %.4g, sample rate %.4g, %d steps, clip %g\n",
				r.Epsilon, r.Delta, r.Accountant, r.NoiseMultiplier, r.SampleRate, r.Steps, r.ClipNorm)
		}
		printMetrics(e, r.Metrics)
		if q := r.Int8; q != nil {
			fmt.Fprintf(e.stdout, "  quantized (%d-bit): %d bytes against %d (%.1f× smaller); on the %d test rows %.2f%% of classes as the float model's, probabilities within %.4f\n",
				model.QuantBits, q.Int8Bytes, q.FloatBytes, float64(q.FloatBytes)/float64(q.Int8Bytes), r.TestRows, 100*q.ClassAgreement, q.MaxProbDiff)
		}
		if out != "" {
			fmt.Fprintf(e.stdout, "  model sealed to %s\n", out)
		}
		return nil
	}
	sum, err := central.CrossValidate(ctx, ds, *cv, s.Seed, s.Settings, once)
	if err != nil {
		return err
	}
	if jsonOut {
		return writeJSON(e.stdout, sum)
	}
	fmt.Fprintf(e.stdout, "%s on %s: %d-fold stratified cross-validation (mean ± standard deviation over folds)\n", s.Model, ds.Name, *cv)
	if s.DP {
		fmt.Fprintf(e.stdout, "  DP-SGD per fold: ε = %.4g at δ = %g (%s), σ = %.4g, q = %.4g, %d steps, C = %g; over the %d folds each row trained in: ε = %.4g\n",
			sum.FoldEpsilon, s.Delta, s.Accountant, sum.NoiseMultiplier, sum.SampleRate, s.Steps, s.Clip, *cv-1, sum.Epsilon)
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

func printMetrics(e *env, m model.Metrics) {
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	f := metricFormat(m)
	fmt.Fprintf(tw, "  accuracy\t%s\n  precision\t%s\n  recall\t%s\n  f1\t%s\n  auc\t%s\n  brier\t%s\n  ece\t%s\n",
		f("accuracy", m.Accuracy), f("precision", m.Precision), f("recall", m.Recall), f("f1", m.F1), f("auc", m.AUC), f("brier", m.Brier), f("ece", m.ECE))
	tw.Flush()
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
	p := &trainProgress{w: w, every: s.progress, folds: folds, total: s.Epochs, unit: "epoch"}
	if s.DP {
		p.total, p.unit = s.Steps, "step"
	}
	return p
}

// wrap returns once reporting progress, through the settings' hooks.
func (p *trainProgress) wrap(once func(train, test *data.Dataset, s central.Settings) (central.Result, error)) func(train, test *data.Dataset, s central.Settings) (central.Result, error) {
	if p.every <= 0 {
		return once
	}
	p.start, p.last = time.Now(), time.Now()
	return func(train, test *data.Dataset, s central.Settings) (central.Result, error) {
		p.fold++
		return once(train, test, s)
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
