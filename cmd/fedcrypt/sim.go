package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/dp"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/sim"
	"github.com/fedcrypt/fedcrypt/vault"
)

// fedcryptBinary is the executable the parties of a multi-process
// simulation run as: this one.
var fedcryptBinary = os.Executable

func runSim(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
	def := sim.Defaults()
	var df dataFlags
	df.register(fs, "wdbc")
	var bf boundsFlags
	bf.register(fs)
	cfg := def
	fs.IntVar(&cfg.Hospitals, "hospitals", def.Hospitals, "number of hospitals")
	fs.IntVar(&cfg.Threshold, "threshold", def.Threshold, "T: key holders needed to decrypt a sum (≥ 2)")
	fs.IntVar(&cfg.Committee, "committee", 0, "how many hospitals hold key shares (default all); setup grows with it, not with --hospitals")
	fs.IntVar(&cfg.MinContributors, "min-contributors", 0, "fewest uploads a sum may have (default T+1, or T with only T hospitals)")
	fs.IntVar(&cfg.Rounds, "rounds", def.Rounds, "federated rounds")
	fs.IntVar(&cfg.LocalSteps, "local-steps", def.LocalSteps, "DP-SGD steps each hospital takes per round")
	fs.Float64Var(&cfg.Epsilon, "epsilon", def.Epsilon, "each hospital's privacy budget ε over the whole run")
	fs.Float64Var(&cfg.Delta, "delta", def.Delta, "δ of every hospital's (ε, δ) guarantee")
	fs.StringVar(&cfg.Accountant, "accountant", def.Accountant, "privacy accountant: rdp or pld")
	fs.StringVar(&cfg.Noise, "noise", def.Noise, "Gaussian noise sampler: fast or google")
	fs.Float64Var(&cfg.ClipNorm, "clip", def.ClipNorm, "per-example (per-patient) L2 clipping norm C")
	fs.Float64Var(&cfg.SampleRate, "sample-rate", def.SampleRate, "Poisson sampling rate q of each DP-SGD step")
	fs.Float64Var(&cfg.Local.LR, "lr", def.Local.LR, "local learning rate")
	localOpt := fs.String("local-opt", def.Local.Name, "local optimizer: sgd, adam or rmsprop")
	fs.StringVar(&cfg.Model, "model", def.Model, "model: logreg, softmax, mlp:H1[,H2...][:relu|sigmoid|tanh]; with --text: softmax, embag:DIM[:H1,...]")
	var sf serverOptFlags
	sf.register(fs, def.Server)
	var tf textFlags
	tf.register(fs, &df.Text, true)
	partition := fs.String("partition", "iid", "how rows are spread over hospitals: iid, dirichlet:ALPHA, quantity:ALPHA, or column:NAME (one hospital per value of column NAME; --data a.csv,b.csv gives one per file)")
	fs.StringVar(&cfg.Preset, "preset", def.Preset, "CKKS parameter preset: compact or precise")
	fs.Float64Var(&cfg.UpdateBound, "update-bound", def.UpdateBound, "L2 bound every model update is clipped to before encryption")
	fs.StringVar(&cfg.Weighting, "weighting", def.Weighting, "averaging weights: equal, or rows (declared row counts, public)")
	fs.StringVar(&cfg.Compress, "compress", "", "upload compression after DP: randk:FRACTION or srht:FRACTION, :ef for error feedback (e.g. srht:0.09:ef); every hospital uses the round's shared map, so the ciphertexts still add")
	fs.Float64Var(&cfg.Dropout, "dropout", 0, "probability that a hospital fails in a round")
	fs.Float64Var(&cfg.EvalEpsilon, "private-eval", 0, "evaluate the final model privately on each hospital's held-out rows, the release costing this `ε` (within --epsilon)")
	seed := fs.String("seed", "", "make the run reproducible (not fit for real data)")
	(*outFlag)(&cfg.OutDir).register(fs, "write the run's artefacts (sealed model and ledgers, metrics, audit log) to `dir`")
	var rf recipientFlags // also seal every output to these (a researcher, an auditor)
	rf.register(fs, false)
	resume := fs.String("resume", "", "continue the killed run whose --out was `dir` (its settings and data flags are the run's own)")
	resumeKey := fs.String("resume-identity", "", "age identity `file` the killed run's keys were sealed to (default: DIR/researcher.key)")
	transportName := fs.String("transport", "inmem", "inmem: one process; grpc: every party its own process over loopback with mutual TLS")
	noHE := fs.Bool("no-he", false, "do NOT encrypt updates (comparison runs only)")
	noDP := fs.Bool("no-dp", false, "do NOT use differential privacy (comparison runs only)")
	verbose := fs.Bool("verbose", false, "log protocol events to stderr")
	var jsonOut bool
	(*jsonFlag)(&jsonOut).register(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("sim: unexpected argument %q", pos[0])
	}
	if *resume != "" {
		// A resumed run keeps its own settings: a flag that would change
		// them is refused rather than silently ignored.
		var ignored []string
		fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "resume", "resume-identity", "identity", "i", "passphrase-file", "json", "verbose":
			default:
				ignored = append(ignored, "--"+f.Name)
			}
		})
		if len(ignored) > 0 {
			return usagef("--resume: %s cannot change a run that is resumed (it keeps the settings it was started with)", strings.Join(ignored, ", "))
		}
		return resumeSim(ctx, e, *resume, *resumeKey, df.keys, jsonOut, *verbose)
	}
	if *transportName != "inmem" && *transportName != "grpc" {
		return usagef("--transport %q: want inmem or grpc", *transportName)
	}
	cfg.HE, cfg.DP = !*noHE, !*noDP
	cfg.Local.Name = *localOpt
	if err := textFederation(&cfg, df.Text, &tf, &sf, setFlags(fs)); err != nil {
		return err
	}
	extra, err := rf.optional(e)
	if err != nil {
		return err
	}
	for _, r := range extra {
		cfg.Recipients = append(cfg.Recipients, r.String())
	}
	cfg.PrivacyUnit = df.Unit
	cfg.StatsShare = bf.share
	if err := partitionAndSeed(&cfg, &df, *partition, *seed); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return usageError{err.Error()}
	}
	if err := cfg.Server.Validate(); err != nil {
		return usageError{err.Error()}
	}
	if err := cfg.Local.Validate(); err != nil {
		return usageError{fmt.Sprintf("--local-opt/--lr: %v", err)}
	}
	// For site-native data, rep is the sites' reports together.
	sites, ds, rep, err := loadSimData(e, &df, &cfg, fs)
	if err != nil {
		return err
	}
	if cfg.Bounds, err = bf.load(df.Source, ds); err != nil {
		return usageError{err.Error()}
	}
	if err := checkSimSettings(cfg, ds); err != nil {
		return err
	}
	if cfg.OutDir != "" {
		if err := sim.CheckOutDir(cfg.OutDir); err != nil {
			return usageError{err.Error()}
		}
	}
	if *transportName == "grpc" && sites != nil {
		return usagef("--transport grpc runs one data set partitioned over hospitals: site-native data (--data a,b or --partition column:) runs in memory")
	}
	if e, err = assumeSim(e, ds, rep, &df, cfg, jsonOut); err != nil {
		return err
	}
	if cfg.Data, err = json.Marshal(&df); err != nil {
		return err
	}
	if *verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(e.stderr, nil))
	}
	if !jsonOut {
		printSimHeader(e.stdout, ds, cfg)
	}
	table := newRoundTable(e.stdout, !jsonOut, cfg.DP)
	// The bar shares the terminal with the table only when the table is
	// not on it.
	progress := newProgress(e.stderr, cfg.Rounds, *verbose || (!jsonOut && isTerminal(e.stdout)))
	cfg.OnRound = func(r sim.RoundReport) {
		table.row(r)
		progress.step(r)
	}
	run := sim.Run
	if *transportName == "grpc" {
		exe, err := fedcryptBinary()
		if err != nil {
			return err
		}
		run = func(ctx context.Context, ds *data.Dataset, cfg sim.Config) (*sim.Result, error) {
			return sim.RunProcesses(ctx, ds, cfg, sim.Processes{Binary: exe, Stderr: e.stderr})
		}
	}
	if sites != nil {
		run = func(ctx context.Context, _ *data.Dataset, cfg sim.Config) (*sim.Result, error) {
			return sim.RunSites(ctx, sites, cfg)
		}
	}
	res, err := run(ctx, ds, cfg)
	progress.done()
	if err != nil {
		return err
	}
	if jsonOut {
		return writeJSON(e.stdout, simJSON(res))
	}
	table.evaluation(res)
	printSimSummary(e.stdout, res, cfg)
	return nil
}

