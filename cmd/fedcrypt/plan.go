package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/fedcrypt/fedcrypt/bench"
	"github.com/fedcrypt/fedcrypt/sim"
)

func runPlan(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
	var df dataFlags
	df.register(fs, "")
	// The federation's settings default to sim's and init's.
	def := sim.Defaults()
	var cfg bench.PlanConfig
	fs.StringVar(&cfg.Model, "model", def.Model, "model: logreg, softmax, mlp:H1[,H2...][:relu|sigmoid|tanh]")
	fs.IntVar(&cfg.Features, "features", 0, "input features (or --data)")
	fs.IntVar(&cfg.Classes, "classes", 2, "label classes (or --data)")
	fs.IntVar(&cfg.Hospitals, "hospitals", def.Hospitals, "number of hospitals")
	fs.IntVar(&cfg.KeyHolders, "key-holders", 0, "how many hospitals hold key shares (default all)")
	fs.IntVar(&cfg.Threshold, "threshold", def.Threshold, "T: key holders needed to decrypt a sum (≥ 2)")
	fs.IntVar(&cfg.Rounds, "rounds", def.Rounds, "federated rounds")
	fs.IntVar(&cfg.LocalSteps, "local-steps", def.LocalSteps, "DP-SGD steps each hospital takes per round")
	fs.IntVar(&cfg.RowsPerHospital, "rows", 1000, "rows of the smallest hospital (with --data: its rows over --hospitals)")
	fs.Float64Var(&cfg.SampleRate, "sample-rate", def.SampleRate, "Poisson sampling rate q of each DP-SGD step")
	fs.Float64Var(&cfg.Epsilon, "epsilon", def.Epsilon, "each hospital's ε over the whole run")
	fs.Float64Var(&cfg.Delta, "delta", def.Delta, "δ of every hospital's (ε, δ) guarantee")
	fs.StringVar(&cfg.Accountant, "accountant", def.Accountant, "privacy accountant: rdp or pld")
	fs.StringVar(&cfg.Preset, "preset", def.Preset, "CKKS parameter preset: compact or precise")
	fs.IntVar(&cfg.SpareRounds, "spare-rounds", 1, "rounds of budget kept for retried rounds (as fedcrypt init)")
	fs.IntVar(&cfg.MaxDecryptions, "max-decryptions", def.MaxDecryptions, "decryption attempts per round's sum (as fedcrypt init)")
	fs.Uint64Var(&cfg.DecryptionBudget, "decryption-budget", 0, "L, the key's lifetime ciphertext decryptions (default: the config's default for the plan)")
	fs.BoolVar(&cfg.Evaluate, "evaluate", false, "the federation runs the private evaluation (one more decryption)")
	benchFile := fs.String("bench", "", "measured costs: the output of \"fedcrypt bench --json\" (default: a quick calibration run)")
	var jsonOut bool
	(*jsonFlag)(&jsonOut).register(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("plan: unexpected argument %q", pos[0])
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if df.Source != "" {
		ds, _, err := df.load(e)
		if err != nil {
			return err
		}
		if set["features"] || set["classes"] {
			return usagef("plan: give --data or --features/--classes, not both")
		}
		cfg.Features, cfg.Classes = len(ds.Features), len(ds.Classes)
		if !set["rows"] && cfg.Hospitals > 0 {
			cfg.RowsPerHospital = ds.Rows() / cfg.Hospitals
		}
	} else if !set["features"] {
		return usagef("plan: give --features (and --classes) or --data")
	}
	if err := cfg.Validate(); err != nil {
		return usageError{err.Error()}
	}
	var costs *bench.Report
	if *benchFile != "" {
		if costs, err = readBench(*benchFile); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(e.stderr, "calibrating: DP-SGD steps and CKKS costs at small sizes (use --bench FILE to skip)")
		if costs, err = bench.Calibrate(ctx, cfg.Preset); err != nil {
			return fmt.Errorf("plan: calibrate: %w", err)
		}
	}
	pl, err := bench.NewPlan(cfg, costs)
	if err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	if *benchFile != "" {
		pl.Command += " --bench " + *benchFile
	}
	if jsonOut {
		return writeJSON(e.stdout, pl)
	}
	printPlan(e.stdout, pl)
	return nil
}

// readBench reads the output of bench --json.
func readBench(path string) (*bench.Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--bench: %w", err)
	}
	var r bench.Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("--bench %s: not the output of fedcrypt bench --json: %v", path, err)
	}
	if len(r.DP) == 0 || len(r.HE) == 0 {
		return nil, fmt.Errorf("--bench %s: no dp_sgd or he measurements: not the output of fedcrypt bench --json", path)
	}
	return &r, nil
}

