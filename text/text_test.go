package text

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fedcrypt/fedcrypt/model"
)

func TestTokens(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		{"words and case", "Oncocytic Glomus TUMOR of the trachea.", []string{"oncocytic", "glomus", "tumor", "of", "the", "trachea"}},
		{"empty", "", nil},
		{"only punctuation", " -- ... !? ", nil},
		// Accents on Latin letters are dropped, composed or decomposed alike.
		{"accents composed", "Ménière's café", []string{"meniere", "s", "cafe"}},
		{"accents decomposed", "Me\u0301nie\u0300re's cafe\u0301", []string{"meniere", "s", "cafe"}},
		{"german", "Größe SJÖGREN", []string{"große", "sjogren"}},
		{"greek and cyrillic", "Άλφα Привет Ёж", []string{"αλφα", "привет", "еж"}},
		{"ligature and full width", "ﬁbrosis ＣＴ", []string{"fibrosis", "ct"}},
		// Every digit run, with its decimal points and separators, is one "0".
		{"numbers", "47-year-old, 3.5 mg, 1,000 cases in 1990s; p53 IL-6 x2.", []string{"0", "year", "old", "0", "mg", "0", "cases", "in", "0s", "p0", "il", "0", "x0"}},
		{"sentence end after number", "aged 12. Then", []string{"aged", "0", "then"}},
		{"superscript", "10² m²", []string{"0", "m0"}},
		// Each Han, Hiragana or Katakana character is a token; Hangul words are runs.
		{"cjk", "肺癌の治療 and 위암 검사", []string{"肺", "癌", "の", "治", "療", "and", "위암", "검사"}},
		{"devanagari keeps its marks", "कैंसर रोग", []string{"कैंसर", "रोग"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Tokens(tc.in)
			if !ok || !slices.Equal(got, tc.want) {
				t.Errorf("Tokens(%q) = %q, %v; want %q", tc.in, got, ok, tc.want)
			}
		})
	}
	if _, ok := Tokens("ab\xffcd"); ok {
		t.Error("invalid UTF-8 accepted")
	}
}

func testConfig() Config {
	return Config{Buckets: 1 << 12, NGrams: 2, Seed: 7, Sublinear: true, Norm: NormL2}
}

func TestCountsMergesRepeatsAndCollisions(t *testing.T) {
	tr, err := New(Config{Buckets: 3, NGrams: 2, Seed: 1, Norm: NormNone})
	if err != nil {
		t.Fatal(err)
	}
	docs := []string{"the cat saw the cat the end", ""}
	x, err := tr.Counts(docs)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Validate(); err != nil {
		t.Fatal(err)
	}
	// 7 unigrams and 6 bigrams fall into 3 buckets: at most 3 entries, summing to 13.
	idx, val := x.Row(0)
	total := 0.0
	for _, v := range val {
		total += v
	}
	if len(idx) > 3 || total != 13 {
		t.Errorf("row 0 has entries %v %v; want at most 3 summing to 13", idx, val)
	}
	// Each count is the number of n-grams hashing to that bucket, computed independently.
	want := map[int]float64{}
	toks, _ := Tokens(docs[0])
	for k, tok := range toks {
		want[tr.Hash(tok, "")]++
		if k > 0 {
			want[tr.Hash(toks[k-1], tok)]++
		}
	}
	for k, j := range idx {
		if val[k] != want[j] {
			t.Errorf("bucket %d: count %v, want %v", j, val[k], want[j])
		}
	}
	if i, _ := x.Row(1); len(i) != 0 {
		t.Errorf("the empty document has %d entries", len(i))
	}
	_, err = tr.Counts([]string{"ok", "bad \xff"})
	if err == nil || err.Error() != "text: document 1 is not valid UTF-8" {
		t.Errorf("error %v, want one naming document 1", err)
	}
}

