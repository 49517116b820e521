// Package sealedmodel reads and writes sealed models: a trained model with
// everything needed to score a raw CSV row — the schema naming the feature
// columns in order, the imputation and normalization fitted on the training
// rows, the weights — age-encrypted to its readers and signed by its writer
// (a vault sealed file of kind [Kind]). `fedcrypt sim --out` writes one;
// `fedcrypt predict --checkpoint` reads it.
//
// The payload is the JSON object [Payload]; it holds nothing about the rows
// the model was trained on beyond the transform's per-column statistics
// and, for a text model, the IDF weights per hash bucket when the model was
// trained with them (a function of document frequencies: see package text).
//
// A text model ([SealText], [Load]) has a sparse network (model weights
// "FCSW"), the text transform that turns the schema's text column into its
// input, and a numeric transform only when the schema has numeric features,
// whose normalized values follow the hash buckets as extra input columns.
package sealedmodel

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/model"
	"github.com/fedcrypt/fedcrypt/text"
	"github.com/fedcrypt/fedcrypt/vault"
	"gonum.org/v1/gonum/mat"
)

const (
	// Kind is the vault kind of a sealed model file.
	Kind = "fedcrypt/model"
	// Format names the payload's layout.
	Format = "fedcrypt-model/v1"
)

// Payload is the plaintext of a sealed model.
type Payload struct {
	Format    string          `json:"format"`
	Schema    data.Schema     `json:"schema"`
	Transform *data.Transform `json:"transform"`
	Weights   []byte          `json:"weights"` // model.MarshalBinary, base64 in JSON
	// Text is the featurization of the schema's text column; set exactly
	// for a text model, whose Weights are a sparse model's.
	Text *text.Transform `json:"text,omitempty"`
}

// Seal writes m, its schema and transform as a sealed model at path, signed
// by signer and encrypted to the recipients.
func Seal(path string, m *model.Model, schema data.Schema, tf *data.Transform, signer ed25519.PrivateKey, rs ...vault.Recipient) error {
	w, err := m.MarshalBinary()
	if err != nil {
		return err
	}
	b, err := json.Marshal(Payload{Format: Format, Schema: schema, Transform: tf, Weights: w})
	if err != nil {
		return err
	}
	defer clear(b)
	return vault.Seal(path, Kind, b, signer, rs...)
}

// SealPayload writes a payload whose weights the caller encoded (for
// example int8 weights, [model.Model.MarshalInt8]) after checking it as
// [Load] will; p.Format is set.
func SealPayload(path string, p Payload, signer ed25519.PrivateKey, rs ...vault.Recipient) error {
	p.Format = Format
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	defer clear(b)
	if _, err := DecodeLoaded(b); err != nil {
		return fmt.Errorf("seal model: %w", err)
	}
	return vault.Seal(path, Kind, b, signer, rs...)
}

// Unseal reads and checks a sealed model: the writer's signature, the
// format, and that schema, transform and network agree on their shapes.
func Unseal(path string, writer ed25519.PublicKey, id *vault.Identity) (*model.Model, Payload, error) {
	payload, err := vault.Unseal(path, Kind, writer, id)
	if err != nil {
		return nil, Payload{}, err
	}
	m, p, err := Decode(payload)
	if err != nil {
		return nil, p, fmt.Errorf("sealed model %s: %w", path, err)
	}
	return m, p, nil
}

// Decode decodes and checks the payload of a sealed model.
func Decode(payload []byte) (*model.Model, Payload, error) {
	var p Payload
	if err := json.Unmarshal(payload, &p); err != nil {
		return nil, p, err
	}
	if p.Format != Format {
		return nil, p, fmt.Errorf("format %q, want %q", p.Format, Format)
	}
	if err := p.Schema.Validate(); err != nil {
		return nil, p, err
	}
	if p.Text != nil || p.Schema.Text != "" {
		return nil, p, errors.New("a text model: load it with Load")
	}
	if p.Transform == nil {
		return nil, p, errors.New("no transform")
	}
	m, err := model.Unmarshal(p.Weights)
	if err != nil {
		return nil, p, err
	}
	cfg := m.Config()
	nf, nc := len(p.Schema.Features), len(p.Schema.Classes)
	switch {
	case p.Transform.Columns() != nf:
		return nil, p, fmt.Errorf("transform has %d columns, schema %d features", p.Transform.Columns(), nf)
	case cfg.Inputs != nf:
		return nil, p, fmt.Errorf("network takes %d inputs, schema has %d features", cfg.Inputs, nf)
	case cfg.Loss == model.LossMSE:
		return nil, p, errors.New("a regression model, not a classifier")
	case !(cfg.Outputs == 1 && nc == 2) && cfg.Outputs != nc:
		return nil, p, fmt.Errorf("network has %d outputs for %d classes", cfg.Outputs, nc)
	}
	return m, p, nil
}

