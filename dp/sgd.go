package dp

import (
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/fedcrypt/fedcrypt/model"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// SGDConfig sets up DP-SGD: Steps steps, each on a Poisson sample of the
// rows (or of the privacy units) at rate SampleRate, with every example's
// (unit's) gradient clipped to ClipNorm and Gaussian noise of standard
// deviation NoiseMultiplier·ClipNorm added to the sum.
type SGDConfig struct {
	ClipNorm        float64               `json:"clip_norm"`
	NoiseMultiplier float64               `json:"noise_multiplier"`
	SampleRate      float64               `json:"sample_rate"`
	Steps           int                   `json:"steps"`
	Optimizer       model.OptimizerConfig `json:"optimizer"`
	Noise           string                `json:"noise,omitempty"` // SamplerFast (default, "") or SamplerGoogle
	// OnStep, if set, is called after each step with the number of steps
	// done, for progress reports.
	OnStep func(done int) `json:"-"`
}

// Validate reports the first setting out of range.
func (c SGDConfig) Validate() error {
	if !(c.ClipNorm > 0) || math.IsInf(c.ClipNorm, 0) {
		return fmt.Errorf("dp-sgd: clip norm %v: must be a finite number > 0", c.ClipNorm)
	}
	if !(c.NoiseMultiplier > 0) || math.IsInf(c.NoiseMultiplier, 0) {
		return fmt.Errorf("dp-sgd: noise multiplier %v: must be a finite number > 0", c.NoiseMultiplier)
	}
	if !(c.SampleRate > 0 && c.SampleRate <= 1) {
		return fmt.Errorf("dp-sgd: sample rate %v: must be in (0, 1]", c.SampleRate)
	}
	if c.Steps < 1 {
		return fmt.Errorf("dp-sgd: steps %d: must be ≥ 1", c.Steps)
	}
	switch c.Noise {
	case "", SamplerFast, SamplerGoogle:
	default:
		return fmt.Errorf("dp-sgd: noise sampler %q: must be %q or %q", c.Noise, SamplerFast, SamplerGoogle)
	}
	if err := c.Optimizer.Validate(); err != nil {
		return fmt.Errorf("dp-sgd: %w", err)
	}
	return nil
}

// Event returns the accountant event of a run with these settings.
func (c SGDConfig) Event() Event {
	return Event{SampleRate: c.SampleRate, NoiseMultiplier: c.NoiseMultiplier, Steps: c.Steps}
}

// Stats reports a DP-SGD run.
type Stats struct {
	Steps     int     `json:"steps"`
	MeanBatch float64 `json:"mean_batch"` // mean number of rows per step
	// NoiseStdDev is the standard deviation of the noise added per
	// coordinate (≥ NoiseMultiplier·ClipNorm).
	NoiseStdDev float64 `json:"noise_std_dev"`
	// SamplerDistance bounds the statistical distance between all the noise
	// drawn and the ideal Gaussian noise (Noise.Distance times the draws);
	// add (1+e^ε)·SamplerDistance to δ.
	SamplerDistance float64 `json:"sampler_distance"`
}

// Train runs DP-SGD on m in place with the rows of x and their targets y
// (as model.Backward takes them). With units == nil each row is a privacy
// unit; otherwise units[i] names the unit (the patient) of row i, units are
// sampled and the sum of a unit's gradients is clipped. The noisy sum is
// divided by the expected batch size (SampleRate times the number of rows,
// or of units). rng keys the AES-256-CTR streams of the Poisson sampling and of
// the fast noise sampler: crypto/rand.Reader in production.
//
// The guarantee is that of cfg.Event() under the accountant; the caller
// charges it to its ledger before the model leaves the process.
func Train(m *model.Model, x *mat.Dense, y []float64, units []int, cfg SGDConfig, rng io.Reader) (Stats, error) {
	if err := cfg.Validate(); err != nil {
		return Stats{}, err
	}
	rows, cols := x.Dims()
	mc := m.Config()
	if cols != mc.Inputs {
		return Stats{}, fmt.Errorf("dp-sgd: data has %d columns, model takes %d", cols, mc.Inputs)
	}
	per := 1
	if mc.Loss == model.LossMSE {
		per = mc.Outputs
	}
	if len(y) != rows*per {
		return Stats{}, fmt.Errorf("dp-sgd: %d targets for %d rows, want %d", len(y), rows, rows*per)
	}
	if err := mc.CheckTargets(y); err != nil {
		return Stats{}, fmt.Errorf("dp-sgd: %w", err)
	}
	for i := range rows {
		if !allFinite(x.RawRowView(i)) {
			return Stats{}, fmt.Errorf("dp-sgd: row %d has a value that is not finite", i)
		}
	}
	l := &denseStepper{m: m, x: x, y: y, per: per, ws: model.NewWorkspace(m)}
	return run(l, units, cfg, rng)
}

// run is the DP-SGD loop shared by dense and sparse models.
func run(l stepper, units []int, cfg SGDConfig, rng io.Reader) (Stats, error) {
	if rng == nil {
		return Stats{}, errors.New("dp-sgd: no randomness source")
	}
	rows := l.rows()
	members, err := unitMembers(units, rows)
	if err != nil {
		return Stats{}, err
	}
	var key [32]byte
	defer clear(key[:])
	if _, err := io.ReadFull(rng, key[:]); err != nil {
		return Stats{}, fmt.Errorf("dp-sgd: read sampling key: %w", err)
	}
	dim := len(l.params())
	nz, err := NewNoise(cfg.Noise, cfg.NoiseMultiplier, cfg.ClipNorm, dim, rng)
	if err != nil {
		return Stats{}, err
	}
	defer nz.wipe()
	opt, err := model.NewOptimizer(cfg.Optimizer, dim)
	if err != nil {
		return Stats{}, fmt.Errorf("dp-sgd: %w", err)
	}
	t := &trainer{
		l: l, rows: rows, members: members, cfg: cfg, noise: nz, opt: opt,
		grad: make([]float64, dim),
		key:  key,
	}
	defer clear(t.key[:])
	n := rows
	if members != nil {
		n = len(members)
	}
	t.expected = cfg.SampleRate * float64(n)
	t.threshold = sampleThreshold(cfg.SampleRate)
	var total int
	for step := range cfg.Steps {
		t.sampler = newStream(&t.key, uint64(step), 0) // one keystream per step
		b, err := t.step()
		if err != nil {
			return Stats{}, fmt.Errorf("dp-sgd: step %d: %w", step+1, err)
		}
		total += b
		if cfg.OnStep != nil {
			cfg.OnStep(step + 1)
		}
	}
	return Stats{
		Steps:           cfg.Steps,
		MeanBatch:       float64(total) / float64(cfg.Steps),
		NoiseStdDev:     nz.StdDev(),
		SamplerDistance: nz.Distance() * float64(dim) * float64(cfg.Steps),
	}, nil
}

func allFinite(v []float64) bool {
	for _, x := range v {
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return false
		}
	}
	return true
}

