package central

import (
	crand "crypto/rand"
	"fmt"
	"math/rand/v2"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/dp"
	"github.com/fedcrypt/fedcrypt/internal/sealedmodel"
	"github.com/fedcrypt/fedcrypt/model"
	"github.com/fedcrypt/fedcrypt/text"
	"gonum.org/v1/gonum/mat"
)

// Settings are the knobs of central training.
type Settings struct {
	Model     string // model.ParseSpec (or model.ParseSparseSpec with Text)
	Normalize string // zscore, minmax or none
	Epochs    int
	Batch     int
	Optimizer string
	LR        float64
	Decay     float64
	Seed      uint64 // initialization and shuffling

	// DP trains with DP-SGD: the noise multiplier is calibrated for Epsilon
	// at Delta over Steps under Accountant, sampling at SampleRate (0:
	// Batch over the training rows, or patients with a privacy unit) and
	// clipping to Clip; Noise names the Gaussian sampler.
	DP         bool
	Epsilon    float64
	Delta      float64
	Accountant string
	Clip       float64
	SampleRate float64
	Steps      int
	Noise      string

	// Int8 also quantizes the model to int8, compares it with the float
	// model on the test rows, and makes the int8 weights the payload's.
	Int8 bool

	// Text, when set, trains a text model on the data set's text column
	// (with its numeric features as extra columns) featurized so.
	Text *text.Config

	// OnEpoch and OnStep, when set, are told of each epoch and DP-SGD step
	// done.
	OnEpoch, OnStep func(done int)
}

// Privacy is the DP part of a result: empty without [Settings.DP].
type Privacy struct {
	Epsilon         float64 `json:"epsilon,omitempty"`
	Delta           float64 `json:"delta,omitempty"`
	Accountant      string  `json:"accountant,omitempty"`
	NoiseMultiplier float64 `json:"noise_multiplier,omitempty"`
	SampleRate      float64 `json:"sample_rate,omitempty"`
	Steps           int     `json:"steps,omitempty"`
	ClipNorm        float64 `json:"clip_norm,omitempty"`
	PrivacyUnit     string  `json:"privacy_unit,omitempty"`
}

// Result is what one training measured on its test rows.
type Result struct {
	model.Metrics
	TrainRows int `json:"train_rows"`
	TestRows  int `json:"test_rows"`
	Params    int `json:"params"`
	// Int8 compares the int8 model with the float64 one on the test rows
	// ([Settings.Int8]).
	Int8 *Int8Report `json:"int8,omitempty"`
	Privacy
	// Payload is the trained model with its schema and input transforms,
	// for sealedmodel.SealPayload.
	Payload sealedmodel.Payload `json:"-"`
}

// learner is what differs between a numeric and a text model: how it is
// fitted, privately or not, serialized, quantized and scored.
type learner struct {
	params   int
	fit      func(model.FitConfig) error
	private  func(dp.SGDConfig) error
	marshal  func() ([]byte, error)
	int8     func(float []byte) ([]byte, *Int8Report, error)
	evaluate func() model.Metrics
	payload  sealedmodel.Payload
}

// Train fits the input transform on train, trains a fresh model and scores
// it on test.
func Train(train, test *data.Dataset, s Settings) (Result, error) {
	var l *learner
	var err error
	if s.Text != nil {
		l, err = textLearner(train, test, s)
	} else {
		l, err = denseLearner(train, test, s)
	}
	if err != nil {
		return Result{}, err
	}
	opt := model.OptimizerConfig{Name: s.Optimizer, LR: s.LR, Decay: s.Decay}
	var priv Privacy
	if s.DP {
		if priv, err = calibratedDPSGD(train, opt, s, l.private); err != nil {
			return Result{}, err
		}
	} else if err = l.fit(model.FitConfig{Epochs: s.Epochs, BatchSize: s.Batch, Seed: s.Seed, Optimizer: opt, OnEpoch: s.OnEpoch}); err != nil {
		return Result{}, err
	}
	w, err := l.marshal()
	if err != nil {
		return Result{}, err
	}
	var q8 *Int8Report
	if s.Int8 {
		if w, q8, err = l.int8(w); err != nil {
			return Result{}, err
		}
	}
	p := l.payload
	p.Weights = w
	return Result{Metrics: l.evaluate(), TrainRows: train.Rows(), TestRows: test.Rows(), Params: l.params, Int8: q8, Privacy: priv, Payload: p}, nil
}

// initRand is the source of a model's initial weights.
func initRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x7261696e)) }

