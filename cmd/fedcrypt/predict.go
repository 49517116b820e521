package main

import (
	"context"
	"crypto/ed25519"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/internal/sealedmodel"
	"github.com/fedcrypt/fedcrypt/model"
	"github.com/fedcrypt/fedcrypt/vault"
	"gonum.org/v1/gonum/mat"
)

const maxPredictRows = 1 << 24

// rowsToScore are the rows of a CSV laid out by a schema: X in the schema's
// feature order (NaN for a missing cell) and, where the label column is
// present and the cell not missing, the class index (else -1).
type rowsToScore struct {
	X        *mat.Dense // nil when the schema has no numeric feature
	Docs     []string   // the text column's documents, for a text model
	Y        []int
	Labelled int
	Missing  map[string]int // missing cells per feature, those with any
	Ignored  []string       // the columns the model does not read
}

// readRows reads a CSV with a header for scoring: every feature of the schema
// must be a column (in any order); the label column is optional; other
// columns are ignored. Errors name the source, the line and the column.
func readRows(r io.Reader, source string, schema data.Schema) (*rowsToScore, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%s: empty file: no header row", source)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	index := map[string]int{}
	names := make([]string, len(header))
	for j, h := range header {
		names[j] = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		index[names[j]] = j
	}
	cols := make([]int, len(schema.Features))
	for k, f := range schema.Features {
		j, ok := index[f]
		if !ok {
			return nil, fmt.Errorf("%s: line 1: no column %q, a feature of the model%s", source, f, data.ColumnHint(f, names))
		}
		cols[k] = j
	}
	textCol := -1
	if schema.Text != "" {
		j, ok := index[schema.Text]
		if !ok {
			return nil, fmt.Errorf("%s: line 1: no column %q, the model's text column%s", source, schema.Text, data.ColumnHint(schema.Text, names))
		}
		textCol = j
	}
	labelCol, hasLabel := index[schema.Label]
	out := &rowsToScore{Missing: map[string]int{}}
	for _, h := range names {
		if h != schema.Label && h != schema.Text && !slices.Contains(schema.Features, h) {
			out.Ignored = append(out.Ignored, h)
		}
	}
	classOf := map[string]int{}
	for i, c := range schema.Classes {
		classOf[c] = i
	}
	width := len(header)
	var xs []float64
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", source, err)
		}
		if len(rec) != width {
			return nil, fmt.Errorf("%s: line %d: %d fields, header has %d", source, line, len(rec), width)
		}
		if len(out.Y) == maxPredictRows {
			return nil, fmt.Errorf("%s: more than %d rows", source, maxPredictRows)
		}
		for k, j := range cols {
			v, err := parseFeature(rec[j])
			if err != nil {
				return nil, fmt.Errorf("%s: line %d, column %q: %w", source, line, schema.Features[k], err)
			}
			if math.IsNaN(v) {
				out.Missing[schema.Features[k]]++
			}
			xs = append(xs, v)
		}
		if textCol >= 0 {
			doc := rec[textCol]
			if !utf8.ValidString(doc) {
				return nil, fmt.Errorf("%s: line %d, column %q: not valid UTF-8 text", source, line, schema.Text)
			}
			if isMissingCell(strings.TrimSpace(doc)) {
				doc = ""
			}
			out.Docs = append(out.Docs, doc)
		}
		y := -1
		if hasLabel {
			if s := strings.TrimSpace(rec[labelCol]); !isMissingCell(s) {
				c, ok := classOf[s]
				if !ok {
					return nil, fmt.Errorf("%s: line %d, column %q: not one of the model's %d classes", source, line, schema.Label, len(schema.Classes))
				}
				y = c
				out.Labelled++
			}
		}
		out.Y = append(out.Y, y)
	}
	if len(out.Y) == 0 {
		return nil, fmt.Errorf("%s: no rows", source)
	}
	if len(cols) > 0 {
		out.X = mat.NewDense(len(out.Y), len(cols), xs)
	}
	return out, nil
}

// parseFeature reads a numeric cell; missing cells (those data.Load treats
// as missing) are NaN, for the model's transform to impute. The error does
// not quote the cell: it is patient data.
func parseFeature(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if isMissingCell(s) {
		return math.NaN(), nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, errors.New("not a finite number")
	}
	return v, nil
}

