package project

import (
	"regexp"
	"strings"
	"testing"

	"github.com/fedcrypt/fedcrypt/model"
	"github.com/fedcrypt/fedcrypt/stats"
	"github.com/fedcrypt/fedcrypt/text"
)

// TestTextProject builds a federation on a free-text column from a project
// file: the schema and loading options name the column, the featurization
// takes the defaults (fewer buckets with DP) or the file's settings, and
// the model is a text model on the buckets and the numeric features.
func TestTextProject(t *testing.T) {
	for _, tc := range []struct {
		name, model, dp, features, text string
		want                            text.Config
		terms, inputs                   int
		kind                            string
	}{
		{"defaults with DP", "softmax", "", "[age]", "{column: note}",
			text.Config{Buckets: 1 << 10, NGrams: 1, Sublinear: true, IDF: true, Norm: text.NormL2}, stats.DefaultMaxTermsPerDoc, 1<<10 + 1, model.KindSparseLinear},
		{"defaults without DP", "softmax", "{enabled: false}", "[age]", "{column: note}",
			text.Config{Buckets: 1 << 18, NGrams: 1, Sublinear: true, IDF: true, Norm: text.NormL2}, stats.DefaultMaxTermsPerDoc, 1<<18 + 1, model.KindSparseLinear},
		{"set, embedding bag", "embag:8", "", "[age]", "{column: note, buckets: 64, ngrams: 2, hash_seed: 7, idf: false}",
			text.Config{Buckets: 64, NGrams: 2, Seed: 7, Sublinear: true, Norm: text.NormMean}, 0, 64 + 1, model.KindEmbeddingBag},
		{"text alone", "softmax", "", "[]", "{column: note, buckets: 64}",
			text.Config{Buckets: 64, NGrams: 1, Sublinear: true, IDF: true, Norm: text.NormL2}, stats.DefaultMaxTermsPerDoc, 64, model.KindSparseLinear},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.text = strings.Replace(f.text, "model: logreg", "model: "+tc.model, 1)
			if tc.dp != "" {
				f.text = strings.Replace(f.text, "dp: {epsilon: 1, delta: 1e-5, clip_norm: 1, sample_rate: 0.2}", "dp: "+tc.dp, 1)
			}
			f.text = strings.Replace(f.text, "features: [age, bmi, glucose]", "features: "+tc.features+"\n  text: "+tc.text, 1)
			p, err := f.load(t)
			if err != nil {
				t.Fatal(err)
			}
			fed, err := p.Build()
			if err != nil {
				t.Fatal(err)
			}
			d := fed.Data
			if d.Schema.Text != "note" || d.Options.Text != "note" || d.Text == nil || *d.Text != tc.want || d.Stats.MaxTermsPerDoc != tc.terms {
				t.Fatalf("data: schema text %q, options text %q, featurization %+v, max terms %d", d.Schema.Text, d.Options.Text, d.Text, d.Stats.MaxTermsPerDoc)
			}
			if sm := fed.SparseModel; sm == nil || sm.Inputs != tc.inputs || sm.Kind != tc.kind || sm.Outputs != 1 {
				t.Fatalf("sparse model %+v, want %s on %d inputs", sm, tc.kind, tc.inputs)
			}
		})
	}
}

// TestTextProjectErrors: a text block that cannot make a federation is an
// error naming the file, the line and the field.
func TestTextProjectErrors(t *testing.T) {
	for name, tc := range map[string]struct{ model, text, want string }{
		"no column":    {"softmax", "{buckets: 64}", `fed.yaml:\d+: data: text: column: name`},
		"dense model":  {"mlp:8", "{column: note}", `fed.yaml:\d+: model mlp:8: .*softmax or embag`},
		"buckets":      {"softmax", "{column: note, buckets: -1}", `fed.yaml:\d+: data: text: .*buckets -1`},
		"terms no idf": {"softmax", "{column: note, idf: false, max_terms_per_doc: 8}", `fed.yaml:\d+: data: text: max_terms_per_doc 8 with idf off`},
		"label":        {"softmax", "{column: y}", `fed.yaml:\d+: data: .*"y"`},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			f.text = strings.Replace(f.text, "model: logreg", "model: "+tc.model, 1)
			f.text = strings.Replace(f.text, "features: [age, bmi, glucose]", "features: [age]\n  text: "+tc.text, 1)
			p, err := f.load(t)
			if err == nil {
				_, err = p.Build()
			}
			if err == nil || !regexp.MustCompile(tc.want).MatchString(err.Error()) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %v, want one line matching %q", err, tc.want)
			}
		})
	}
}
