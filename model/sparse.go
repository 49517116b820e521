package model

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// Kinds of sparse-input network accepted in [SparseConfig.Kind].
const (
	// KindSparseLinear is logistic or softmax regression on a sparse input (hashed n-grams):
	// z = x·W + b.
	KindSparseLinear = "sparse-linear"
	// KindEmbeddingBag is a fastText-style classifier: the weighted mean of the token embeddings
	// of a document, then a linear or MLP head (Joulin et al. 2017).
	KindEmbeddingBag = "embedding-bag"
)

// SparseConfig is the architecture of a [SparseModel]. It is a plain JSON-serializable value;
// [SparseConfig.Validate] says whether [NewSparse] can build it.
//
// Outputs is 1 for a binary classifier (loss "bce") and K ≥ 2 for K classes ("softmax-ce").
// Dim, Hidden and Activation belong to the embedding bag: Dim is the embedding width, Hidden the
// widths of the head's hidden layers (none: a linear head).
type SparseConfig struct {
	Kind       string `json:"kind"`                 // "sparse-linear" | "embedding-bag"
	Inputs     int    `json:"inputs"`               // columns of the sparse input (hash buckets)
	Outputs    int    `json:"outputs"`              // 1 = binary; K ≥ 2 = classes
	Dim        int    `json:"dim,omitempty"`        // embedding width, embedding-bag only
	Hidden     []int  `json:"hidden,omitempty"`     // head's hidden widths, embedding-bag only
	Activation string `json:"activation,omitempty"` // head's activation, with Hidden
	Loss       string `json:"loss"`                 // "bce" | "softmax-ce"
}

// Validate reports whether c describes a buildable model, naming the first field that does not.
func (c SparseConfig) Validate() error {
	if c.Inputs < 1 || c.Inputs > MaxWidth {
		return fmt.Errorf("sparse model config: inputs %d out of range [1, %d]", c.Inputs, MaxWidth)
	}
	switch c.Loss {
	case LossBCE, LossSoftmaxCE:
	default:
		return fmt.Errorf("sparse model config: loss %q: want bce or softmax-ce", c.Loss)
	}
	switch c.Kind {
	case KindSparseLinear:
		if c.Dim != 0 || len(c.Hidden) != 0 || c.Activation != "" {
			return fmt.Errorf("sparse model config: kind %s takes no dim, hidden layers or activation", c.Kind)
		}
		// The output layer must satisfy what a dense softmax or logreg layer does.
		if err := c.head().Validate(); err != nil {
			return fmt.Errorf("sparse %w", err)
		}
	case KindEmbeddingBag:
		if c.Dim < 1 || c.Dim > MaxWidth {
			return fmt.Errorf("sparse model config: dim %d out of range [1, %d]", c.Dim, MaxWidth)
		}
		if err := c.head().Validate(); err != nil {
			return fmt.Errorf("sparse model config: head: %w", err)
		}
	default:
		return fmt.Errorf("sparse model config: unknown kind %q (want %s or %s)", c.Kind, KindSparseLinear, KindEmbeddingBag)
	}
	if n := c.numParams(); n > MaxNumParams {
		return fmt.Errorf("sparse model config: %d parameters, at most %d", n, MaxNumParams)
	}
	return nil
}

// head returns the dense part: for an embedding bag the head on the Dim-wide mean embedding;
// for sparse-linear the same output layer, used only to validate Outputs against Loss.
func (c SparseConfig) head() Config {
	in := c.Dim
	if c.Kind == KindSparseLinear {
		in = 1
	}
	h := Config{Kind: KindSoftmax, Inputs: in, Outputs: c.Outputs, Loss: c.Loss}
	if c.Loss == LossBCE {
		h.Kind = KindLogReg
	}
	if len(c.Hidden) > 0 {
		h.Kind, h.Hidden, h.Activation = KindMLP, slices.Clone(c.Hidden), c.Activation
	}
	if c.Activation != "" && len(c.Hidden) == 0 {
		h.Activation = c.Activation // rejected by Validate: an activation needs hidden layers
	}
	return h
}

