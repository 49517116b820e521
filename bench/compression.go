package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"

	"github.com/fedcrypt/fedcrypt/compress"
	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/dp"
	"github.com/fedcrypt/fedcrypt/fedavg"
	"github.com/fedcrypt/fedcrypt/model"
	"github.com/fedcrypt/fedcrypt/text"
	"gonum.org/v1/gonum/mat"
)

// CompressionConfig is a federation simulated in plain Go to compare upload compression with
// dense uploads: each round every hospital runs DP-SGD from the global model, clips its update
// to UpdateBound, compresses it with the round's map (and its own error feedback), and the mean
// of the expanded sum of the compressed updates moves the global model (FedAvg, equal weights).
// The sum is taken in the clear: CKKS adds the same vectors to its precision, and the bytes
// reported are those of the encrypted upload.
type CompressionConfig struct {
	// Data is the data set: the embedded "digits" or "wdbc", or CSV bytes with Label (and Text,
	// a free-text column, for a text model on hashed unigrams in Buckets buckets).
	Data    string
	CSV     []byte
	Label   string
	Text    string
	Buckets int

	Model       string // a model spec (model.ParseSpec, or model.ParseSparseSpec with Text)
	Hospitals   int
	Rounds      int
	LocalSteps  int
	Epsilon     float64 // per hospital, over all rounds (RDP accountant)
	Delta       float64
	ClipNorm    float64
	SampleRate  float64
	Local       model.OptimizerConfig
	UpdateBound float64
	Preset      string // the CKKS preset whose upload sizes are reported

	Schemes []string // compress.Parse schemes; "none" is dense
	Seeds   []uint64 // one federation per seed: split, partition, model and DP noise
}

// CompressionResult is one scheme's figures: bytes per hospital per round and held-out accuracy
// per seed.
type CompressionResult struct {
	Scheme     string    `json:"scheme"`
	Params     int       `json:"params"`
	Uploaded   int       `json:"uploaded_values"`
	PlainBytes int       `json:"plain_bytes_per_round"`     // 8 bytes a value
	HEBytes    int       `json:"encrypted_bytes_per_round"` // the preset's ciphertexts, headers included
	Accuracy   []float64 `json:"accuracy"`                  // one per seed
	Median     float64   `json:"median_accuracy"`
}

// CompressionSchemes are the compared uploads: dense, and 9% of the values (2 ciphertexts of the
// precise preset for the digits MLP, 1 for the abstracts' model, against 21 and 11 dense) by
// either map with error feedback.
var CompressionSchemes = []string{"none", "randk:0.09:ef", "srht:0.09:ef"}

// DigitsCompression is the digits federation of issue 18: an MLP of 85,002 parameters, 3
// hospitals, DP-SGD at ε = 3 per hospital over 200 rounds of 2 local steps.
func DigitsCompression(seeds []uint64) CompressionConfig {
	return CompressionConfig{Data: "digits", Model: "mlp:256,256", Hospitals: 3, Rounds: 200, LocalSteps: 2,
		Epsilon: 3, Delta: 1e-5, ClipNorm: 1, SampleRate: 0.1, Local: model.OptimizerConfig{Name: model.OptSGD, LR: 0.1},
		UpdateBound: 4, Preset: DefaultPreset, Schemes: CompressionSchemes, Seeds: seeds}
}

// AbstractsCompression is softmax regression on the medical abstracts (csv: the condition and
// abstract columns) with unigrams hashed into 2¹³ buckets (40,965 parameters), 3 hospitals,
// DP-SGD at ε = 10 over 200 rounds of one step.
func AbstractsCompression(csv []byte, seeds []uint64) CompressionConfig {
	return CompressionConfig{Data: "medical-abstracts.csv", CSV: csv, Label: "condition", Text: "abstract", Buckets: 1 << 13,
		Model: "softmax", Hospitals: 3, Rounds: 200, LocalSteps: 1, Epsilon: 10, Delta: 1e-5, ClipNorm: 0.5, SampleRate: 0.5,
		Local: model.OptimizerConfig{Name: model.OptAdam, LR: 0.05}, UpdateBound: 100, Preset: DefaultPreset,
		Schemes: CompressionSchemes, Seeds: seeds}
}

// MeasureCompression runs cfg's federation once per scheme and seed. The DP noise is seeded (a
// ChaCha8 stream per seed and hospital): a measurement, not a run on real data.
func MeasureCompression(ctx context.Context, cfg CompressionConfig) ([]CompressionResult, error) {
	p, err := barePreset(cfg.Preset)
	if err != nil {
		return nil, fmt.Errorf("compression: preset %q: %w", cfg.Preset, err)
	}
	var out []CompressionResult
	for _, s := range cfg.Schemes {
		sc, err := compress.Parse(s)
		if err != nil {
			return nil, err
		}
		r := CompressionResult{Scheme: sc.String()}
		for _, seed := range cfg.Seeds {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			fed, err := newCompressionFederation(cfg, seed)
			if err != nil {
				return nil, err
			}
			acc, k, err := fed.run(cfg, sc, seed)
			if err != nil {
				return nil, fmt.Errorf("compression %s, seed %d: %w", s, seed, err)
			}
			r.Params, r.Uploaded = fed.global.NumParams(), k
			r.Accuracy = append(r.Accuracy, acc)
		}
		r.PlainBytes, r.HEBytes = 8*r.Uploaded, p.UpdateSize(r.Uploaded)
		r.Median = median(r.Accuracy)
		out = append(out, r)
	}
	return out, nil
}

func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// compressionFederation is one seed's data, split and initial model.
type compressionFederation struct {
	global    dp.Learner   // the global model
	hospitals []dp.Learner // a copy of it on each hospital's rows
	test      dp.Input     // the held-out rows the global model is scored on
	testY     []float64
	rows      []int // rows per hospital
}