// isMissingCell lists the cells data.Load reads as missing.
func isMissingCell(s string) bool {
	switch strings.ToLower(s) {
	case "", "?", "na", "n/a", "nan", "null":
		return true
	}
	return false
}

// readSigner reads an expected writer's signing key: "ed25519:…" itself,
// a file holding it (signing-key.pub from keygen), or a federation config,
// whose aggregator signs the federation's model.
func readSigner(s string) (ed25519.PublicKey, error) {
	if strings.HasPrefix(s, "ed25519:") {
		return vault.ParseSigningKey(s)
	}
	b, err := os.ReadFile(s)
	if err != nil {
		return nil, fmt.Errorf("--signer: %w", err)
	}
	if t := strings.TrimSpace(string(b)); strings.HasPrefix(t, "{") {
		fed, err := federation.Parse(strings.NewReader(t), s)
		if err != nil {
			return nil, fmt.Errorf("--signer: %w", err)
		}
		return fed.Aggregator.PublicKey()
	}
	k, err := vault.ParseSigningKey(string(b))
	switch {
	case err == nil:
		return k, nil
	case strings.HasPrefix(strings.TrimSpace(string(b)), "ed25519:"):
		return nil, fmt.Errorf("--signer %s: %w", s, err) // a public key: safe to show
	default:
		// The file's text is not quoted: it may be anything, data included.
		return nil, fmt.Errorf("--signer %s: neither a signing key (ed25519:…) nor a federation config", s)
	}
}

type prediction struct {
	Row         int     `json:"row"`
	Class       string  `json:"class"`
	Probability float64 `json:"probability"`
}

type predictResult struct {
	Rows        int            `json:"rows"`
	Labelled    int            `json:"labelled_rows"`
	Metrics     *model.Metrics `json:"metrics,omitempty"`
	Undefined   []string       `json:"undefined_metrics,omitempty"` // metrics the labelled rows do not define (0 above)
	Output      string         `json:"output,omitempty"`
	Predictions []prediction   `json:"predictions,omitempty"`
}

