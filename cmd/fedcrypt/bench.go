package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/fedcrypt/fedcrypt/bench"
)

func runBench(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
	var jsonOut bool
	(*jsonFlag)(&jsonOut).register(fs)
	quick := fs.Bool("quick", false, "small sizes: seconds instead of minutes (no 1M-parameter model)")
	reps := fs.Int("reps", 0, "repetitions of each measurement (default 5, 3 with --quick)")
	compression := fs.Bool("compression", false, "measure upload compression against dense uploads instead")
	abstracts := fs.String("abstracts", "", "with --compression: the medical abstracts CSV `file` (condition, abstract), also measured")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("bench: unexpected argument %q", pos[0])
	}
	if *abstracts != "" && !*compression {
		return usagef("bench: --abstracts goes with --compression")
	}
	if *compression {
		return runBenchCompression(ctx, e, *abstracts, jsonOut)
	}
	if *reps < 0 || *reps > 1000 {
		return usagef("--reps %d: must be in [1, 1000] (0: the default)", *reps)
	}
	r, err := bench.Run(ctx, bench.Config{Quick: *quick, Reps: *reps, Progress: e.stderr})
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if jsonOut {
		return writeJSON(e.stdout, r)
	}
	printBench(e.stdout, r)
	return nil
}

func printBench(w io.Writer, r *bench.Report) {
	m := r.Machine
	fmt.Fprintf(w, "machine  %s, %d cores (GOMAXPROCS %d), %s %s/%s, load %s\n", m.CPU, m.Cores, m.GOMAXPROCS, m.GoVersion, m.OS, m.Arch, m.Load)
	fmt.Fprintf(w, "figures are best (worst) of %d repetitions; quick %v\n\n", r.Reps, r.Quick)
	fmt.Fprintln(w, "DP-SGD on wdbc, batch 64       params   private ex/s (1 core / all)    non-private ex/s (1 / all)     ratio 1 / all")
	for _, d := range r.DP {
		fmt.Fprintf(w, "  %-28s %8d   %-14s %-14s  %-14s %-14s  %.2f / %.2f\n", d.Model, d.Params,
			span(d.PrivateOneCore, "%.3g"), span(d.Private, "%.3g"), span(d.NonPrivateOneCore, "%.3g"), span(d.NonPrivate, "%.3g"),
			d.RatioOneCore, d.RatioAllCores)
	}
	fmt.Fprintln(w, "\ntext, s/epoch of 1600 docs      params   private s (1 thread / all)     non-private s (1 / all)        ratio 1 / all")
	for _, t := range r.Text {
		name := fmt.Sprintf("%s, %d buckets", t.Model, t.Buckets)
		fmt.Fprintf(w, "  %-28s %8d   %-14s %-14s  %-14s %-14s  %.2f / %.2f\n", name, t.Params,
			span(t.PrivateOneCore, "%.3g"), span(t.PrivateAllCores, "%.3g"), span(t.NonPrivateOneCore, "%.3g"), span(t.NonPrivateAllCores, "%.3g"),
			t.RatioOneCore, t.RatioAllCores)
	}
	fmt.Fprintln(w, "\nDP noise                        ns/draw")
	for _, n := range r.Noise {
		fmt.Fprintf(w, "  %-28s %s\n", n.Sampler, span(n.NsPerDraw, "%.4g"))
	}
	fmt.Fprintln(w, "\nCKKS                            ", "compact / precise")
	row := func(name string, f func(h bench.HEPreset) string) {
		fmt.Fprintf(w, "  %-30s", name)
		for i, h := range r.HE {
			if i > 0 {
				fmt.Fprint(w, " / ")
			}
			fmt.Fprint(w, f(h))
		}
		fmt.Fprintln(w)
	}
	row("encrypt params/s, 1 core", func(h bench.HEPreset) string { return span(h.EncryptOneCore, "%.3g") })
	row("encrypt params/s, all cores", func(h bench.HEPreset) string { return span(h.EncryptAllCores, "%.3g") })
	row("aggregate params/s", func(h bench.HEPreset) string { return span(h.Aggregate, "%.3g") })
	row("decryption share ms/ct", func(h bench.HEPreset) string { return span(h.DecryptionShareMs, "%.3g") })
	row("combine T=10 ms/ct", func(h bench.HEPreset) string { return span(h.CombineMs, "%.3g") })
	row("upload bytes/param (1M)", func(h bench.HEPreset) string { return fmt.Sprintf("%.2f", h.UploadBytesPerParam) })
	row("share bytes/param (1M, T=10)", func(h bench.HEPreset) string { return fmt.Sprintf("%.2f", h.ShareBytesPerParam) })
	row("precision bits (100, T=10)", func(h bench.HEPreset) string { return fmt.Sprintf("%.1f", h.PrecisionBits) })
	fmt.Fprintln(w, "\nround (DP on)    hospitals   params   encrypted s          plaintext s          ratio  bytes up/hospital enc / plain")
	for _, rd := range r.Rounds {
		fmt.Fprintf(w, "  %-14s %9d %8d   %-20s %-20s %5.2f  %.0f / %.0f\n", rd.Model, rd.Hospitals, rd.Params,
			span(rd.Encrypted, "%.3g"), span(rd.Plaintext, "%.3g"), rd.Ratio, rd.EncryptedBytesPerHospital, rd.PlaintextBytesPerHospital)
	}
	fmt.Fprintln(w, "\nkey holder per round (sum check, precise, K ≤ 16, T = 3)")
	fmt.Fprintln(w, "  hospitals   params  cts  q   download B  commit B   request B    sum B   per hospital  ÷ sum   bound  checks s (headers, fingerprints, endorsements, sum)")
	for _, k := range r.KeyHolder {
		v := k.Verify
		fmt.Fprintf(w, "  %9d %8d %4d %2d %12d %9d %11d %9d %9.0f  %7.3f  %-5v  %.3g (%.2g, %.2g, %.2g, %.2g)\n", k.Hospitals, k.Params, k.Ciphertexts, k.Quorum,
			k.DownloadBytes, k.CommitBytes, k.RequestBytes, k.SumBytes, k.SmallBytesPerHospital, k.DownloadOverSum, k.WithinBound,
			k.VerifySeconds, v.Headers, v.Fingerprints, v.Endorsements, v.Envelopes+v.Sum)
	}
	c := r.KeyHolderCosts
	fmt.Fprintf(w, "  per item: header %.3g µs, fingerprint envelope %.3g µs, endorsement %.3g µs, + %.3g ns each per member; sum %.3g ms per ciphertext\n", c.HeaderUs, c.FingerprintUs, c.EndorsementUs, c.PerMemberNs, c.SumMsPerCt)
	fmt.Fprintf(w, "\nplaintext aggregate params/s  %s\n", span(r.PlainAggregate, "%.3g"))
	fmt.Fprintf(w, "he_bytes_per_param %.2f  he_precision_bits %.1f  he_encrypt_params_per_s %.3g\n", r.HEBytesPerParam, r.HEPrecisionBits, r.HEEncryptParamsPerS)
	fmt.Fprintf(w, "dp_noise_ns_per_draw %.3g  dp_step_ratio %.2f (1 core; %.2f on all)  round_ratio %.2f (%d params, 10 hospitals)\n",
		r.DPNoiseNsPerDraw, r.DPStepRatio, r.DPStepRatioAllCores, r.RoundRatio, r.RoundParams)
	fmt.Fprintf(w, "took %.0f s\n", r.Seconds)
}

