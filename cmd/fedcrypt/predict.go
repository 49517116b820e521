package main

import (
	"context"
	"crypto/ed25519"
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/internal/sealedmodel"
	"github.com/fedcrypt/fedcrypt/model"
	"github.com/fedcrypt/fedcrypt/vault"
	"gonum.org/v1/gonum/mat"
)

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
	var dataPath rowsFile
	dataPath.register(fs, "rows to score", false)
	textCol := fs.String("text", "", "for a text model: the rows' free-text `column`, when it is named otherwise than the model's (default: the model's text column)")
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
	case dataPath == "":
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
		keep := []input{{"data file", string(dataPath)}, {"sealed model", *checkpoint}, {"identity file", kf.identity}, {"signer file", *signer}}
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
	schema, err := rowsSchema(sm.Schema, *textCol)
	if err != nil {
		return err
	}
	rows, err := dataPath.read(id, schema)
	if err != nil {
		return err
	}
	summary := e.stderr
	if out != "" {
		summary = e.stdout
	}
	e = assumePredict(string(dataPath), l, schema, rows).say(e, summary, jsonOut)
	n := len(rows.Y)
	sc, err := l.Scorer(rows.Docs, rows.X)
	if err != nil {
		return fmt.Errorf("predict: %w", err)
	}
	k := sc.Outputs()
	p := mat.NewDense(n, k, nil)
	sc.Predict(p)

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
		mt := sc.Evaluate(idx, y)
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

// rowsSchema is the schema the rows to score are read with: the model's,
// its text column renamed to column when one is given.
func rowsSchema(s data.Schema, column string) (data.Schema, error) {
	if column == "" || column == s.Text {
		return s, nil
	}
	if s.Text == "" {
		return s, usagef("--text %s: the model reads no text (it is not a text model)", column)
	}
	s.Text = column
	if err := s.Validate(); err != nil {
		return s, usagef("--text %s: %v", column, err)
	}
	return s, nil
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