func runPredict(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
	var kf keyFlags
	kf.register(fs)
	checkpoint := fs.String("checkpoint", "", "sealed model `file` (.age)")
	signer := fs.String("signer", "", "the model writer's signing `key` (ed25519:...), a file holding it, or the federation.json whose aggregator wrote the model")
	dataPath := fs.String("data", "", "rows to score: a CSV `file`, or an age-encrypted one")
	var out string
	(*outFlag)(&out).register(fs, "write the predictions encrypted to -r/-R recipients into `file` (.age)")
	var rf recipientFlags
	rf.register(fs, false)
	var jsonOut bool
	(*jsonFlag)(&jsonOut).register(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return usagef("predict: unexpected argument %q", pos[0])
	case *checkpoint == "":
		return usagef("predict: --checkpoint is required")
	case *dataPath == "":
		return usagef("predict: --data is required")
	case *signer == "":
		return usagef("predict: --signer is required: a sealed model is accepted only from its expected writer")
	case kf.identity == "":
		return usagef("predict: -i IDENTITY is required to open the sealed model")
	case out == "" && (len(rf.recipients) > 0 || len(rf.files) > 0):
		return usagef("predict: -r/-R are for -o: the predictions file is encrypted to them")
	}
	var rs []vault.Recipient
	if out != "" {
		keep := []input{{"data file", *dataPath}, {"sealed model", *checkpoint}, {"identity file", kf.identity}, {"signer file", *signer}}
		for _, f := range rf.files {
			keep = append(keep, input{"recipients file", f})
		}
		if err := notAnInput("-o", out, keep...); err != nil {
			return err
		}
		if rs, err = rf.parse(e); err != nil {
			return err
		}
	}
	writer, err := readSigner(*signer)
	if err != nil {
		return err
	}
	id, err := kf.load(e)
	if err != nil {
		return err
	}
	l, err := sealedmodel.Load(*checkpoint, writer, id)
	if err != nil {
		return err
	}
	sm := l.Payload
	in, err := vault.Open(*dataPath, id)
	if err != nil {
		return err
	}
	rows, err := readRows(in, *dataPath, sm.Schema)
	in.Close()
	if err != nil {
		return err
	}
	summary := e.stderr
	if out != "" {
		summary = e.stdout
	}
	e = assumePredict(*dataPath, l, rows).say(e, summary, jsonOut)
	n := len(rows.Y)
	sc, err := newScorer(l, rows)
	if err != nil {
		return fmt.Errorf("predict: %w", err)
	}
	k := sc.outputs()
	p := mat.NewDense(n, k, nil)
	sc.predict(p)

	res := predictResult{Rows: n, Labelled: rows.Labelled, Output: out}
	preds := make([]prediction, n)
	for i := range n {
		c, prob := 0, 0.0
		if k == 1 {
			if prob = p.At(i, 0); prob >= 0.5 {
				c = 1
			} else {
				prob = 1 - prob
			}
		} else {
			for j := range k {
				if v := p.At(i, j); v > prob {
					c, prob = j, v
				}
			}
		}
		preds[i] = prediction{Row: i + 1, Class: sm.Schema.Classes[c], Probability: prob}
	}
	if rows.Labelled > 0 {
		var idx []int
		var y []float64
		for i, c := range rows.Y {
			if c >= 0 {
				idx, y = append(idx, i), append(y, float64(c))
			}
		}
		mt := sc.evaluate(idx, y)
		res.Metrics, res.Undefined = &mt, mt.Undefined()
	}

	if out != "" {
		f, err := vault.Create(out, rs...)
		if err != nil {
			return fmt.Errorf("predict: %w", err)
		}
		if err := writePredictions(f, preds); err != nil {
			f.Abort()
			return fmt.Errorf("predict: %w", err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("predict: %w", err)
		}
	} else if jsonOut {
		res.Predictions = preds
	} else if err := writePredictions(e.stdout, preds); err != nil {
		return err
	}
	if jsonOut {
		return writeJSON(e.stdout, res)
	}
	if out != "" {
		fmt.Fprintf(summary, "scored %d rows: %s\n", n, out)
	}
	if m := res.Metrics; m != nil {
		f := metricFormat(*m)
		fmt.Fprintf(summary, "on %d labelled rows: accuracy %s, precision %s, recall %s, f1 %s, auc %s, brier %s, ece %s\n",
			rows.Labelled, f("accuracy", m.Accuracy), f("precision", m.Precision), f("recall", m.Recall), f("f1", m.F1), f("auc", m.AUC), f("brier", m.Brier), f("ece", m.ECE))
	}
	return nil
}

// scorer scores the rows of a CSV with a dense model on transformed numeric
// features, or a text model on its sparse input.
type scorer struct {
	dense  *model.Model
	x      *mat.Dense // transformed numeric rows, dense model
	sparse *model.SparseModel
	in     *model.CSR // text model input
}

func newScorer(l *sealedmodel.Loaded, rows *rowsToScore) (*scorer, error) {
	if l.Sparse != nil {
		in, err := l.Inputs(rows.Docs, rows.X)
		if err != nil {
			return nil, err
		}
		return &scorer{sparse: l.Sparse, in: in}, nil
	}
	x := mat.NewDense(len(rows.Y), len(l.Schema.Features), nil)
	if err := l.Transform.Apply(x, rows.X); err != nil {
		return nil, err
	}
	return &scorer{dense: l.Dense, x: x}, nil
}

// outputs is the network's number of outputs: 1 for a binary classifier
// with a sigmoid output, else one per class.
func (s *scorer) outputs() int {
	if s.sparse != nil {
		return s.sparse.Config().Outputs
	}
	return s.dense.Config().Outputs
}

// predict writes the probabilities of every row into p.
func (s *scorer) predict(p *mat.Dense) {
	if s.sparse != nil {
		s.sparse.Predict(p, s.in)
		return
	}
	s.dense.Predict(p, s.x)
}

// evaluate scores the given rows against their labels y.
func (s *scorer) evaluate(rows []int, y []float64) model.Metrics {
	if s.sparse != nil {
		return model.EvaluateSparse(s.sparse, s.in.SelectRows(rows), y)
	}
	x := mat.NewDense(len(rows), s.x.RawMatrix().Cols, nil)
	for r, i := range rows {
		x.SetRow(r, s.x.RawRowView(i))
	}
	return model.Evaluate(s.dense, x, y)
}

func writePredictions(w io.Writer, preds []prediction) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"row", "class", "probability"})
	for _, p := range preds {
		cw.Write([]string{strconv.Itoa(p.Row), p.Class, strconv.FormatFloat(p.Probability, 'f', 6, 64)})
	}
	cw.Flush()
	return cw.Error()
}
