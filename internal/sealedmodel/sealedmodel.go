// Package sealedmodel reads and writes sealed models: a trained model with
// everything needed to score a raw CSV row — the schema naming the feature
// columns in order, the imputation and normalization fitted on the training
// rows, the weights — age-encrypted to its readers and signed by its writer
// (a vault sealed file of kind [Kind]). `fedcrypt sim --out` writes one;
// `fedcrypt predict --checkpoint` reads it.
//
// The payload is the JSON object [Payload]; it holds nothing about the rows
// the model was trained on beyond the transform's per-column statistics.
package sealedmodel

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/model"
	"github.com/fedcrypt/fedcrypt/vault"
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
