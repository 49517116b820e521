package stats

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/text"
)

// textWords is a small vocabulary, so that documents repeat words.
var textWords = strings.Fields("tumor lung colon heart pain ecg normal chest resected biopsy stroke brain renal liver fever cough mass lesion acute chronic")

// withText gives d a text column of random documents: 0 to 39 words of
// textWords, so with repeated words, and (over few buckets) collisions.
func withText(d *data.Dataset, rng *rand.Rand) {
	d.TextColumn = "note"
	d.Text = make([]string, d.Rows())
	for i := range d.Text {
		w := make([]string, rng.IntN(40))
		for k := range w {
			w[k] = textWords[rng.IntN(len(textWords))]
		}
		d.Text[i] = strings.Join(w, " ")
	}
}

func TestTextLayoutByHand(t *testing.T) {
	schema := data.Schema{Label: "y", Classes: []string{"0", "1"}, Text: "note"}
	cfg := text.Config{Buckets: 16, NGrams: 1, Seed: 3, Norm: text.NormL2}
	spec := Spec{EpsilonShare: 0.1, MaxTermsPerDoc: 2}
	l, err := NewTextLayout(spec, schema, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if l.Len() != 2+16 || l.Buckets() != 16 {
		t.Fatalf("length %d, buckets %d; want 2 row counts and 16 frequencies", l.Len(), l.Buckets())
	}
	docs := []string{"tumor tumor tumor lung colon", "lung", "", "heart heart lung"}
	d := &data.Dataset{Name: "h", Classes: schema.Classes, Label: "y", Y: []float64{1, 0, 1, 1}, TextColumn: "note", Text: docs}
	v, _, err := l.Encode(d)
	if err != nil {
		t.Fatal(err)
	}
	tt, _ := text.New(cfg)
	counts, _ := tt.Counts(docs)
	want := append([]float64{1, 3}, text.DocumentFrequencies(counts, 2)...)
	if !slices.Equal(v, want) {
		t.Errorf("vector\n%v, want\n%v", v, want)
	}
	// "tumor" (3 times) is kept over whichever of lung and colon comes second.
	if v[2+cfg.Hash("tumor", "")] != 1 || v[2+cfg.Hash("lung", "")] < 2 {
		t.Errorf("tumor in %v documents, lung in %v", v[2+cfg.Hash("tumor", "")], v[2+cfg.Hash("lung", "")])
	}
	if got := l.Sensitivity(); got != math.Sqrt(3) {
		t.Errorf("sensitivity %v, want √(1 + 2)", got)
	}
	d.TextColumn = "other"
	if _, _, err := l.Encode(d); err == nil || !strings.Contains(err.Error(), `text column "other"`) {
		t.Errorf("another text column: %v", err)
	}
}

// TestTextSensitivityBruteForce checks the stated sensitivity with a text
// block against every neighbour of random data sets with numeric features
// and documents (repeated words; over 8 buckets, collisions): no removal
// moves the vector further, and removing a worst-case row (a unit of k of
// them) moves it exactly that far.
func TestTextSensitivityBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	long := strings.Join(textWords, " ") + " " + strings.Join(textWords, " ")
	for _, tc := range []struct {
		name           string
		buckets, ngram int
		cap, k         int
	}{
		{"records, cap 5 of 64 buckets", 64, 2, 5, 0},
		{"records, cap 12 of 8 buckets", 8, 1, 12, 0},
		{"units of 3, cap 4 of 8 buckets", 8, 2, 4, 3},
		{"units of 2, cap 30 of 256 buckets", 256, 2, 30, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec, schema := testSpec()
			spec.MaxRowsPerUnit, spec.MaxTermsPerDoc = tc.k, tc.cap
			if tc.k > 0 {
				schema.PrivacyUnit = "patient"
			}
			schema.Text = "note"
			cfg := text.Config{Buckets: tc.buckets, NGrams: tc.ngram, Seed: 11, Norm: text.NormL2}
			l, err := NewTextLayout(spec, schema, cfg)
			if err != nil {
				t.Fatal(err)
			}
			delta := l.Sensitivity()
			num, _ := NewLayout(Spec{EpsilonShare: spec.EpsilonShare, Features: spec.Features, MaxRowsPerUnit: tc.k}, data.Schema{Features: schema.Features, Label: "y", Classes: schema.Classes, PrivacyUnit: schema.PrivacyUnit})
			terms := float64(min(tc.cap, tc.buckets))
			if want := float64(max(tc.k, 1)) * math.Sqrt(math.Pow(num.Sensitivity()/float64(max(tc.k, 1)), 2)+terms); math.Abs(delta-want) > 1e-12*want {
				t.Fatalf("sensitivity %v, want k·√(Δ₁² + %v) = %v", delta, terms, want)
			}
			for trial := range 20 {
				d := randomData(schema, 5+rng.IntN(20), tc.k+2, rng)
				withText(d, rng)
				if got := bruteSensitivity(t, l, d); got > delta*(1+1e-12) {
					t.Fatalf("trial %d: a removal moves the vector by %v > sensitivity %v", trial, got, delta)
				}
			}
			d := randomData(schema, 12, tc.k+2, rng)
			withText(d, rng)
			rows := max(tc.k, 1) + 2
			for i := range rows {
				d.X.SetRow(i, []float64{400, 18, 33, 7})
				d.Y[i] = 2
				d.Text[i] = long // more distinct n-grams than the cap, each twice
				if d.Units != nil {
					d.Units[i] = -1
				}
			}
			if d.Units != nil {
				densify(d)
			}
			if got := bruteSensitivity(t, l, d); math.Abs(got-delta) > 1e-9*delta {
				t.Errorf("worst-case removal moves the vector by %v, stated sensitivity %v (ratio %.6f)", got, delta, got/delta)
			}
		})
	}
}