// checkSimSettings checks, before anything is printed or run, the
// settings that would otherwise fail only once the federation is built or
// the first round trains.
func checkSimSettings(cfg sim.Config, ds *data.Dataset) error {
	if err := checkModel(cfg, ds); err != nil {
		return err
	}
	if cfg.HE {
		if _, err := (federation.HE{Enabled: true, Preset: cfg.Preset}).Params(); err != nil {
			return usagef("--preset: %v", err)
		}
		if !(cfg.UpdateBound > 0) || math.IsInf(cfg.UpdateBound, 0) {
			return usagef("--update-bound %v: must be positive and finite", cfg.UpdateBound)
		}
	}
	if cfg.DP && cfg.Noise != dp.SamplerFast && cfg.Noise != dp.SamplerGoogle {
		return usagef("--noise %q: want %s or %s", cfg.Noise, dp.SamplerFast, dp.SamplerGoogle)
	}
	if cfg.Weighting != "equal" && cfg.Weighting != "rows" {
		return usagef("--weighting %q: want equal or rows", cfg.Weighting)
	}
	switch {
	case cfg.EvalEpsilon < 0 || math.IsNaN(cfg.EvalEpsilon):
		return usagef("--private-eval %v: must be positive (0: no private evaluation)", cfg.EvalEpsilon)
	case cfg.EvalEpsilon > 0 && !cfg.DP:
		return usagef("--private-eval needs DP: its release is charged to the hospitals' budgets")
	case cfg.EvalEpsilon > 0 && cfg.EvalEpsilon >= cfg.Epsilon:
		return usagef("--private-eval %v: must be below --epsilon %v, which it is part of", cfg.EvalEpsilon, cfg.Epsilon)
	}
	for _, r := range cfg.Recipients {
		if _, err := vault.ParseRecipient(r); err != nil {
			return usagef("--recipient: %v", err)
		}
	}
	return nil
}