// span formats a best (worst) pair.
func span(s bench.Span, verb string) string {
	return fmt.Sprintf(verb+" ("+verb+")", s.Best, s.Worst)
}

// compressionSet is one data set's compression figures.
type compressionSet struct {
	Data    string                    `json:"data"`
	Results []bench.CompressionResult `json:"results"`
}

func runBenchCompression(ctx context.Context, e *env, abstracts string, jsonOut bool) error {
	seeds := []uint64{1, 2, 3}
	cases := []struct {
		name string
		cfg  bench.CompressionConfig
	}{{"digits", bench.DigitsCompression(seeds)}}
	if abstracts != "" {
		b, err := os.ReadFile(abstracts)
		if err != nil {
			return fmt.Errorf("bench: --abstracts: %w", err)
		}
		cases = append(cases, struct {
			name string
			cfg  bench.CompressionConfig
		}{"abstracts", bench.AbstractsCompression(b, seeds)})
	}
	var out struct {
		Compression []compressionSet `json:"compression"`
	}
	for _, c := range cases {
		fmt.Fprintf(e.stderr, "compression: %s, %v against dense, seeds %v\n", c.name, c.cfg.Schemes[1:], seeds)
		rs, err := bench.MeasureCompression(ctx, c.cfg)
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		out.Compression = append(out.Compression, compressionSet{Data: c.name, Results: rs})
	}
	if jsonOut {
		return writeJSON(e.stdout, out)
	}
	fmt.Fprintln(e.stdout, "compression  scheme          values up    encrypted B/round  plain B/round   accuracy (median of seeds)")
	for _, set := range out.Compression {
		dense := set.Results[0]
		for _, r := range set.Results {
			seeds := make([]string, len(r.Accuracy))
			for i, a := range r.Accuracy {
				seeds[i] = fmt.Sprintf("%.3f", a)
			}
			fmt.Fprintf(e.stdout, "  %-10s %-14s %7d/%-7d %9d (%4.1f×)  %8d      %.4f (%+.4f)  %s\n", set.Data, r.Scheme, r.Uploaded, r.Params,
				r.HEBytes, float64(dense.HEBytes)/float64(r.HEBytes), r.PlainBytes, r.Median, r.Median-dense.Median, strings.Join(seeds, " "))
		}
	}
	return nil
}
