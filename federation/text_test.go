package federation

import (
	"bufio"
	"bytes"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedcrypt/fedcrypt/model"
	"github.com/fedcrypt/fedcrypt/stats"
	"github.com/fedcrypt/fedcrypt/text"
)

// textConfig returns a valid config of n members on a text column with
// IDF from the statistics phase and a softmax model on 256 buckets and one
// numeric feature, for 3 classes.
func textConfig(t testing.TB, n int) *Config {
	c, _ := testConfig(t, n, 2)
	c.Model = model.Config{}
	c.Data.Options.Text = "note"
	c.Data.Schema.Text = "note"
	c.Data.Schema.Features = []string{"a"}
	c.Data.Schema.Classes = []string{"x", "y", "z"}
	c.Data.Text = &text.Config{Buckets: 256, NGrams: 2, Seed: 7, Sublinear: true, IDF: true, Norm: text.NormL2}
	c.Data.Stats.MaxTermsPerDoc = stats.DefaultMaxTermsPerDoc
	c.SparseModel = &model.SparseConfig{Kind: model.KindSparseLinear, Inputs: 257, Outputs: 3, Loss: model.LossSoftmaxCE}
	if err := c.Validate(); err != nil {
		t.Fatalf("text config invalid: %v", err)
	}
	return c
}

// TestConfigsWithoutTextUnchanged reads configs written before the text
// section existed (by `fedcrypt init --members a,b,c` and the audit tests'
// runs) and checks that this code writes them back byte for byte and
// hashes them as they were hashed then (testdata/hashes.txt).
func TestConfigsWithoutTextUnchanged(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "hashes.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	files := 0
	for sc.Scan() {
		hash, name, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			t.Fatalf("hashes.txt: bad line %q", sc.Text())
		}
		files++
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			c, err := Parse(bytes.NewReader(raw), name)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Hash().String(); got != hash {
				t.Errorf("hash %s, written as %s", got, hash)
			}
			if !bytes.Equal(c.Marshal(), raw) {
				t.Errorf("the config marshals to other bytes than it was written as")
			}
			n, err := c.NumParams()
			if err != nil || n != c.Model.NumParams() {
				t.Errorf("NumParams = %d, %v; want the dense model's %d", n, err, c.Model.NumParams())
			}
		})
	}
	if files == 0 {
		t.Fatal("no config in testdata/hashes.txt")
	}
}

func TestTextConfig(t *testing.T) {
	c := textConfig(t, 3)
	b := c.Marshal()
	for _, want := range []string{`"sparse_model"`, `"text": {`, `"max_terms_per_doc": 32`} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("the JSON lacks %s", want)
		}
	}
	if bytes.Contains(b, []byte(`"model":`)) {
		t.Error("the JSON holds an empty dense model")
	}
	back, err := Parse(bytes.NewReader(b), "text.json")
	if err != nil {
		t.Fatal(err)
	}
	if back.Hash() != c.Hash() {
		t.Error("hash changed through Marshal and Parse")
	}
	n, err := c.NumParams()
	if want := 257*3 + 3; err != nil || n != want {
		t.Errorf("NumParams = %d, %v; want %d", n, err, want)
	}
	p, err := c.NewParams(mrand.New(mrand.NewPCG(1, 1)))
	if err != nil || len(p) != n {
		t.Errorf("NewParams: %d values, %v; want %d", len(p), err, n)
	}
	l, err := c.StatsLayout()
	if err != nil {
		t.Fatal(err)
	}
	if l.Buckets() != 256 {
		t.Errorf("the statistics carry %d document frequencies, want 256", l.Buckets())
	}
	// The statistics vector is part of the key's decryption budget.
	noText := textConfig(t, 3)
	noText.Data.Text.IDF, noText.Data.Stats.MaxTermsPerDoc = false, 0
	if err := noText.Validate(); err != nil {
		t.Fatal(err)
	}
	if nl, _ := noText.StatsLayout(); nl.Buckets() != 0 || nl.Len() != l.Len()-256 {
		t.Errorf("without IDF the statistics are %d long with %d buckets; with it %d", nl.Len(), nl.Buckets(), l.Len())
	}
}