// resumeSim continues a killed run: its settings and data flags come from
// the run directory; keys are opened with the researcher key (or the
// identity given).
func resumeSim(ctx context.Context, e *env, dir, keyFile string, dataKeys keyFlags, jsonOut, verbose bool) error {
	cfg, err := sim.ReadConfig(dir)
	if st, serr := os.Stat(filepath.Join(dir, "federation")); err != nil && serr == nil && st.IsDir() {
		return fmt.Errorf("resume %s: a --transport grpc run is not resumed by sim: its parties resume on their own (aggregator serve --resume, client join)", dir)
	}
	if err != nil {
		return err
	}
	// The summary is written last: a run that has one is over, and
	// resuming it would only append to its log and replace its results.
	if _, err := os.Stat(filepath.Join(dir, sim.FileResult)); err == nil {
		return fmt.Errorf("resume %s: the run already finished (it wrote %s); there is nothing to resume", dir, sim.FileResult)
	}
	var df dataFlags
	if err := json.Unmarshal(cfg.Data, &df); err != nil || df.Source == "" {
		return fmt.Errorf("resume %s: the run did not record how its data was loaded", dir)
	}
	if dataKeys.identity != "" || dataKeys.passFile != "" {
		df.keys = dataKeys
	}
	sites, ds, _, err := loadSimData(e, &df, &cfg, nil)
	if err != nil {
		return err
	}
	var id *vault.Identity
	if keyFile != "" {
		if id, err = (&keyFlags{identity: keyFile}).load(e); err != nil {
			return err
		}
	}
	var hooks sim.Config
	if verbose {
		hooks.Logger = slog.New(slog.NewTextHandler(e.stderr, nil))
	}
	if !jsonOut {
		fmt.Fprintf(e.stdout, "fedcrypt sim: resuming the run in %s\n", dir)
		printSimHeader(e.stdout, ds, cfg)
	}
	table := newRoundTable(e.stdout, !jsonOut, cfg.DP)
	hooks.OnRound = table.row
	var res *sim.Result
	if sites != nil {
		res, err = sim.ResumeSites(ctx, sites, dir, id, hooks)
	} else {
		res, err = sim.Resume(ctx, ds, dir, id, hooks)
	}
	if err != nil {
		return err
	}
	if jsonOut {
		return writeJSON(e.stdout, simJSON(res))
	}
	table.evaluation(res)
	printSimSummary(e.stdout, res, cfg)
	return nil
}