func TestHashIsFixed(t *testing.T) {
	c := testConfig()
	// Published FNV-1a 64 test vector: fnv1a64("a") = 0xaf63dc4c8601ec8c.
	if got := fnv(fnvOffset, []byte("a")); got != 0xaf63dc4c8601ec8c {
		t.Fatalf("fnv1a64(a) = %#x", got)
	}
	a, b := c.Hash("tumor", ""), c.Hash("tumor", "")
	if a != b || a < 0 || a >= c.Buckets {
		t.Errorf("Hash not deterministic or out of range: %d, %d", a, b)
	}
	c2 := c
	c2.Seed++
	same := 0
	for k := range 200 {
		w := fmt.Sprintf("w%d", k)
		if c.Hash(w, "") == c2.Hash(w, "") {
			same++
		}
	}
	if same > 10 {
		t.Errorf("%d of 200 tokens hash to the same bucket under another seed", same)
	}
	if c.Hash("a", "b") == c.Hash("a b", "") && c.Hash("ab", "") == c.Hash("a", "b") {
		t.Error("bigram hash does not separate its tokens")
	}
}

func TestWeight(t *testing.T) {
	docs := []string{"lung tumor tumor tumor", "heart", "", "lung heart"}
	for _, c := range []Config{
		{Buckets: 64, NGrams: 1, Seed: 3, Norm: NormL2},
		{Buckets: 64, NGrams: 1, Seed: 3, Sublinear: true, IDF: true, Norm: NormL2},
		{Buckets: 64, NGrams: 2, Seed: 3, Sublinear: true, Norm: NormMean},
	} {
		t.Run(fmt.Sprintf("%+v", c), func(t *testing.T) {
			tr, err := New(c)
			if err != nil {
				t.Fatal(err)
			}
			counts, err := tr.Counts(docs)
			if err != nil {
				t.Fatal(err)
			}
			if c.IDF {
				if err := tr.Weight(counts); err == nil {
					t.Fatal("Weight without IDF weights set succeeded")
				}
				if err := tr.FitIDF(counts); err != nil {
					t.Fatal(err)
				}
				// "lung" is in 2 of 4 documents: ln(5/3)+1; "tumor" in 1: ln(5/2)+1.
				if got, want := tr.IDF[tr.Hash("tumor", "")], math.Log(2.5)+1; math.Abs(got-want) > 1e-15 {
					t.Errorf("idf(tumor) = %v, want %v", got, want)
				}
			}
			x, err := tr.Apply(docs)
			if err != nil {
				t.Fatal(err)
			}
			for i := range x.Rows {
				idx, val := x.Row(i)
				s := 0.0
				for _, v := range val {
					if c.Norm == NormL2 {
						s += v * v
					} else {
						s += v
					}
				}
				if want := 1.0; len(idx) > 0 && math.Abs(s-want) > 1e-12 {
					t.Errorf("row %d: norm %v, want 1", i, s)
				}
			}
			// Row 0: tumor ×3 against lung ×1, before normalization.
			idx, val := x.Row(0)
			ratio := val[slices.Index(idx, tr.Hash("tumor", ""))] / val[slices.Index(idx, tr.Hash("lung", ""))]
			want := 3.0
			if c.Sublinear {
				want = 1 + math.Log(3)
			}
			if c.IDF {
				want *= tr.IDF[tr.Hash("tumor", "")] / tr.IDF[tr.Hash("lung", "")]
			}
			if math.Abs(ratio-want) > 1e-12 {
				t.Errorf("tumor/lung weight %v, want %v", ratio, want)
			}
		})
	}
}

func TestSetIDFClampsNoisyFrequencies(t *testing.T) {
	tr, _ := New(Config{Buckets: 3, NGrams: 1, IDF: true, Norm: NormL2})
	if err := tr.SetIDF([]float64{-4, 50, 5}, 10); err != nil {
		t.Fatal(err)
	}
	want := []float64{math.Log(11) + 1, 1, math.Log(11.0/6) + 1}
	for j := range want {
		if math.Abs(tr.IDF[j]-want[j]) > 1e-15 {
			t.Errorf("idf[%d] = %v, want %v", j, tr.IDF[j], want[j])
		}
	}
	for _, tc := range []struct {
		df   []float64
		n    float64
		want string
	}{
		{[]float64{1, 2}, 10, "2 document frequencies for 3 buckets"},
		{[]float64{1, 2, math.NaN()}, 10, "bucket 2 is not finite"},
		{[]float64{1, 2, 3}, 0, "document count 0"},
	} {
		if err := tr.SetIDF(tc.df, tc.n); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("SetIDF(%v, %v): %v, want %q", tc.df, tc.n, err, tc.want)
		}
	}
}