func TestTextConfigRejects(t *testing.T) {
	for name, tc := range map[string]struct {
		mutate func(c *Config)
		want   string
	}{
		"both models": {func(c *Config) { c.Model = model.Config{Kind: "logreg", Inputs: 1, Outputs: 1, Loss: "bce"} }, "both model and sparse_model"},
		"no model":    {func(c *Config) { c.SparseModel = nil }, "the model must be a sparse_model"},
		"sparse without text": {func(c *Config) {
			c.Data.Text, c.Data.Schema.Text, c.Data.Options.Text, c.Data.Stats.MaxTermsPerDoc = nil, "", "", 0
		}, "sparse_model needs data.text"},
		"inputs":              {func(c *Config) { c.SparseModel.Inputs = 256 }, "sparse_model inputs 256: want 257"},
		"outputs":             {func(c *Config) { c.SparseModel.Outputs = 2 }, "sparse_model outputs 2: want 3 for 3 classes"},
		"bad sparse model":    {func(c *Config) { c.SparseModel.Kind = "transformer" }, "sparse_model: sparse model config: unknown kind"},
		"schema without text": {func(c *Config) { c.Data.Schema.Text = "" }, "data.text without a text column"},
		"text without config": {func(c *Config) {
			c.Data.Text = nil
			c.SparseModel = nil
			c.Model = model.Config{Kind: "softmax", Inputs: 1, Outputs: 3, Loss: "softmax-ce"}
		}, `data.schema.text "note" needs data.text`},
		"options text":    {func(c *Config) { c.Data.Options.Text = "abstract" }, `data.options.text "abstract" is not data.schema.text "note"`},
		"buckets":         {func(c *Config) { c.Data.Text.Buckets = 0 }, "data.text: text config: buckets 0"},
		"norm":            {func(c *Config) { c.Data.Text.Norm = "l3" }, `data.text: text config: norm "l3"`},
		"idf without cap": {func(c *Config) { c.Data.Stats.MaxTermsPerDoc = 0 }, "data.text idf needs data.stats.max_terms_per_doc"},
		"cap without idf": {func(c *Config) { c.Data.Text.IDF = false }, "max_terms_per_doc 32 with data.text idf off"},
		"cap without text": {func(c *Config) {
			c.Data.Text, c.Data.Schema.Text, c.Data.Options.Text, c.SparseModel = nil, "", "", nil
			c.Model = model.Config{Kind: "softmax", Inputs: 1, Outputs: 3, Loss: "softmax-ce"}
		}, "max_terms_per_doc 32 without a text column"},
		"cap too large": {func(c *Config) { c.Data.Stats.MaxTermsPerDoc = stats.MaxTermsPerDoc + 1 }, "max terms per doc 65537"},
	} {
		t.Run(name, func(t *testing.T) {
			c := textConfig(t, 3)
			tc.mutate(c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %v, want one line with %q", err, tc.want)
			}
		})
	}
}

// TestTextOnlySchema: a federation on a text column alone releases the
// row counts and document frequencies, and has no numeric transform.
func TestTextOnlySchema(t *testing.T) {
	c := textConfig(t, 3)
	c.Data.Schema.Features = nil
	c.Data.Stats.Features = nil
	c.SparseModel = &model.SparseConfig{Kind: model.KindEmbeddingBag, Inputs: 256, Dim: 8, Outputs: 3, Loss: model.LossSoftmaxCE}
	c.Data.Text.Norm = text.NormMean
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	l, err := c.StatsLayout()
	if err != nil {
		t.Fatal(err)
	}
	if l.Len() != 3+256 {
		t.Fatalf("layout of %d values, want 3 row counts and 256 frequencies", l.Len())
	}
	totals := make([]float64, l.Len())
	totals[0], totals[1], totals[2] = 40, 30, 30
	totals[3+5] = 100
	s, tf, _, err := c.StatsTransform(totals, 0)
	if err != nil || tf != nil {
		t.Fatalf("numeric transform %v, %v; want none", tf, err)
	}
	tt, note, err := c.TextTransform(s)
	if err != nil {
		t.Fatal(err)
	}
	// Exact totals: bucket 5 is in every document, every other in none.
	if tt.IDF[5] != 1 || tt.IDF[0] <= 5 || note != "" {
		t.Errorf("IDF weights %v and %v, note %q", tt.IDF[5], tt.IDF[0], note)
	}
}