func denseLearner(train, test *data.Dataset, s Settings) (*learner, error) {
	tf, err := data.FitTransform(train.X, train.Options().Imputation(), s.Normalize)
	if err != nil {
		return nil, err
	}
	xtr := mat.NewDense(train.Rows(), len(train.Features), nil)
	xte := mat.NewDense(test.Rows(), len(test.Features), nil)
	if err := tf.Apply(xtr, train.X); err != nil {
		return nil, err
	}
	if err := tf.Apply(xte, test.X); err != nil {
		return nil, err
	}
	cfg, err := model.ParseSpec(s.Model, len(train.Features), len(train.Classes))
	if err != nil {
		return nil, err
	}
	m, err := model.New(cfg, initRand(s.Seed))
	if err != nil {
		return nil, err
	}
	return &learner{
		params: m.NumParams(),
		fit:    func(c model.FitConfig) error { return model.Fit(m, xtr, train.Y, c) },
		private: func(c dp.SGDConfig) error {
			_, err := dp.Train(m, xtr, train.Y, train.Units, c, crand.Reader)
			return err
		},
		marshal:  m.MarshalBinary,
		int8:     quantizer(m, model.Unmarshal, mat.Matrix(xte), test.Rows(), m.Config().Outputs),
		evaluate: func() model.Metrics { return model.Evaluate(m, xte, test.Y) },
		payload:  sealedmodel.Payload{Schema: train.Schema(), Transform: tf},
	}, nil
}

func textLearner(train, test *data.Dataset, s Settings) (*learner, error) {
	ti, xtr, err := fitTextInputs(train, *s.Text, s.Normalize)
	if err != nil {
		return nil, err
	}
	xte, err := ti.apply(test)
	if err != nil {
		return nil, fmt.Errorf("test rows: %w", err)
	}
	cfg, err := model.ParseSparseSpec(s.Model, xtr.Cols, len(train.Classes))
	if err != nil {
		return nil, err
	}
	m, err := model.NewSparse(cfg, initRand(s.Seed))
	if err != nil {
		return nil, err
	}
	return &learner{
		params: m.NumParams(),
		fit:    func(c model.FitConfig) error { return model.FitSparse(m, xtr, train.Y, c) },
		private: func(c dp.SGDConfig) error {
			_, err := dp.TrainSparse(m, xtr, train.Y, train.Units, c, crand.Reader)
			return err
		},
		marshal:  m.MarshalBinary,
		int8:     quantizer(m, model.UnmarshalSparse, xte, xte.Rows, m.Config().Outputs),
		evaluate: func() model.Metrics { return model.EvaluateSparse(m, xte, test.Y) },
		payload:  sealedmodel.Payload{Schema: train.Schema(), Transform: ti.tf, Text: ti.tt},
	}, nil
}

// calibratedDPSGD calibrates the noise multiplier for the target ε over the
// steps, runs DP-SGD with it through run, and returns the accountant's ε.
func calibratedDPSGD(train *data.Dataset, opt model.OptimizerConfig, s Settings, run func(dp.SGDConfig) error) (Privacy, error) {
	n := train.Rows()
	if train.Units != nil {
		n = train.NumUnits()
	}
	q := s.SampleRate
	if q == 0 {
		q = min(1, float64(s.Batch)/float64(n))
	}
	acct := dp.AccountantConfig{Kind: s.Accountant}
	sigma, err := dp.CalibrateNoise(acct, s.Epsilon, s.Delta, q, s.Steps)
	if err != nil {
		return Privacy{}, err
	}
	cfg := dp.SGDConfig{ClipNorm: s.Clip, NoiseMultiplier: sigma, SampleRate: q, Steps: s.Steps, Optimizer: opt, Noise: s.Noise, OnStep: s.OnStep}
	if err := run(cfg); err != nil {
		return Privacy{}, err
	}
	eps, err := dp.Epsilon(acct, s.Delta, cfg.Event())
	if err != nil {
		return Privacy{}, err
	}
	return Privacy{Epsilon: eps, Delta: s.Delta, Accountant: s.Accountant, NoiseMultiplier: sigma, SampleRate: q, Steps: s.Steps,
		ClipNorm: s.Clip, PrivacyUnit: train.PrivacyUnit}, nil
}

// Int8Report compares an int8 model with its float64 original.
type Int8Report struct {
	FloatBytes     int     `json:"float_bytes"`     // float64 weight file
	Int8Bytes      int     `json:"int8_bytes"`      // int8 weight file
	ClassAgreement float64 `json:"class_agreement"` // fraction of test rows given the same class
	MaxProbDiff    float64 `json:"max_prob_diff"`   // largest difference of a class probability
}

// quantizable is a model, numeric or text, scoring rows of type X.
type quantizable[X any] interface {
	Predict(dst *mat.Dense, x X)
	MarshalInt8() ([]byte, error)
}

// quantizer returns the int8 step of m: its int8 weights, read back with
// unmarshal, and how that model's probabilities (outputs columns) on the
// rows x compare with m's.
func quantizer[X any, M quantizable[X]](m M, unmarshal func([]byte) (M, error), x X, rows, outputs int) func(float []byte) ([]byte, *Int8Report, error) {
	return func(float []byte) ([]byte, *Int8Report, error) {
		qb, err := m.MarshalInt8()
		if err != nil {
			return nil, nil, err
		}
		q, err := unmarshal(qb)
		if err != nil {
			return nil, nil, err
		}
		pf, pq := mat.NewDense(rows, outputs, nil), mat.NewDense(rows, outputs, nil)
		m.Predict(pf, x)
		q.Predict(pq, x)
		rep := &Int8Report{FloatBytes: len(float), Int8Bytes: len(qb)}
		rep.ClassAgreement, rep.MaxProbDiff = model.Agreement(pf, pq)
		return qb, rep, nil
	}
}
