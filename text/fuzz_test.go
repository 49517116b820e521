package text

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// FuzzTransformJSON decodes transforms: a decoded transform is valid, encodes back to one that
// decodes to the same value, and featurizes a document without error.
func FuzzTransformJSON(f *testing.F) {
	seeds := 0
	for _, c := range []Config{
		{Buckets: 8, NGrams: 2, Seed: 3, Sublinear: true, IDF: true, Norm: NormL2},
		{Buckets: 1 << 18, NGrams: 1, Norm: NormMean},
		{Buckets: 1, NGrams: 1, Norm: NormNone},
	} {
		tr, err := New(c)
		if err != nil {
			f.Fatal(err)
		}
		if c.IDF {
			if err := tr.SetIDF([]float64{0, 1, 2, 3, 4, 5, 6, 7}, 9); err != nil {
				f.Fatal(err)
			}
		}
		b, err := json.Marshal(tr)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		seeds++
	}
	f.Add([]byte(`{"buckets":2,"ngrams":1,"idf":true,"norm":"l2","idf_weights":[1,1e308]}`))
	if seeds == 0 {
		f.Fatal("empty seed corpus")
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var tr Transform
		if err := json.Unmarshal(b, &tr); err != nil {
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("error spans lines: %q", err)
			}
			return
		}
		if err := tr.Validate(); err != nil {
			t.Fatalf("decoded an invalid transform: %v", err)
		}
		out, err := json.Marshal(&tr)
		if err != nil {
			t.Fatal(err)
		}
		var back Transform
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("re-encoded transform does not decode: %v", err)
		}
		if back.Config != tr.Config || !slices.Equal(back.IDF, tr.IDF) {
			t.Fatal("round trip changed the transform")
		}
		x, err := tr.Apply([]string{"Lung tumor, 3 cm; lung.", ""})
		if err != nil {
			t.Fatal(err)
		}
		if err := x.Validate(); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzTokens checks the tokenizer on any input: it never panics, rejects exactly the invalid
// UTF-8, and gives non-empty NFC tokens without spaces, punctuation or upper-case letters, and
// with no digit other than "0".
func FuzzTokens(f *testing.F) {
	for _, s := range []string{"Ménière's disease, 3.5 mg", "肺癌の治療 위암", "", "\xff", "ＣＴ ﬁ ²", "a\u0301\u0301b", "1,2,3.4.5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		toks, ok := Tokens(s)
		if ok != utf8.ValidString(s) {
			t.Fatalf("ok %v for a string whose validity is %v", ok, utf8.ValidString(s))
		}
		for _, tok := range toks {
			if tok == "" || !norm.NFC.IsNormalString(tok) {
				t.Fatalf("token %q is empty or not NFC", tok)
			}
			for _, r := range tok {
				switch {
				case unicode.IsSpace(r) || unicode.IsPunct(r):
					t.Fatalf("token %q holds %q", tok, r)
				case unicode.IsDigit(r) && r != '0':
					t.Fatalf("token %q holds the digit %q", tok, r)
				case unicode.IsUpper(r) && unicode.ToLower(r) != r:
					t.Fatalf("token %q holds the upper-case %q", tok, r)
				}
			}
		}
	})
}
