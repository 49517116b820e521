package sealedmodel

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/model"
	"github.com/fedcrypt/fedcrypt/vault"
	"gonum.org/v1/gonum/mat"
)

type fixture struct {
	m  *model.Model
	sc data.Schema
	tf *data.Transform
}

func newFixture(t testing.TB) fixture {
	ds := data.Synthetic(40, 3, 2, 1)
	tf, err := data.FitTransform(ds.X, "mean", "zscore")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := model.ParseSpec("logreg", 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.New(cfg, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	return fixture{m, ds.Schema(), tf}
}

func TestSealUnsealRoundTrip(t *testing.T) {
	f := newFixture(t)
	writer, _ := vault.GenerateIdentity()
	reader, _ := vault.GenerateIdentity()
	path := filepath.Join(t.TempDir(), "model.age")
	if err := Seal(path, f.m, f.sc, f.tf, writer.SigningKey(), reader.Recipient()); err != nil {
		t.Fatal(err)
	}
	m, p, err := Unseal(path, writer.SigningPublicKey(), reader)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.Params(), f.m.Params()) || !slices.Equal(p.Schema.Features, f.sc.Features) {
		t.Fatal("round trip changed the model or schema")
	}
	other, _ := vault.GenerateIdentity()
	if _, _, err := Unseal(path, other.SigningPublicKey(), reader); !errors.Is(err, vault.ErrBadSignature) {
		t.Fatalf("another writer's key: %v, want ErrBadSignature", err)
	}
}

func TestDecodeRejectsMismatchedShapes(t *testing.T) {
	f := newFixture(t)
	w, _ := f.m.MarshalBinary()
	wide := f.sc
	wide.Features = append(slices.Clone(wide.Features), "extra")
	for name, p := range map[string]Payload{
		"format":       {Format: "other", Schema: f.sc, Transform: f.tf, Weights: w},
		"no transform": {Format: Format, Schema: f.sc, Weights: w},
		"features":     {Format: Format, Schema: wide, Transform: f.tf, Weights: w},
		"weights":      {Format: Format, Schema: f.sc, Transform: f.tf, Weights: w[:len(w)-3]},
	} {
		b, _ := json.Marshal(p)
		if _, _, err := Decode(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzDecodeSealedModel(f *testing.F) {

	tm := newFixture(f)
	w, err := tm.m.MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	good, err := json.Marshal(Payload{Format: Format, Schema: tm.sc, Transform: tm.tf, Weights: w})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"format":"fedcrypt-model/v1"}`))
	f.Add([]byte(`{"format":"fedcrypt-model/v1","schema":{"features":["a"],"label":"y","classes":["0","1"]},"transform":{"impute":"mean","normalize":"none","fill":[0],"shift":[0],"scale":[1]},"weights":"RkNNVw=="}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		m, sm, err := Decode(payload)
		if err != nil {
			return
		}
		w, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		again, err := json.Marshal(Payload{Format: sm.Format, Schema: sm.Schema, Transform: sm.Transform, Weights: w})
		if err != nil {
			t.Fatal(err)
		}
		m2, _, err := Decode(again)
		if err != nil {
			t.Fatalf("re-encoded model does not decode: %v", err)
		}
		if !slices.Equal(m2.Params(), m.Params()) {
			t.Fatal("parameters changed in the round trip")
		}
		// Scoring a row never panics once the model is accepted.
		x := mat.NewDense(1, len(sm.Schema.Features), nil)
		if err := sm.Transform.Apply(x, x); err != nil {
			t.Fatal(err)
		}
		m.Predict(mat.NewDense(1, m.Config().Outputs, nil), x)
	})
}