// unitMembers groups row indices by privacy unit, in order of first
// appearance; nil when units is nil.
func unitMembers(units []int, rows int) ([][]int, error) {
	if units == nil {
		return nil, nil
	}
	if len(units) != rows {
		return nil, fmt.Errorf("dp-sgd: %d privacy-unit labels for %d rows", len(units), rows)
	}
	index := map[int]int{}
	var members [][]int
	for i, u := range units {
		k, ok := index[u]
		if !ok {
			k = len(members)
			index[u] = k
			members = append(members, nil)
		}
		members[k] = append(members[k], i)
	}
	return members, nil
}

// sampleThreshold returns ⌊q·2⁶⁴⌋ (saturated): a uniform 64-bit word below
// it selects an example with probability at most q.
func sampleThreshold(q float64) uint64 {
	if q >= 1 {
		return math.MaxUint64
	}
	return uint64(math.Ldexp(q, 64))
}

// trainer holds one DP-SGD run's buffers.
type trainer struct {
	l         stepper
	rows      int
	members   [][]int
	cfg       SGDConfig
	noise     *Noise
	opt       model.Optimizer
	grad      []float64
	key       [32]byte // of the sampling keystreams
	sampler   *stream
	expected  float64
	threshold uint64

	batch []int // rows of this step
	group []int // group of each batch row (privacy units)
	norms []float64
	coef  []float64
	drawn []int64 // the fast sampler's noise, drawn ahead
}

// selected draws one Bernoulli(q) decision.
func (t *trainer) selected() bool {
	return t.threshold == math.MaxUint64 || t.sampler.below(t.threshold)
}

// step runs one DP-SGD step and returns the batch size in rows.
func (t *trainer) step() (int, error) {
	// The fast sampler's noise depends on nothing in the step: it is drawn
	// on the other cores while the gradients are computed. A vector of one
	// chunk is drawn in line: handing it to another goroutine costs more
	// than it saves (logistic regression's step took twice as long).
	var pending *pendingNoise
	if t.noise.name == SamplerFast && t.noise.dim > fastChunk {
		if len(t.drawn) != t.noise.dim {
			t.drawn = make([]int64, t.noise.dim)
		}
		pending = t.noise.start(t.drawn)
		defer pending.wait() // also on an early return: drawn is reused
	}
	t.batch, t.group = t.batch[:0], t.group[:0]
	groups := 0
	if t.members == nil {
		for i := range t.rows {
			if t.selected() {
				t.batch = append(t.batch, i)
			}
		}
	} else {
		for _, rs := range t.members {
			if t.selected() {
				for _, i := range rs {
					t.batch = append(t.batch, i)
					t.group = append(t.group, groups)
				}
				groups++
			}
		}
	}
	b := len(t.batch)
	clear(t.grad)
	if b > 0 {
		loss := t.l.backward(t.batch)
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return 0, errors.New("loss is not finite")
		}
		t.coef = grow(t.coef, b)
		if t.members == nil {
			t.norms = grow(t.norms, b)
			t.l.norms(t.norms)
			for i, nrm := range t.norms {
				t.coef[i] = clipCoef(t.cfg.ClipNorm, nrm)
			}
		} else {
			t.norms = grow(t.norms, groups)
			t.l.groupNorms(t.norms, t.group)
			for i, g := range t.group {
				t.coef[i] = clipCoef(t.cfg.ClipNorm, t.norms[g])
			}
		}
		t.l.gradient(t.grad, t.coef)
	}
	// Noise is added whatever the batch, also an empty one.
	var err error
	if pending != nil {
		err = pending.addTo(t.grad)
	} else {
		err = t.noise.Add(t.grad)
	}
	if err != nil {
		return 0, err
	}
	floats.Scale(1/t.expected, t.grad)
	t.opt.Step(t.l.params(), t.grad)
	return b, nil
}

// clipCoef returns min(1, C/‖g‖).
func clipCoef(c, norm float64) float64 {
	if norm <= c {
		return 1
	}
	return c / norm
}

func grow(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n, 2*n)
	}
	return s[:n]
}