// TestLargeCellLinear featurizes a 256 KiB document and one of 4 MiB, 16 times longer: the time
// must grow about linearly (quadratic work would take 256 times longer; sorting the hashed
// n-grams adds a logarithmic factor). Best of three, against the load of a shared machine.
func TestLargeCellLinear(t *testing.T) {
	tr, _ := New(testConfig())
	unit := "Ménière disease, 12.5 mg 肺癌 and p53 mutations; "
	run := func(size int) time.Duration {
		doc := strings.Repeat(unit, size/len(unit))
		best := time.Duration(math.MaxInt64)
		for range 3 {
			start := time.Now()
			x, err := tr.Apply([]string{doc})
			if err != nil {
				t.Fatal(err)
			}
			if x.NNZ() == 0 {
				t.Fatal("no features")
			}
			best = min(best, time.Since(start))
		}
		return best
	}
	small, large := run(1<<18), run(4<<20)
	t.Logf("256 KiB: %v, 4 MiB: %v", small, large)
	if large > 48*small {
		t.Errorf("4 MiB took %v, 256 KiB %v: not linear", large, small)
	}
}

func TestTransformJSON(t *testing.T) {
	tr, _ := New(Config{Buckets: 4, NGrams: 2, Seed: 9, IDF: true, Norm: NormL2})
	if err := tr.SetIDF([]float64{1, 2, 3, 0}, 4); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	var back Transform
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Config != tr.Config || !slices.Equal(back.IDF, tr.IDF) {
		t.Errorf("round trip changed the transform: %+v", back)
	}
	for _, tc := range []struct{ name, in, want string }{
		{"idf length", `{"buckets":4,"ngrams":1,"seed":0,"sublinear":false,"idf":true,"norm":"l2","idf_weights":[1]}`, "1 IDF weights for 4 buckets"},
		{"unknown field", `{"buckets":4,"ngrams":1,"norm":"l2","vocab":[]}`, "unknown field"},
		{"ngrams", `{"buckets":4,"ngrams":3,"norm":"l2"}`, "ngrams 3"},
		{"bad weight", `{"buckets":1,"ngrams":1,"idf":true,"norm":"l2","idf_weights":[0]}`, "not a number in (0, 1e+06]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tt Transform
			if err := json.Unmarshal([]byte(tc.in), &tt); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestDocumentFrequenciesCapped(t *testing.T) {
	x := model.NewCSR(6)
	for _, row := range []struct {
		idx []int
		val []float64
	}{
		{[]int{0, 1, 2, 3}, []float64{1, 5, 2, 2}}, // capped at 2: bucket 1 (5), then 2 (2, before 3)
		{[]int{4}, []float64{1}},
		{nil, nil},
		{[]int{1, 5}, []float64{1, 1}},
	} {
		if err := x.AppendRow(row.idx, row.val); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := DocumentFrequencies(x, 0), []float64{1, 2, 1, 1, 1, 1}; !slices.Equal(got, want) {
		t.Errorf("uncapped %v, want %v", got, want)
	}
	if got, want := DocumentFrequencies(x, 2), []float64{0, 2, 1, 0, 1, 1}; !slices.Equal(got, want) {
		t.Errorf("capped at 2: %v, want %v", got, want)
	}
	// Removing any one document moves the capped vector by at most 1 in at most 2 buckets.
	full := DocumentFrequencies(x, 2)
	for drop := range x.Rows {
		var rows []int
		for i := range x.Rows {
			if i != drop {
				rows = append(rows, i)
			}
		}
		diff := 0
		for j, v := range DocumentFrequencies(x.SelectRows(rows), 2) {
			if d := full[j] - v; d != 0 {
				if d != 1 {
					t.Fatalf("dropping document %d moves bucket %d by %v", drop, j, d)
				}
				diff++
			}
		}
		if diff > 2 {
			t.Errorf("dropping document %d moves %d buckets", drop, diff)
		}
	}
}
