package main

import (
	"context"
	"flag"
	"fmt"
	"math"

	"github.com/fedcrypt/fedcrypt/dp"
)

// budgetResult is what budget prints with --json.
type budgetResult struct {
	Epsilon         float64 `json:"epsilon"`
	Delta           float64 `json:"delta"`
	NoiseMultiplier float64 `json:"noise_multiplier"`
	SampleRate      float64 `json:"sample_rate"`
	Steps           int     `json:"steps"`
	Accountant      string  `json:"accountant"`
}

func runBudget(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
	sigma := fs.Float64("noise-multiplier", 0, "noise standard deviation over the clipping norm (σ)")
	target := fs.Float64("target-epsilon", 0, "print the noise multiplier for this ε instead")
	q := fs.Float64("sample-rate", 0, "Poisson sampling rate q of each step, in (0, 1]")
	steps := fs.Int("steps", 0, "number of DP-SGD steps")
	delta := fs.Float64("delta", 1e-5, "δ of the (ε, δ) guarantee, in (0, 1)")
	kind := fs.String("accountant", dp.KindRDP, "accountant: rdp or pld")
	var jsonOut bool
	(*jsonFlag)(&jsonOut).register(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("budget: unexpected argument %q", pos[0])
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case set["noise-multiplier"] && set["target-epsilon"]:
		return usagef("budget: give --noise-multiplier or --target-epsilon, not both")
	case !set["noise-multiplier"] && !set["target-epsilon"]:
		return usagef("budget: give --noise-multiplier (to get ε) or --target-epsilon (to get σ)")
	}
	if !(*q > 0 && *q <= 1) {
		return usagef("--sample-rate %v: must be in (0, 1]", *q)
	}
	if *steps < 1 {
		return usagef("--steps %d: must be at least 1", *steps)
	}
	if !(*delta > 0 && *delta < 1) {
		return usagef("--delta %v: must be in (0, 1)", *delta)
	}
	if *kind != dp.KindRDP && *kind != dp.KindPLD {
		return usagef("--accountant %q: must be rdp or pld", *kind)
	}
	if set["noise-multiplier"] && (!(*sigma > 0) || math.IsInf(*sigma, 0)) {
		return usagef("--noise-multiplier %v: must be a finite number > 0", *sigma)
	}
	if set["target-epsilon"] && (!(*target > 0) || math.IsInf(*target, 0)) {
		return usagef("--target-epsilon %v: must be a finite number > 0", *target)
	}
	cfg := dp.AccountantConfig{Kind: *kind}
	res := budgetResult{Delta: *delta, SampleRate: *q, Steps: *steps, Accountant: *kind, NoiseMultiplier: *sigma}
	if set["target-epsilon"] {
		if res.NoiseMultiplier, err = dp.CalibrateNoise(cfg, *target, *delta, *q, *steps); err != nil {
			return fmt.Errorf("budget: calibrate noise: %w", err)
		}
	}
	ev := dp.Event{SampleRate: *q, NoiseMultiplier: res.NoiseMultiplier, Steps: *steps}
	if res.Epsilon, err = dp.Epsilon(cfg, *delta, ev); err != nil {
		return fmt.Errorf("budget: %w", err)
	}
	if math.IsInf(res.Epsilon, 1) {
		return fmt.Errorf("budget: ε is unbounded at delta %v with the %s accountant (delta is below the mass it cuts from the tails)", *delta, *kind)
	}
	if jsonOut {
		return writeJSON(e.stdout, res)
	}
	if set["target-epsilon"] {
		fmt.Fprintf(e.stdout, "noise multiplier  %.6g  (smallest σ with ε ≤ %g)\n", res.NoiseMultiplier, *target)
	} else {
		fmt.Fprintf(e.stdout, "noise multiplier  %g\n", res.NoiseMultiplier)
	}
	fmt.Fprintf(e.stdout, "epsilon           %.6g\n", res.Epsilon)
	fmt.Fprintf(e.stdout, "delta             %g\n", res.Delta)
	fmt.Fprintf(e.stdout, "sample rate       %g\n", res.SampleRate)
	fmt.Fprintf(e.stdout, "steps             %d\n", res.Steps)
	fmt.Fprintf(e.stdout, "accountant        %s\n", res.Accountant)
	return nil
}