// simJSON is the --json object: the fields DESIGN.md promises, then the rest.
func simJSON(r *sim.Result) map[string]any {
	eps := any(r.Epsilon)
	if !r.DP {
		eps = nil // no finite guarantee
	}
	return map[string]any{
		"accuracy": r.Accuracy, "precision": r.Precision, "recall": r.Recall, "f1": r.F1, "auc": r.AUC,
		"brier": r.Brier, "ece": r.ECE, "epsilon": eps, "delta": r.Delta, "accountant": r.Accountant, "noise_multiplier": r.NoiseMultiplier,
		"rounds": r.Rounds, "resumed_after": r.ResumedAfter, "hospitals": r.Hospitals, "threshold": r.Threshold, "min_contributors": r.MinContributors,
		"encrypted": r.Encrypted, "dp": r.DP, "privacy_unit": r.PrivacyUnit,
		"bytes_up_per_round": r.BytesUpPerRound, "seconds": r.Seconds, "ended": r.Ended, "seeded": r.Seeded,
		"params": r.Params, "train_rows": r.TrainRows, "test_rows": r.TestRows, "config_hash": r.ConfigHash,
		"confusion": r.Confusion, "history": r.History, "out": r.OutDir, "private_evaluation": r.PrivateEvaluation,
		"sites": r.Sites,
	}
}

func printSimHeader(w io.Writer, ds *data.Dataset, cfg sim.Config) {
	features := count(len(ds.Features), "feature")
	if ds.TextColumn != "" {
		features = "a text column and " + count(len(ds.Features), "numeric feature")
	}
	fmt.Fprintf(w, "fedcrypt sim: %s (%d rows, %s, %d classes) across %d hospitals, threshold T = %d\n",
		ds.Name, ds.Rows(), features, len(ds.Classes), cfg.Hospitals, cfg.Threshold)
	if t := cfg.TextFeatures; cfg.Text != "" && t != nil {
		grams, weights := "unigrams", "sublinear tf"
		if t.NGrams == 2 {
			grams = "unigrams and bigrams"
		}
		if t.IDF && cfg.DP {
			weights += " × IDF from the hospitals' DP document frequencies"
		} else if t.IDF {
			weights += " × IDF from the hospitals' document frequencies"
		}
		fmt.Fprintf(w, "  text: column %q, %s hashed into %d buckets, %s; model %s, %d local steps of %s at lr %g, %s on the server\n",
			cfg.Text, grams, t.Buckets, weights, cfg.Model, cfg.LocalSteps, cfg.Local.Name, cfg.Local.LR, cfg.Server.Name)
	}
	if cfg.DP {
		fmt.Fprintf(w, "  DP-SGD: ε ≤ %g, δ = %g per hospital (%s accountant), clip %g, sample rate %g, %d local steps × %d rounds\n",
			cfg.Epsilon, cfg.Delta, cfg.Accountant, cfg.ClipNorm, cfg.SampleRate, cfg.LocalSteps, cfg.Rounds)
	}
	if cfg.HE {
		fmt.Fprintf(w, "  CKKS: %s preset, updates clipped to L2 ≤ %g\n", cfg.Preset, cfg.UpdateBound)
	}
	for _, warning := range unprotectedWarnings(cfg) {
		fmt.Fprintf(w, "  !!! %s\n", warning)
	}
	if cfg.Seed != nil {
		fmt.Fprintf(w, "  seeded run (--seed %d): reproducible, NOT fit for real data\n", *cfg.Seed)
	}
	fmt.Fprintln(w)
}

