package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"

	"github.com/fedcrypt/fedcrypt/aggregator"
	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/sim"
	"github.com/fedcrypt/fedcrypt/stats"
)

func runStats(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
	def := sim.Defaults()
	var df dataFlags
	df.register(fs, "wdbc")
	var bf boundsFlags
	bf.register(fs)
	cfg := def
	fs.IntVar(&cfg.Hospitals, "hospitals", def.Hospitals, "number of hospitals")
	fs.IntVar(&cfg.Threshold, "threshold", def.Threshold, "T: key holders needed to decrypt the sum (≥ 2)")
	fs.Float64Var(&cfg.Epsilon, "epsilon", def.Epsilon, "each hospital's privacy budget ε of the run the statistics precede")
	fs.Float64Var(&cfg.Delta, "delta", def.Delta, "δ of every hospital's (ε, δ) guarantee")
	partition := fs.String("partition", "iid", "how rows are spread over hospitals: iid, dirichlet:ALPHA, quantity:ALPHA, or column:NAME (one hospital per value)")
	seed := fs.String("seed", "", "make the run reproducible (not fit for real data)")
	(*outFlag)(&cfg.OutDir).register(fs, "write the run's artefacts (audit log, ledgers, result) to `dir`")
	var jsonOut bool
	(*jsonFlag)(&jsonOut).register(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("stats: unexpected argument %q", pos[0])
	}
	cfg.StatisticsOnly, cfg.StatsShare, cfg.PrivacyUnit = true, bf.share, df.Unit
	if err := partitionAndSeed(&cfg, &df, *partition, *seed); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return usageError{err.Error()}
	}
	sites, ds, _, err := loadSimData(e, &df, &cfg, fs)
	if err != nil {
		return err
	}
	if cfg.Bounds, err = bf.load(df.Source, ds); err != nil {
		return usageError{err.Error()}
	}
	if cfg.OutDir != "" {
		if err := sim.CheckOutDir(cfg.OutDir); err != nil {
			return usageError{err.Error()}
		}
	}
	var res *sim.Result
	if sites != nil {
		res, err = sim.RunSites(ctx, sites, cfg)
	} else {
		res, err = sim.Run(ctx, ds, cfg)
	}
	if err != nil {
		return err
	}
	st := res.Statistics
	if st == nil || st.Summary == nil {
		return fmt.Errorf("stats: the run ended without statistics (%s)", res.Ended)
	}
	share := cfg.StatsShare
	if share == 0 {
		share = stats.DefaultEpsilonShare
	}
	if jsonOut {
		return writeJSON(e.stdout, map[string]any{
			"hospitals": res.Hospitals, "contributors": st.Contributors, "epsilon": res.Epsilon, "delta": res.Delta,
			"release_epsilon": share * cfg.Epsilon, "accountant": res.Accountant, "noise_std_dev": st.NoiseStdDev, "summary": st.Summary, "transform": st.Transform,
			"notes": st.Notes, "seeded": res.Seeded, "config_hash": res.ConfigHash, "out": res.OutDir,
		})
	}
	printStats(e.stdout, ds, res, st, share*cfg.Epsilon)
	return nil
}

// printStats prints the federation's statistics as a table, a row per
// feature, and the transform every hospital applies.
func printStats(w io.Writer, ds *data.Dataset, res *sim.Result, st *aggregator.Statistics, eps float64) {
	s := st.Summary
	fmt.Fprintf(w, "fedcrypt stats: %s, %d features, across %d hospitals; each released its statistics once,\n", ds.Name, len(ds.Features), len(st.Contributors))
	fmt.Fprintf(w, "  (ε = %.3g, δ = %g)-DP on its own; its ledger (%s accountant) charges ε %.3g\n", eps, res.Delta, res.Accountant, res.Epsilon)
	fmt.Fprintf(w, "  every total carries Gaussian noise of standard deviation %.4g; figures are ± one standard error\n", st.NoiseStdDev)
	if res.Seeded {
		fmt.Fprintln(w, "  seeded run: reproducible, NOT fit for real data")
	}
	fmt.Fprintf(w, "\nrows: %s", est(s.Rows, 0))
	for c, r := range s.ClassRows {
		fmt.Fprintf(w, "   class %s: %s", s.Classes[c], est(r, 0))
	}
	fmt.Fprint(w, "\n\n")
	const row = "%-24s %-20s %9s %20s %12s %22s %10s %10s %10s\n"
	fmt.Fprintf(w, row, "feature", "bounds", "missing", "mean", "sd", "median [95%]", "fill", "shift", "scale")
	tf := st.Transform
	for j, f := range s.Features {
		bounds := "—"
		if f.Bounds != nil {
			bounds = fmt.Sprintf("[%.4g, %.4g]", f.Bounds[0], f.Bounds[1])
		}
		g := f.All
		missing, mean, sd, median := "n/a", "n/a", "n/a", "n/a"
		if g.MissingFraction != nil {
			missing = fmt.Sprintf("%.1f%%", 100*g.MissingFraction.Value)
		}
		if g.Mean != nil {
			mean = est(*g.Mean, 4)
		}
		if g.Variance != nil && g.Variance.Value > 0 {
			sd = fmt.Sprintf("%.4g", math.Sqrt(g.Variance.Value))
		}
		if g.Median != nil {
			median = fmt.Sprintf("%.4g [%.4g, %.4g]", g.Median.Value, g.Median.Lo, g.Median.Hi)
		}
		fmt.Fprintf(w, row, f.Name, bounds, missing, mean, sd, median,
			fmt.Sprintf("%.4g", tf.Fill[j]), fmt.Sprintf("%.4g", tf.Shift[j]), fmt.Sprintf("%.4g", tf.Scale[j]))
	}
	if len(st.Notes) > 0 {
		fmt.Fprintf(w, "\n%d of %d features fell back where the statistics were too noisy:\n", len(st.Notes), len(s.Features))
		for _, n := range st.Notes {
			fmt.Fprintf(w, "  %s\n", n)
		}
	}
	if res.OutDir != "" {
		fmt.Fprintf(w, "\nArtefacts in %s: the audit log records the release and its ε.\n", res.OutDir)
	}
}

// est formats an estimate with its standard error.
func est(e stats.Estimate, digits int) string {
	if digits == 0 {
		return fmt.Sprintf("%.0f ± %.0f", e.Value, e.SE)
	}
	return fmt.Sprintf("%.*g ± %.2g", digits, e.Value, e.SE)
}
