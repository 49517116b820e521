package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/fedcrypt/fedcrypt/dp"
)

// DefaultPreset is the CKKS preset of `fedcrypt sim` and of the top-level
// figures.
const DefaultPreset = "precise"

// Config chooses the sizes of a measurement run.
type Config struct {
	// Quick shrinks every size so the run takes seconds (tests, CI): no
	// 1M-parameter model, 100,000-parameter uploads, 3 and 10 hospitals.
	// Without it, rounds run 3, 10 and 100 hospitals with the 10k model and
	// 3 and 10 with the 1M one (100 hospitals training a 1M-parameter MLP
	// on 2 cores would take tens of minutes per round; [NewPlan] estimates it).
	Quick bool
	// Reps is how many times each figure is measured (0: 5, or 3 with Quick).
	Reps int
	// Progress, if set, receives one line per measurement as it starts.
	Progress io.Writer
}

// sizes are the derived measurement sizes.
type sizes struct {
	quick                  bool
	reps                   int
	dpSteps                int
	noiseFast, noiseGoogle int
	heParams               int
	precisionCiphertexts   int
	rounds                 []roundCase
	roundRows, roundCount  int
	keyHolder              []keyHolderCase
}

// keyHolderCase is one measured sum check: contributors and parameters.
type keyHolderCase struct{ hospitals, params int }

func (c Config) sizes() sizes {
	s := sizes{quick: c.Quick, reps: 5, dpSteps: 16, noiseFast: 1 << 20, noiseGoogle: 1 << 14,
		heParams: WireParams, precisionCiphertexts: 4, roundRows: 320, roundCount: 2,
		rounds:    []roundCase{{3, "mlp:310"}, {10, "mlp:310"}, {100, "mlp:310"}, {3, "mlp:990,990"}, {10, "mlp:990,990"}},
		keyHolder: keyHolderCases([]int{scaleParams32k, WireParams})}
	if c.Quick {
		s = sizes{quick: true, reps: 3, dpSteps: 8, noiseFast: 1 << 16, noiseGoogle: 1 << 11,
			heParams: 100_000, precisionCiphertexts: 1, roundRows: 128, roundCount: 2,
			rounds: []roundCase{{3, "mlp:310"}, {10, "mlp:310"}}, keyHolder: []keyHolderCase{{10, scaleParams32k}, {100, scaleParams32k}}}
	}
	if c.Reps > 0 {
		s.reps = c.Reps
	}
	return s
}

// Machine describes where the figures were measured.
type Machine struct {
	CPU        string `json:"cpu"`
	Cores      int    `json:"cores"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	GoVersion  string `json:"go"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	// Load is /proc/loadavg at the start of the run (empty where absent).
	Load string `json:"load,omitempty"`
}

// Report is the result of [Run]. The top-level figures are the headline
// ones; the sections hold everything measured.
type Report struct {
	// HEBytesPerParam is the default preset's upload size per parameter of
	// a 1M-parameter update, headers included.
	HEBytesPerParam float64 `json:"he_bytes_per_param"`
	// HEPrecisionBits is the default preset's measured precision of the
	// mean of 100 contributors at T = 10.
	HEPrecisionBits float64 `json:"he_precision_bits"`
	// HEEncryptParamsPerS is the default preset's best encryption
	// throughput on all cores.
	HEEncryptParamsPerS float64 `json:"he_encrypt_params_per_s"`
	// DPNoiseNsPerDraw is the default (fast) sampler's best cost per draw.
	DPNoiseNsPerDraw float64 `json:"dp_noise_ns_per_draw"`
	// DPStepRatio is private ÷ non-private time per example for the
	// ~10k-parameter MLP, both on one core (GOMAXPROCS 1).
	DPStepRatio float64 `json:"dp_step_ratio"`
	// DPStepRatioAllCores is the same ratio with both sides on all cores.
	DPStepRatioAllCores float64 `json:"dp_step_ratio_all_cores"`
	// RoundRatio is encrypted ÷ plaintext round time for 10 hospitals and
	// the largest measured model (1M parameters; 10k with Quick).
	RoundRatio  float64 `json:"round_ratio"`
	RoundParams int     `json:"round_ratio_params"`

	Quick   bool        `json:"quick"`
	Reps    int         `json:"reps"`
	Machine Machine     `json:"machine"`
	DP      []DPModel   `json:"dp_sgd"`
	Text    []TextModel `json:"text"`
	Noise   []NoiseCost `json:"dp_noise"`
	HE      []HEPreset  `json:"he"`
	Rounds  []Round     `json:"rounds"`
	// PlainAggregate is the aggregator's plaintext addition of an upload,
	// parameters per second: what plan's plaintext round adds.
	PlainAggregate Span `json:"plain_aggregate_params_per_s"`
	// KeyHolder is a key holder's download and checks per round under the
	// sum check, at 10, 100 and 1,000 hospitals; KeyHolderCosts the
	// per-item costs plan estimates from.
	KeyHolder      []KeyHolderCheck `json:"key_holder"`
	KeyHolderCosts VerifyCosts      `json:"key_holder_costs"`
	Seconds        float64          `json:"seconds"`
}