// SealText writes a text model: the sparse network m, the schema (with its
// text column), the text transform tt and, when the schema has numeric
// features, their transform tf (nil otherwise), signed and encrypted as
// [Seal] does.
func SealText(path string, m *model.SparseModel, schema data.Schema, tf *data.Transform, tt *text.Transform, signer ed25519.PrivateKey, rs ...vault.Recipient) error {
	w, err := m.MarshalBinary()
	if err != nil {
		return err
	}
	return SealPayload(path, Payload{Schema: schema, Transform: tf, Weights: w, Text: tt}, signer, rs...)
}

// Inputs turns rows to score into a text model's input: the documents of the
// schema's text column through the text transform, then the numeric
// features x (raw, NaN where missing; nil without numeric features) through
// the numeric transform, as columns after the buckets.
func (l *Loaded) Inputs(docs []string, x *mat.Dense) (*model.CSR, error) {
	if l.Sparse == nil {
		return nil, errors.New("not a text model")
	}
	in, err := l.Text.Apply(docs)
	if err != nil {
		return nil, err
	}
	if l.Transform == nil {
		return in, nil
	}
	r, c := x.Dims()
	xt := mat.NewDense(r, c, nil)
	if err := l.Transform.Apply(xt, x); err != nil {
		return nil, err
	}
	return model.AppendColumns(in, xt), nil
}

// Loaded is a checked sealed model: its payload and its network, dense, or
// sparse for a text model.
type Loaded struct {
	Payload
	Dense  *model.Model       // nil for a text model
	Sparse *model.SparseModel // set for a text model
}

// Load reads and checks a sealed model of either kind, as [Unseal] does.
func Load(path string, writer ed25519.PublicKey, id *vault.Identity) (*Loaded, error) {
	payload, err := vault.Unseal(path, Kind, writer, id)
	if err != nil {
		return nil, err
	}
	l, err := DecodeLoaded(payload)
	if err != nil {
		return nil, fmt.Errorf("sealed model %s: %w", path, err)
	}
	return l, nil
}

// DecodeLoaded decodes and checks the payload of a sealed model of either
// kind. For a text model: a text transform and a text column in the schema,
// a numeric transform exactly when there are numeric features, and a sparse
// network taking the buckets plus the numeric features.
func DecodeLoaded(payload []byte) (*Loaded, error) {
	var p Payload
	if err := json.Unmarshal(payload, &p); err != nil {
		return nil, err
	}
	if p.Text == nil && p.Schema.Text == "" {
		m, p, err := Decode(payload)
		if err != nil {
			return nil, err
		}
		return &Loaded{Payload: p, Dense: m}, nil
	}
	nf, nc := len(p.Schema.Features), len(p.Schema.Classes)
	switch {
	case p.Format != Format:
		return nil, fmt.Errorf("format %q, want %q", p.Format, Format)
	case p.Text == nil:
		return nil, errors.New("schema has a text column but the model no text transform")
	case p.Schema.Text == "":
		return nil, errors.New("a text transform but no text column in the schema")
	case (p.Transform != nil) != (nf > 0):
		return nil, fmt.Errorf("%d numeric features, transform present %v", nf, p.Transform != nil)
	case p.Transform != nil && p.Transform.Columns() != nf:
		return nil, fmt.Errorf("transform has %d columns, schema %d features", p.Transform.Columns(), nf)
	}
	if err := p.Schema.Validate(); err != nil {
		return nil, err
	}
	if err := p.Text.Validate(); err != nil {
		return nil, err
	}
	m, err := model.UnmarshalSparse(p.Weights)
	if err != nil {
		return nil, err
	}
	cfg := m.Config()
	switch {
	case cfg.Inputs != p.Text.Buckets+nf:
		return nil, fmt.Errorf("network takes %d inputs, text has %d buckets and the schema %d numeric features", cfg.Inputs, p.Text.Buckets, nf)
	case !(cfg.Outputs == 1 && nc == 2) && cfg.Outputs != nc:
		return nil, fmt.Errorf("network has %d outputs for %d classes", cfg.Outputs, nc)
	}
	return &Loaded{Payload: p, Sparse: m}, nil
}