// ParseSparseSpec turns a command-line spec for a text model into a SparseConfig for inputs
// columns (hash buckets, and any numeric features after them) and classes label classes:
//
//	softmax | logreg | linear    softmax regression on the sparse input (logistic for 2 classes)
//	embag:D                      embedding bag of width D with a linear head
//	embag:D:H1[,H2...]           the same with a ReLU MLP head of hidden widths H1, H2, ...
func ParseSparseSpec(spec string, inputs, classes int) (SparseConfig, error) {
	if classes < 2 {
		return SparseConfig{}, fmt.Errorf("model spec %q: need at least 2 classes, have %d", spec, classes)
	}
	c := SparseConfig{Inputs: inputs, Outputs: 1, Loss: LossBCE}
	if classes > 2 {
		c.Outputs, c.Loss = classes, LossSoftmaxCE
	}
	name, rest, _ := strings.Cut(spec, ":")
	switch name {
	case KindSoftmax, KindLogReg, "linear":
		if rest != "" {
			return SparseConfig{}, fmt.Errorf("model spec %q: %s takes no options", spec, name)
		}
		c.Kind = KindSparseLinear
	case "embag":
		c.Kind = KindEmbeddingBag
		dim, hidden, hasHidden := strings.Cut(rest, ":")
		d, err := strconv.Atoi(dim)
		if err != nil || d < 1 {
			return SparseConfig{}, fmt.Errorf("model spec %q: want embag:DIM[:H1,H2...] with DIM a positive integer", spec)
		}
		c.Dim = d
		if hasHidden {
			for f := range strings.SplitSeq(hidden, ",") {
				h, err := strconv.Atoi(strings.TrimSpace(f))
				if err != nil || h < 1 {
					return SparseConfig{}, fmt.Errorf("model spec %q: hidden width %q is not a positive integer", spec, f)
				}
				c.Hidden = append(c.Hidden, h)
			}
		}
	default:
		return SparseConfig{}, fmt.Errorf("model spec %q: unknown text model (want softmax or embag:DIM[:H1,H2...])", spec)
	}
	if err := c.Validate(); err != nil {
		return SparseConfig{}, fmt.Errorf("model spec %q: %w", spec, err)
	}
	return c, nil
}

// width is the sparse layer's output width: Outputs for sparse-linear, Dim for an embedding bag.
func (c SparseConfig) width() int {
	if c.Kind == KindSparseLinear {
		return c.Outputs
	}
	return c.Dim
}

// hasBias reports whether the sparse layer has a bias (sparse-linear; an embedding table has none).
func (c SparseConfig) hasBias() bool { return c.Kind == KindSparseLinear }

// NumParams returns the number of parameters of a model of c, without building it:
// [SparseModel.NumParams] of [NewSparse]'s model. Past MaxNumParams it saturates at
// MaxNumParams+1 (Validate then fails).
func (c SparseConfig) NumParams() int { return c.numParams() }

// numParams counts the parameters, saturating above MaxNumParams.
func (c SparseConfig) numParams() int {
	n := c.Inputs * c.width() // both ≤ MaxWidth: fits in int
	if c.hasBias() {
		n += c.width()
	}
	if c.Kind == KindEmbeddingBag {
		n += c.head().numParams()
	}
	return min(n, MaxNumParams+1)
}

