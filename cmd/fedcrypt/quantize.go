package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"

	"github.com/fedcrypt/fedcrypt/internal/sealedmodel"
	"github.com/fedcrypt/fedcrypt/model"
	"github.com/fedcrypt/fedcrypt/vault"
	"gonum.org/v1/gonum/mat"
)

type modelQuantizeResult struct {
	Output     string `json:"output"`
	Signer     string `json:"signer"` // the key predict takes as --signer for the output
	Params     int    `json:"params"`
	FloatBytes int    `json:"float_bytes"` // the float64 weights
	Int8Bytes  int    `json:"int8_bytes"`  // the quantized weights (12-bit values since format version 3)
	Bits       int    `json:"bits"`        // bits a quantized value
	Rows       int    `json:"rows,omitempty"`
	// ClassAgreement and MaxProbDiff compare the quantized model with the float one on --data's rows.
	ClassAgreement *float64 `json:"class_agreement,omitempty"`
	MaxProbDiff    *float64 `json:"max_prob_diff,omitempty"`
}

func runModelQuantize(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
	var mf modelOutFlags
	mf.register(fs, "the quantized sealed model `file` (.age)")
	var dataPath rowsFile
	dataPath.register(fs, "rows to compare the two models on", false)
	var rf recipientFlags
	rf.register(fs, false)
	if err := mf.parse(fs, args, "model quantize"); err != nil {
		return err
	}
	sf, out := mf.sealedModelFlags, mf.out
	keep := sf.inputs()
	if dataPath != "" {
		keep = append(keep, input{"data file", string(dataPath)})
	}
	for _, f := range rf.files {
		keep = append(keep, input{"recipients file", f})
	}
	if err := notAnInput("-o", out, keep...); err != nil {
		return err
	}
	if err := notExisting("model quantize: -o", mf.force, out); err != nil {
		return err
	}
	var rs []vault.Recipient
	if len(rf.recipients) > 0 || len(rf.files) > 0 {
		r, err := rf.parse(e)
		if err != nil {
			return err
		}
		rs = r
	}
	writer, id, err := sf.open(e)
	if err != nil {
		return err
	}
	if id.SigningKey() == nil {
		return usagef("model quantize: --identity %s has no signing key (a passphrase identity): it cannot sign the model", sf.keys.identity)
	}
	l, err := sealedmodel.Load(sf.checkpoint, writer, id)
	if err != nil {
		return err
	}
	var qb []byte
	params := 0
	if l.Sparse != nil {
		qb, err = l.Sparse.MarshalQuantized()
		params = l.Sparse.NumParams()
	} else {
		qb, err = l.Dense.MarshalQuantized()
		params = l.Dense.NumParams()
	}
	if err != nil {
		return fmt.Errorf("model quantize: %s: %w", sf.checkpoint, err)
	}
	res := modelQuantizeResult{Output: out, Signer: vault.FormatSigningKey(id.SigningPublicKey()), Params: params, FloatBytes: len(l.Weights), Int8Bytes: len(qb), Bits: model.QuantBits}
	p := l.Payload
	p.Weights = qb
	if dataPath != "" {
		b, err := json.Marshal(p)
		if err != nil {
			return fmt.Errorf("model quantize: %w", err)
		}
		q, err := sealedmodel.DecodeLoaded(b)
		if err != nil {
			return fmt.Errorf("model quantize: %w", err)
		}
		if err := compareOnRows(e, id, dataPath, l, q, &res); err != nil {
			return err
		}
	}
	if err := sealedmodel.SealPayload(out, p, id.SigningKey(), append(rs, id.Recipient())...); err != nil {
		return fmt.Errorf("model quantize: %w", err)
	}
	if mf.json {
		return writeJSON(e.stdout, res)
	}
	fmt.Fprintf(e.stdout, "%d-bit model: %s, %d parameters, weights %d bytes against %d (%.1f× smaller)\n",
		res.Bits, out, res.Params, res.Int8Bytes, res.FloatBytes, float64(res.FloatBytes)/float64(res.Int8Bytes))
	fmt.Fprintf(e.stdout, "  signed by %s (predict's --signer)\n", res.Signer)
	if res.ClassAgreement != nil {
		fmt.Fprintf(e.stdout, "  on the %d rows of %s: %.2f%% of classes as the float model's, probabilities within %.4f\n",
			res.Rows, dataPath, 100**res.ClassAgreement, *res.MaxProbDiff)
	}
	return nil
}

// compareOnRows scores the rows of path with the float model f and the quantized model q and records
// how they agree in res.
func compareOnRows(e *env, id *vault.Identity, path rowsFile, f, q *sealedmodel.Loaded, res *modelQuantizeResult) error {
	rows, err := path.read(id, f.Schema)
	if err != nil {
		return err
	}
	probs := func(l *sealedmodel.Loaded) (*mat.Dense, error) {
		sc, err := l.Scorer(rows.Docs, rows.X)
		if err != nil {
			return nil, fmt.Errorf("model quantize: %w", err)
		}
		p := mat.NewDense(len(rows.Y), sc.Outputs(), nil)
		sc.Predict(p)
		return p, nil
	}
	pf, err := probs(f)
	if err != nil {
		return err
	}
	pq, err := probs(q)
	if err != nil {
		return err
	}
	same, diff := model.Agreement(pf, pq)
	res.Rows, res.ClassAgreement, res.MaxProbDiff = len(rows.Y), &same, &diff
	return nil
}