func transformed(tf *data.Transform, d *data.Dataset) *mat.Dense {
	x := mat.NewDense(d.Rows(), len(d.Features), nil)
	if err := tf.Apply(x, d.X); err != nil {
		panic("bench: " + err.Error()) // the transform was fitted on these columns
	}
	return x
}

func newCompressionFederation(cfg CompressionConfig, seed uint64) (*compressionFederation, error) {
	var ds *data.Dataset
	var err error
	if cfg.CSV != nil {
		ds, _, err = data.Load(bytes.NewReader(cfg.CSV), cfg.Data, data.Options{Label: cfg.Label, Text: cfg.Text})
	} else {
		ds, _, err = data.LoadEmbedded(cfg.Data, data.Options{})
	}
	if err != nil {
		return nil, fmt.Errorf("compression: data %s: %w", cfg.Data, err)
	}
	train, test, err := data.StratifiedSplit(ds, 0.2, seed)
	if err != nil {
		return nil, err
	}
	parts, err := data.Partition(train, cfg.Hospitals, data.Scheme{Kind: "iid"}, seed)
	if err != nil {
		return nil, err
	}
	f := &compressionFederation{testY: test.Y}
	for _, p := range parts {
		f.rows = append(f.rows, p.Rows())
	}
	init := rand.New(rand.NewPCG(seed, 0x636f6d70))
	if cfg.Text == "" {
		tf, err := data.FitTransform(train.X, train.Options().Imputation(), "zscore")
		if err != nil {
			return nil, err
		}
		mc, err := model.ParseSpec(cfg.Model, len(ds.Features), len(ds.Classes))
		if err != nil {
			return nil, err
		}
		m, err := model.New(mc, init)
		if err != nil {
			return nil, err
		}
		f.test = transformed(tf, test)
		f.global = dp.NewDense(m, f.test.(*mat.Dense), test.Y, nil)
		for _, p := range parts {
			f.hospitals = append(f.hospitals, dp.NewDense(m.Clone(), transformed(tf, p), p.Y, nil))
		}
		return f, nil
	}
	tt, err := text.New(text.Config{Buckets: cfg.Buckets, NGrams: 1, Sublinear: true, Norm: text.NormL2})
	if err != nil {
		return nil, err
	}
	xtest, err := tt.Apply(test.Text)
	if err != nil {
		return nil, err
	}
	mc, err := model.ParseSparseSpec(cfg.Model, cfg.Buckets, len(ds.Classes))
	if err != nil {
		return nil, err
	}
	m, err := model.NewSparse(mc, init)
	if err != nil {
		return nil, err
	}
	f.test, f.global = xtest, dp.NewSparse(m, xtest, test.Y, nil)
	for _, p := range parts {
		x, err := tt.Apply(p.Text)
		if err != nil {
			return nil, err
		}
		f.hospitals = append(f.hospitals, dp.NewSparse(m.Clone(), x, p.Y, nil))
	}
	return f, nil
}

// run trains the federation with scheme sc and returns the final model's held-out accuracy and
// the values each hospital uploads per round.
func (f *compressionFederation) run(cfg CompressionConfig, sc compress.Config, seed uint64) (float64, int, error) {
	steps := cfg.Rounds * cfg.LocalSteps
	sigma, err := dp.CalibrateNoise(dp.AccountantConfig{Kind: dp.KindRDP}, cfg.Epsilon, cfg.Delta, cfg.SampleRate, steps)
	if err != nil {
		return 0, 0, err
	}
	sgd := dp.SGDConfig{ClipNorm: cfg.ClipNorm, NoiseMultiplier: sigma, SampleRate: cfg.SampleRate, Steps: cfg.LocalSteps, Optimizer: cfg.Local}
	global := f.global.Params()
	dim := len(global)
	server, err := fedavg.NewServer(fedavg.Config{Name: fedavg.FedAvg}, dim)
	if err != nil {
		return 0, 0, err
	}
	feedback := make([]*compress.Feedback, cfg.Hospitals)
	rngs := make([]io.Reader, cfg.Hospitals)
	for h := range f.hospitals {
		feedback[h] = compress.NewFeedback(dim)
		var key [32]byte
		copy(key[:], fmt.Sprintf("compression %d %d", seed, h))
		rngs[h] = rand.NewChaCha8(key)
	}
	fedHash := []byte(fmt.Sprintf("compression benchmark, seed %d", seed))
	k := dim
	for round := range uint64(cfg.Rounds) {
		plan, err := compress.NewPlan(sc, dim, compress.RoundSeed(fedHash, round))
		if err != nil {
			return 0, 0, err
		}
		k = plan.Size()
		sum := make([]float64, k)
		y := make([]float64, k)
		for h, l := range f.hospitals {
			if err := l.SetParams(global); err != nil {
				return 0, 0, err
			}
			if _, err := l.Train(sgd, rngs[h]); err != nil {
				return 0, 0, err
			}
			delta := slices.Clone(l.Params())
			for i, g := range global {
				delta[i] -= g
			}
			fedavg.ClipL2(delta, cfg.UpdateBound)
			if sc.Feedback {
				feedback[h].Compress(plan, y, delta, cfg.UpdateBound)
			} else {
				plan.Compress(y, delta)
			}
			for i, v := range y {
				sum[i] += v
			}
		}
		mean := make([]float64, dim)
		plan.Expand(mean, sum)
		if err := fedavg.Mean(mean, mean, float64(cfg.Hospitals)); err != nil {
			return 0, 0, err
		}
		server.Apply(global, mean)
	}
	m, err := f.global.Evaluate(f.test, f.testY)
	return m.Accuracy, k, err
}