func unprotectedWarnings(cfg sim.Config) []string {
	var out []string
	if !cfg.DP {
		out = append(out, "WARNING: --no-dp: NO differential privacy; the model may reveal individual patients")
	}
	if !cfg.HE {
		out = append(out, "WARNING: --no-he: updates are NOT encrypted; the aggregator sees every hospital's update")
	}
	return out
}

// roundTable prints a row per round as it completes.
type roundTable struct {
	w  io.Writer
	on bool
	dp bool // without DP there is no ε to show
}

const roundRow = "%5s %12s %10s %8s %6s %6s %6s %8s %12s %7s\n"

func newRoundTable(w io.Writer, on, dp bool) *roundTable {
	if on {
		fmt.Fprintf(w, roundRow, "round", "contributors", "loss (sim)", "accuracy", "F1", "AUC", "ECE", "ε spent", "upload bytes", "seconds")
	}
	return &roundTable{w: w, on: on, dp: dp}
}

func (t *roundTable) row(r sim.RoundReport) {
	if !t.on {
		return
	}
	if !r.Completed {
		fmt.Fprintf(t.w, "%5d %12d   abandoned (attempt %d): %s\n", r.Round, len(r.Contributors), r.Attempt, r.Reason)
		return
	}
	f := func(format string, v any) string { return fmt.Sprintf(format, v) }
	fm := metricFormat(r.Metrics)
	m := func(name string, v float64) string { // a round not scored shows a dash, not a zero
		if !r.Evaluated {
			return "-"
		}
		return fm(name, v)
	}
	eps, secs := "-", "-" // no DP: no finite ε; a round not timed (one process per party): no seconds
	if t.dp {
		eps = f("%.4f", r.Epsilon)
	}
	if r.Seconds > 0 {
		secs = f("%.2f", r.Seconds)
	}
	fmt.Fprintf(t.w, roundRow, f("%d", r.Round), f("%d", len(r.Contributors)), m("loss", r.SimTrainLoss), m("accuracy", r.Accuracy),
		m("f1", r.F1), m("auc", r.AUC), m("ece", r.ECE), eps, f("%d", r.BytesUp), secs)
}

// evaluation adds the private evaluation's line under the rounds: its
// release is charged to the ledgers after the last round, so the ε it
// shows is the run's final one.
func (t *roundTable) evaluation(r *sim.Result) {
	ev := r.PrivateEvaluation
	if !t.on || ev == nil || ev.Reason != "" {
		return
	}
	eps := "-"
	if t.dp {
		eps = fmt.Sprintf("%.4f", r.Epsilon)
	}
	fmt.Fprintf(t.w, roundRow, "eval", fmt.Sprint(len(ev.Contributors)), "-", "-", "-", "-", "-", eps, "-", "-")
}