func TestTextLayoutRejects(t *testing.T) {
	cfg := text.Config{Buckets: 16, NGrams: 1, Norm: text.NormL2}
	schema := data.Schema{Label: "y", Classes: []string{"0", "1"}, Text: "note"}
	for _, tc := range []struct {
		name   string
		spec   Spec
		schema data.Schema
		cfg    text.Config
		want   string
	}{
		{"no cap", Spec{EpsilonShare: 0.1}, schema, cfg, "needs max terms per doc ≥ 1"},
		{"no text column", Spec{EpsilonShare: 0.1, MaxTermsPerDoc: 4}, data.Schema{Features: []string{"a"}, Label: "y", Classes: []string{"0", "1"}}, cfg, "needs a text column"},
		{"bad featurization", Spec{EpsilonShare: 0.1, MaxTermsPerDoc: 4}, schema, text.Config{Buckets: 16, NGrams: 3, Norm: text.NormL2}, "ngrams 3"},
		{"cap too large", Spec{EpsilonShare: 0.1, MaxTermsPerDoc: MaxTermsPerDoc + 1}, schema, cfg, "max terms per doc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewTextLayout(tc.spec, tc.schema, tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := NewLayout(Spec{EpsilonShare: 0.1, MaxTermsPerDoc: 4}, schema); err == nil || !strings.Contains(err.Error(), "without a text block") {
		t.Errorf("a cap without a text block: %v", err)
	}
}

// TestTextIDF decodes the text block and estimates IDF: exactly with
// exact totals, floored at the noise, and no IDF when the noise is as
// large as the documents.
func TestTextIDF(t *testing.T) {
	schema := data.Schema{Label: "y", Classes: []string{"0", "1"}, Text: "note"}
	cfg := text.Config{Buckets: 4, NGrams: 1, IDF: true, Norm: text.NormL2}
	l, err := NewTextLayout(Spec{EpsilonShare: 0.1, MaxTermsPerDoc: 2}, schema, cfg)
	if err != nil {
		t.Fatal(err)
	}
	totals := []float64{60, 40, 100, 50, 3, -2}
	for _, tc := range []struct {
		noise  float64
		wantDF []float64
		note   string
	}{
		{0, []float64{100, 50, 3, 0}, ""},
		{2, []float64{100, 50, 4, 4}, "2 of 4 buckets' document frequencies are below the noise (2σ = 4)"},
		{60, []float64{100, 100, 100, 100}, "every IDF weight is 1"},
	} {
		s, err := l.Decode(totals, tc.noise)
		if err != nil {
			t.Fatal(err)
		}
		df, n, note := s.Text.IDF()
		if n != 100 || !slices.Equal(df, tc.wantDF) || !strings.Contains(note, tc.note) || (tc.note == "") != (note == "") {
			t.Errorf("noise %v: df %v over %v, note %q; want %v over 100, %q", tc.noise, df, n, note, tc.wantDF, tc.note)
		}
		if s.Text.NoiseStdDev != tc.noise || s.Text.MaxTermsPerDoc != 2 {
			t.Errorf("noise %v: summary %+v", tc.noise, s.Text)
		}
		tt, _ := text.New(cfg)
		if err := tt.SetIDF(df, n); err != nil {
			t.Fatal(err)
		}
		if tc.noise == 60 && slices.ContainsFunc(tt.IDF, func(w float64) bool { return w != 1 }) {
			t.Errorf("noise as large as the documents: weights %v, want 1", tt.IDF)
		}
	}
}
