package sealedmodel

import (
	"encoding/json"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/model"
	"github.com/fedcrypt/fedcrypt/text"
	"github.com/fedcrypt/fedcrypt/vault"
	"gonum.org/v1/gonum/mat"
)

type textFixture struct {
	m  *model.SparseModel
	sc data.Schema
	tf *data.Transform // nil: text only
	tt *text.Transform
}

// newTextFixture builds a text model over 64 buckets with IDF, and numeric features when
// numeric > 0.
func newTextFixture(t testing.TB, numeric int) textFixture {
	tt, err := text.New(text.Config{Buckets: 64, NGrams: 2, Seed: 1, Sublinear: true, IDF: true, Norm: text.NormL2})
	if err != nil {
		t.Fatal(err)
	}
	df := make([]float64, 64)
	for j := range df {
		df[j] = float64(j % 7)
	}
	if err := tt.SetIDF(df, 10); err != nil {
		t.Fatal(err)
	}
	sc := data.Schema{Label: "dx", Classes: []string{"a", "b", "c"}, Text: "note"}
	var tf *data.Transform
	if numeric > 0 {
		ds := data.Synthetic(20, numeric, 2, 1)
		if tf, err = data.FitTransform(ds.X, "mean", "zscore"); err != nil {
			t.Fatal(err)
		}
		sc.Features = ds.Features
	}
	m, err := model.NewSparse(model.SparseConfig{Kind: model.KindSparseLinear, Inputs: 64 + numeric, Outputs: 3, Loss: model.LossSoftmaxCE}, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	for i := range m.Params() {
		m.Params()[i] = float64(i%5) - 2
	}
	return textFixture{m, sc, tf, tt}
}

func TestSealTextRoundTrip(t *testing.T) {
	for _, numeric := range []int{0, 2} {
		f := newTextFixture(t, numeric)
		writer, _ := vault.GenerateIdentity()
		path := filepath.Join(t.TempDir(), "model.age")
		if err := SealText(path, f.m, f.sc, f.tf, f.tt, writer.SigningKey(), writer.Recipient()); err != nil {
			t.Fatal(err)
		}
		l, err := Load(path, writer.SigningPublicKey(), writer)
		if err != nil {
			t.Fatal(err)
		}
		if l.Sparse == nil || l.Dense != nil || !slices.Equal(l.Sparse.Params(), f.m.Params()) || !slices.Equal(l.Text.IDF, f.tt.IDF) {
			t.Fatal("round trip changed the text model")
		}
		var x *mat.Dense
		if numeric > 0 {
			x = mat.NewDense(2, numeric, []float64{1, 2, 3, 4})
		}
		in, err := l.Inputs([]string{"lung tumor", ""}, x)
		if err != nil {
			t.Fatal(err)
		}
		if in.Cols != 64+numeric || in.Rows != 2 {
			t.Fatalf("inputs %d×%d", in.Rows, in.Cols)
		}
		// The dense loader refuses a text model instead of misreading it.
		if _, _, err := Unseal(path, writer.SigningPublicKey(), writer); err == nil {
			t.Error("Unseal accepted a text model")
		}
	}
	// Load reads dense models too.
	d := newFixture(t)
	writer, _ := vault.GenerateIdentity()
	path := filepath.Join(t.TempDir(), "dense.age")
	if err := Seal(path, d.m, d.sc, d.tf, writer.SigningKey(), writer.Recipient()); err != nil {
		t.Fatal(err)
	}
	if l, err := Load(path, writer.SigningPublicKey(), writer); err != nil || l.Dense == nil {
		t.Fatalf("Load of a dense model: %v", err)
	}
}

func TestDecodeLoadedRejectsMismatches(t *testing.T) {
	f := newTextFixture(t, 2)
	w, _ := f.m.MarshalBinary()
	small, _ := text.New(text.Config{Buckets: 32, NGrams: 1, Norm: text.NormL2})
	noText := f.sc
	noText.Text = ""
	for name, p := range map[string]Payload{
		"no text transform": {Format: Format, Schema: f.sc, Transform: f.tf, Weights: w},
		"no text column":    {Format: Format, Schema: noText, Transform: f.tf, Weights: w, Text: f.tt},
		"no transform":      {Format: Format, Schema: f.sc, Weights: w, Text: f.tt},
		"buckets":           {Format: Format, Schema: f.sc, Transform: f.tf, Weights: w, Text: small},
		"dense weights":     {Format: Format, Schema: f.sc, Transform: f.tf, Weights: mustMarshal(t, newFixture(t).m), Text: f.tt},
	} {
		b, _ := json.Marshal(p)
		if _, err := DecodeLoaded(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func mustMarshal(t testing.TB, m *model.Model) []byte {
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzDecodeLoaded(f *testing.F) {
	seeds := 0
	for _, numeric := range []int{0, 2} {
		tf := newTextFixture(f, numeric)
		w, err := tf.m.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		b, err := json.Marshal(Payload{Format: Format, Schema: tf.sc, Transform: tf.tf, Weights: w, Text: tf.tt})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		seeds++
	}
	f.Add([]byte(`{"format":"fedcrypt-model/v1","schema":{"label":"y","classes":["0","1"],"text":"t"},"text":{"buckets":1,"ngrams":1,"norm":"l2"},"weights":"RkNTVw=="}`))
	if seeds == 0 {
		f.Fatal("empty seed corpus")
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		l, err := DecodeLoaded(payload)
		if err != nil || l.Sparse == nil {
			return
		}
		w, err := l.Sparse.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		again, err := json.Marshal(Payload{Format: l.Format, Schema: l.Schema, Transform: l.Transform, Weights: w, Text: l.Text})
		if err != nil {
			t.Fatal(err)
		}
		l2, err := DecodeLoaded(again)
		if err != nil {
			t.Fatalf("re-encoded model does not decode: %v", err)
		}
		if !slices.Equal(l2.Sparse.Params(), l.Sparse.Params()) {
			t.Fatal("parameters changed in the round trip")
		}
		// Scoring a row never panics once the model is accepted.
		var x *mat.Dense
		if n := len(l.Schema.Features); n > 0 {
			x = mat.NewDense(1, n, nil)
		}
		in, err := l.Inputs([]string{"a b c"}, x)
		if err != nil {
			t.Fatal(err)
		}
		l.Sparse.Predict(mat.NewDense(1, l.Sparse.Config().Outputs, nil), in)
	})
}