// Run measures DP-SGD, text models, the noise samplers, both CKKS presets
// and federation rounds on this machine, in that order, and returns every figure. It takes
// minutes at full size (seconds with Quick) and uses all cores.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	start := time.Now()
	s := cfg.sizes()
	say := func(format string, a ...any) {
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, format+"\n", a...)
		}
	}
	r := &Report{Quick: s.quick, Reps: s.reps, Machine: ThisMachine()}
	var err error
	say("dp-sgd: private vs non-private steps on wdbc (%v)", dpModels(s.quick))
	if r.DP, err = measureDP(ctx, s); err != nil {
		return nil, err
	}
	say("text: seconds per epoch, private and not, at 1 thread and at %d", runtime.GOMAXPROCS(0))
	if r.Text, err = measureText(ctx, s); err != nil {
		return nil, err
	}
	say("dp noise: ns per draw of each sampler")
	if r.Noise, err = measureNoise(ctx, s); err != nil {
		return nil, err
	}
	for _, name := range []string{"compact", "precise"} {
		say("ckks %s: encrypt, aggregate, decryption share, precision", name)
		h, err := measureHE(ctx, name, s)
		if err != nil {
			return nil, fmt.Errorf("ckks %s: %w", name, err)
		}
		r.HE = append(r.HE, h)
	}
	say("plaintext aggregation: params/s")
	if r.PlainAggregate, err = measurePlainAggregate(ctx, s); err != nil {
		return nil, fmt.Errorf("plaintext aggregation: %w", err)
	}
	for _, c := range s.rounds {
		say("round: %d hospitals, model %s, encrypted and not", c.hospitals, c.model)
		rd, err := measureRound(ctx, c.hospitals, c.model, s)
		if err != nil {
			return nil, fmt.Errorf("round: %w", err)
		}
		r.Rounds = append(r.Rounds, rd)
	}
	say("key holder: download and checks of a round's sum, %d cases", len(s.keyHolder))
	if err := r.measureKeyHolders(ctx, s, "fedcrypt bench --json", say); err != nil {
		return nil, err
	}
	r.headline()
	r.Seconds = time.Since(start).Seconds()
	return r, nil
}

// keyHolderCases are the sum checks measured at full size: 10, 100 and
// 1,000 contributors for each parameter count.
func keyHolderCases(params []int) []keyHolderCase {
	var cs []keyHolderCase
	for _, n := range params {
		for _, h := range []int{10, 100, 1000} {
			cs = append(cs, keyHolderCase{h, n})
		}
	}
	return cs
}

// scaleParams32k is the parameters of the 32k model (mlp:1000 on the
// scale test's 30 features).
const scaleParams32k = 32_001

// measureKeyHolders fills KeyHolder and KeyHolderCosts, saying each case
// as it starts.
func (r *Report) measureKeyHolders(ctx context.Context, s sizes, command string, say func(string, ...any)) error {
	r.KeyHolder = nil
	for i, c := range s.keyHolder {
		say("  key holder %d of %d: %d hospitals, %d params", i+1, len(s.keyHolder), c.hospitals, c.params)
		kc, err := measureKeyHolder(ctx, c.params, c.hospitals, s.reps)
		if err != nil {
			return fmt.Errorf("key holder: %w", err)
		}
		r.KeyHolder = append(r.KeyHolder, kc)
	}
	r.KeyHolderCosts = verifyCosts(r.KeyHolder, command)
	return nil
}

// headline fills the top-level figures from the sections.
func (r *Report) headline() {
	for _, h := range r.HE {
		if h.Preset == DefaultPreset {
			r.HEBytesPerParam, r.HEPrecisionBits, r.HEEncryptParamsPerS = h.UploadBytesPerParam, h.PrecisionBits, h.EncryptAllCores.Best
		}
	}
	for _, n := range r.Noise {
		if n.Sampler == dp.SamplerFast {
			r.DPNoiseNsPerDraw = n.NsPerDraw.Best
		}
	}
	for _, d := range r.DP {
		if d.Model == "mlp:310" {
			r.DPStepRatio, r.DPStepRatioAllCores = d.RatioOneCore, d.RatioAllCores
		}
	}
	for _, rd := range r.Rounds {
		if rd.Hospitals == 10 && rd.Params >= r.RoundParams {
			r.RoundRatio, r.RoundParams = rd.Ratio, rd.Params
		}
	}
}

// ThisMachine describes the machine the process runs on.
func ThisMachine() Machine {
	m := Machine{Cores: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version(),
		OS: runtime.GOOS, Arch: runtime.GOARCH, CPU: "unknown"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.Load = strings.TrimSpace(string(b))
	}
	return m
}