// SparseModel is a classifier on sparse input ([CSR] rows): a sparse first layer
//
//	hᵢ = Σⱼ xᵢⱼ·E_j (+ b)
//
// over the stored entries of row i, followed, for an embedding bag, by a dense head ([Model]).
// For [KindSparseLinear], E is W (Inputs×Outputs) and h the logits: softmax regression on hashed
// n-grams. For [KindEmbeddingBag], E is the embedding table (Inputs×Dim, no bias) and, with the
// input weights summing to one (the featurizer's "mean" weighting), h is the weighted mean of the
// token embeddings of fastText (Joulin, Grave, Bojanowski & Mikolov 2017, "Bag of Tricks for
// Efficient Text Classification", EACL), which the head maps to logits.
//
// Parameters live in one []float64, E first (row-major, row j is token bucket j), then b for
// sparse-linear, then the head's parameters in [Model]'s layout. A SparseModel is not safe for
// concurrent mutation; Predict and Loss may run concurrently while nobody writes the parameters.
type SparseModel struct {
	cfg    SparseConfig
	params []float64
	emb    []float64 // Inputs×width, row-major
	bias   []float64 // width, sparse-linear only
	head   *Model    // embedding bag only
	link   head      // the output head of sparse-linear
}

// NewSparse builds a model for cfg. Sparse-linear weights start at zero (the problem is convex);
// embeddings are uniform in [−1/Dim, 1/Dim] as in fastText, and the head is initialized as [New]
// does, with weights from rng.
func NewSparse(cfg SparseConfig, rng *rand.Rand) (*SparseModel, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if rng == nil {
		return nil, errors.New("model: nil random source for initialization")
	}
	m := buildSparse(cfg, make([]float64, cfg.numParams()))
	if m.head != nil {
		r := 1 / float64(cfg.Dim)
		for i := range m.emb {
			m.emb[i] = r * (2*rng.Float64() - 1)
		}
		h, err := New(cfg.head(), rng)
		if err != nil {
			return nil, err
		}
		copy(m.head.params, h.params)
	}
	return m, nil
}

// buildSparse wires a model around params (len cfg.numParams()); cfg must be valid.
func buildSparse(cfg SparseConfig, params []float64) *SparseModel {
	cfg.Hidden = slices.Clone(cfg.Hidden)
	w := cfg.width()
	m := &SparseModel{cfg: cfg, params: params, emb: params[:cfg.Inputs*w]}
	off := cfg.Inputs * w
	if cfg.hasBias() {
		m.bias = params[off : off+w]
		m.link = headSoftmaxCE
		if cfg.Loss == LossBCE {
			m.link = headSigmoidBCE
		}
	} else {
		m.head = build(cfg.head(), params[off:])
	}
	return m
}

// Config returns the model's architecture.
func (m *SparseModel) Config() SparseConfig {
	c := m.cfg
	c.Hidden = slices.Clone(c.Hidden)
	return c
}

// NumParams returns the number of parameters.
func (m *SparseModel) NumParams() int { return len(m.params) }

// Params returns the live parameter vector: writing to it changes the model.
func (m *SparseModel) Params() []float64 { return m.params }

// Clone returns an independent copy of m.
func (m *SparseModel) Clone() *SparseModel { return buildSparse(m.cfg, slices.Clone(m.params)) }

// checkInput panics when x does not have the model's number of columns.
func (m *SparseModel) checkInput(x *CSR) {
	if x.Cols != m.cfg.Inputs {
		panic(fmt.Sprintf("model: sparse input has %d columns, model takes %d", x.Cols, m.cfg.Inputs))
	}
}

// embed writes h = x·E (+ b) for rows [s, e) of x into h (row-major, (e−s) × width).
func (m *SparseModel) embed(h []float64, x *CSR, s, e int) {
	w := m.cfg.width()
	for i := s; i < e; i++ {
		hi := h[(i-s)*w : (i-s+1)*w]
		if m.bias != nil {
			copy(hi, m.bias)
		} else {
			clear(hi)
		}
		idx, val := x.Row(i)
		for k, j := range idx {
			floats.AddScaled(hi, val[k], m.emb[j*w:(j+1)*w])
		}
	}
}