func printPlan(w io.Writer, p *bench.Plan) {
	c := p.Config
	fmt.Fprintf(w, "model              %s: %d parameters, %d ciphertexts of %d slots (%s)\n", c.Model, p.Params, p.Ciphertexts, p.Slots, c.Preset)
	fmt.Fprintf(w, "per hospital/round %d bytes up, %d bytes down\n", p.BytesUpPerHospital, p.BytesDownPerHospital)
	fmt.Fprintf(w, "decrypting holder  +%d bytes up (share), +%d bytes down (the sum)\n", p.KeyHolderExtraUp, p.KeyHolderExtraDown)
	fmt.Fprintf(w, "aggregator in      %d bytes per round\n", p.AggregatorBytesInPerR)
	b := p.Breakdown
	fmt.Fprintf(w, "round time         %.3g s (train %.3g, encrypt %.3g, aggregate %.3g, key holder checks %.3g, share %.3g, combine %.3g), network excluded\n",
		p.RoundSeconds, b.Train, b.Encrypt, b.Aggregate, b.Verify, b.DecryptionShare, b.Combine)
	if p.RoundRatio > 0 {
		fmt.Fprintf(w, "without CKKS       %.3g s a round (train and plaintext additions): encrypted ÷ plaintext %.2f\n", p.PlaintextRoundSeconds, p.RoundRatio)
	}
	fmt.Fprintf(w, "whole run          %.3g s over %d rounds\n", p.TotalSeconds, c.Rounds)
	fmt.Fprintf(w, "noise multiplier   %.4g for ε = %g, δ = %g over %d steps at q = %.3g (%s)\n", p.NoiseMultiplier, c.Epsilon, c.Delta, p.Steps, p.SampleRate, c.Accountant)
	fmt.Fprintf(w, "precision          %.1f bits on the mean (%d hospitals, T = %d)\n", p.ExpectedPrecisionBits, c.Hospitals, c.Threshold)
	k := p.KeyHolder
	fmt.Fprintf(w, "key holder down    %d bytes per round in the decryption set: commitment %d + request %d (the sum %d, %.0f bytes per hospital besides), %.3f × the sum; within 2 × sum + small items: %v\n",
		k.DownloadBytes, k.CommitBytes, k.RequestBytes, k.SumBytes, k.SmallBytesPerHospital, k.DownloadOverSum, k.WithinBound)
	fmt.Fprintf(w, "key holder checks  %.3g s per round (%d upload headers twice, %d fingerprints, %d endorsements: the quorum of %d key holders at T = %d)\n",
		p.KeyHolderVerifySeconds, k.Hospitals, k.Hospitals, k.Quorum, k.KeyHolders, k.Threshold)
	bu := p.Budget
	fmt.Fprintf(w, "decryption budget  L = %d ciphertext decryptions (preset floods at most %d); planned run uses %d (%.1f%%), %.1f security bits left (%.1f at L)\n",
		bu.Budget, bu.MaxForPreset, bu.PlannedUse, 100*bu.Fraction, bu.SecurityBitsLeft, bu.SecurityBitsAtBudget)
	fmt.Fprintf(w, "costs measured on  %s\n", p.CostsMeasured)
	fmt.Fprintf(w, "command            %s\n", p.Command)
	for _, s := range p.Warnings {
		fmt.Fprintf(w, "warning: %s\n", s)
	}
}