func printSimSummary(w io.Writer, r *sim.Result, cfg sim.Config) {
	fmt.Fprintln(w)
	if r.ResumedAfter > 0 {
		fmt.Fprintf(w, "%d rounds, %d of them before the resume, then %.1f s (%s); held-out test rows: %d\n",
			r.Rounds, r.ResumedAfter, r.Seconds, r.Ended, r.TestRows)
	} else {
		fmt.Fprintf(w, "%d rounds in %.1f s (%s); held-out test rows: %d\n", r.Rounds, r.Seconds, r.Ended, r.TestRows)
	}
	f := metricFormat(r.Metrics)
	fmt.Fprintf(w, "  accuracy %s   precision %s   recall %s   F1 %s   AUC %s   Brier %s   ECE %s\n",
		f("accuracy", r.Accuracy), f("precision", r.Precision), f("recall", r.Recall), f("f1", r.F1), f("auc", r.AUC), f("brier", r.Brier), f("ece", r.ECE))
	if len(r.Sites) > 0 {
		var mean float64
		for _, s := range r.Sites {
			fs := metricFormat(s.Metrics)
			fmt.Fprintf(w, "  site %-12s (%s, %d training rows) on its %d held-out rows: accuracy %s   AUC %s   ECE %s\n",
				s.Name, s.Hospital, s.TrainRows, s.TestRows, fs("accuracy", s.Accuracy), fs("auc", s.AUC), fs("ece", s.ECE))
			mean += s.Accuracy / float64(len(r.Sites))
		}
		fmt.Fprintf(w, "  mean accuracy over the %d sites: %.4f\n", len(r.Sites), mean)
	}
	unit := "one record (add/remove one row)"
	if r.PrivacyUnit != "" {
		unit = fmt.Sprintf("one patient (all rows sharing a %q value)", r.PrivacyUnit)
	}
	if r.DP {
		fmt.Fprintf(w, "Privacy: every hospital's patients are protected by (ε = %.3g, δ = %g)-differential privacy for %s,\n"+
			"  accounted with the %s accountant over every DP-SGD step taken (noise multiplier %.3g).\n", r.Epsilon, r.Delta, unit, r.Accountant, r.NoiseMultiplier)
		fmt.Fprintf(w, "  Whatever anyone learns from the final model changes by at most a factor e^ε ≈ %.2f, except with probability δ,\n"+
			"  whether or not any single patient's data was used.\n", math.Exp(r.Epsilon))
	}
	if r.Encrypted {
		fmt.Fprintf(w, "Encryption: each update was CKKS-encrypted under a key no party holds; the aggregator summed ciphertexts,\n"+
			"  and only T = %d hospitals together decrypted the sum of at least %d updates (%.0f bytes up per round).\n",
			r.Threshold, r.MinContributors, r.BytesUpPerRound)
	}
	if ev := r.PrivateEvaluation; ev != nil {
		if ev.Reason != "" {
			fmt.Fprintf(w, "Private evaluation: not completed (%s)\n", ev.Reason)
		} else {
			printPrivateEvaluation(w, privateEvaluation{totals: ev.ScoreMetrics, contributors: len(ev.Contributors),
				epsilon: ev.Epsilon, noise: ev.NoiseStdDev, sealed: len(ev.Sealed), sites: ev.Sites, mean: ev.SiteMean})
		}
	}
	for _, note := range simNotes(r, cfg) {
		fmt.Fprintln(w, note)
	}
	for _, warning := range unprotectedWarnings(cfg) {
		fmt.Fprintf(w, "!!! %s\n", warning)
	}
	if r.Seeded {
		fmt.Fprintln(w, "!!! seeded run: its randomness is predictable; NOT fit for real data")
	}
	if r.OutDir != "" {
		// Name only what the run wrote: a run over gRPC scores no round,
		// so it has no rounds.csv.
		written := func(names ...string) []string {
			var out []string
			for _, n := range names {
				if _, err := os.Stat(filepath.Join(r.OutDir, n)); err == nil {
					out = append(out, n)
				}
			}
			return out
		}
		fmt.Fprintf(w, "Artefacts in %s: %s; sealed: %s\n", r.OutDir,
			strings.Join(written(sim.FileConfig, sim.FileAudit, sim.FileRounds, sim.FileResult), ", "),
			strings.Join(written(sim.FileModel, sim.FileCheckpoint, sim.FileKeys, sim.DirHospitals+"/"), ", "))
	}
}

// progress draws a one-line progress bar on stderr when it is a terminal.
type progress struct {
	w         io.Writer
	total     int
	completed int
	on        bool
	start     time.Time
}

func newProgress(w io.Writer, total int, quiet bool) *progress {
	return &progress{w: w, total: total, on: !quiet && isTerminal(w), start: time.Now()}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (p *progress) step(r sim.RoundReport) {
	if r.Completed {
		p.completed++
	}
	if !p.on {
		return
	}
	const width = 30
	n := width * p.completed / max(1, p.total)
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d rounds, %.0fs ", strings.Repeat("#", n), strings.Repeat(".", width-n), p.completed, p.total, time.Since(p.start).Seconds())
}

func (p *progress) done() {
	if p.on {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