// Predict writes the class probabilities of the rows of x into dst (rows × Outputs): the
// probability of the positive class for a binary model. It panics if the shapes do not match.
func (m *SparseModel) Predict(dst *mat.Dense, x *CSR) {
	m.checkInput(x)
	if r, c := dst.Dims(); r != x.Rows || c != m.cfg.Outputs {
		panic(fmt.Sprintf("model: Predict destination is %d×%d, want %d×%d", r, c, x.Rows, m.cfg.Outputs))
	}
	w := m.cfg.width()
	h := make([]float64, min(x.Rows, chunkRows)*w)
	for s := 0; s < x.Rows; s += chunkRows {
		e := min(s+chunkRows, x.Rows)
		m.embed(h, x, s, e)
		out := dst.Slice(s, e, 0, m.cfg.Outputs).(*mat.Dense)
		if m.head != nil {
			m.head.Predict(out, mat.NewDense(e-s, w, h[:(e-s)*w]))
			continue
		}
		for i := range e - s {
			row := out.RawRowView(i)
			copy(row, h[i*w:(i+1)*w])
			if m.link == headSigmoidBCE {
				row[0] = sigmoid(row[0])
			} else {
				softmax(row)
			}
		}
	}
}

// Loss returns the mean loss over the rows of x with class targets y (one per row, as
// [Model.Backward] takes them). It panics if the shapes do not match or a target is invalid.
func (m *SparseModel) Loss(x *CSR, y []float64) float64 {
	m.checkInput(x)
	if len(y) != x.Rows {
		panic(fmt.Sprintf("model: %d targets for %d rows", len(y), x.Rows))
	}
	w := m.cfg.width()
	h := make([]float64, min(x.Rows, chunkRows)*w)
	sum := 0.0
	for s := 0; s < x.Rows; s += chunkRows {
		e := min(s+chunkRows, x.Rows)
		m.embed(h, x, s, e)
		if m.head != nil {
			sum += m.head.Loss(mat.NewDense(e-s, w, h[:(e-s)*w]), y[s:e]) * float64(e-s)
			continue
		}
		for i := range e - s {
			sum += rowLoss(m.link, h[i*w:(i+1)*w], y[s+i:s+i+1], nil, s+i)
		}
	}
	return sum / float64(x.Rows)
}

// EvaluateSparse scores m on the rows of x against the class labels y, as [Evaluate] does.
func EvaluateSparse(m *SparseModel, x *CSR, y []float64) Metrics {
	if x.Rows == 0 {
		return Metrics{}
	}
	h := m.cfg.head()
	if err := h.CheckTargets(y); err != nil {
		panic(err.Error())
	}
	if len(y) != x.Rows {
		panic(fmt.Sprintf("model: %d targets for %d rows", len(y), x.Rows))
	}
	k := m.cfg.Outputs
	p := mat.NewDense(x.Rows, k, nil)
	m.Predict(p, x)
	scores := p.RawMatrix().Data
	if k == 1 {
		return binaryMetrics(scores, y)
	}
	return softmaxMetrics(scores, k, y)
}

// checkSparseFit checks a training set for m.
func checkSparseFit(m *SparseModel, x *CSR, y []float64) error {
	if err := x.Validate(); err != nil {
		return err
	}
	if x.Cols != m.cfg.Inputs {
		return fmt.Errorf("data has %d columns, model takes %d", x.Cols, m.cfg.Inputs)
	}
	if x.Rows == 0 {
		return errors.New("no rows")
	}
	if len(y) != x.Rows {
		return fmt.Errorf("%d targets for %d rows", len(y), x.Rows)
	}
	return m.cfg.head().CheckTargets(y)
}

// CheckData reports the first reason m cannot train on x and y: an invalid sparse matrix, a
// column count that is not the model's, a target count that is not the row count, or a target
// that is not a class index.
func (m *SparseModel) CheckData(x *CSR, y []float64) error { return checkSparseFit(m, x, y) }

// finiteLoss returns an error when a training loss stops being finite.
func finiteLoss(loss float64, epoch int, lr float64) error {
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return fmt.Errorf("fit: loss became %v in epoch %d (learning rate %v too high?)", loss, epoch+1, lr)
	}
	return nil
}
