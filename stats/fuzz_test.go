package stats

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/text"
)

// FuzzDecode decodes arbitrary totals: a one-line error or a summary
// that survives a JSON round trip, whose transform, if any, is valid.
func FuzzDecode(f *testing.F) {
	l := clinicalLayout(f)
	exactTotals := sumEncoded(f, l, clinicalSites(2, 50, 1), nil, 0)
	f.Add(encodeFloats(exactTotals), 0.0)
	f.Add(encodeFloats(exactTotals), 25.0)
	f.Add(encodeFloats(make([]float64, l.Len())), 3.0)
	neg := make([]float64, l.Len())
	for i := range neg {
		neg[i] = -float64(i%5) * 1e15
	}
	f.Add(encodeFloats(neg), 1e300)
	f.Add(encodeFloats(exactTotals[:10]), 1.0)
	f.Add([]byte{1, 2, 3}, math.NaN())
	f.Fuzz(func(t *testing.T, b []byte, noise float64) {
		s := decodeFuzzed(t, l, b, noise)
		if s == nil {
			return
		}
		for _, imp := range []string{"mean", "median"} {
			if tf, _, err := s.Transform(imp, "zscore"); err == nil {
				if err := tf.Validate(); err != nil {
					t.Fatalf("invalid transform: %v", err)
				}
			}
		}
	})
}

// FuzzParseSpec checks that a parsed spec is valid, builds a layout or
// fails with one line, and survives a JSON round trip.
func FuzzParseSpec(f *testing.F) {
	f.Add([]byte(`{"features":[{"name":"chol","bounds":[100,400],"bins":6},{"name":"age","bounds":[18,90]},{"name":"bmi","edges":[15,20,25,30,40]}],"epsilon_share":0.5}`))
	f.Add([]byte(`{"features":[{"name":"chol","bounds":[1,0]}],"epsilon_share":0.5}`))
	f.Add([]byte(`{"quantities":["moments"],"epsilon_share":0.1,"max_rows_per_unit":3}`))
	f.Add([]byte(`{"features":[{"name":"ward","edges":[1e308,-1e308]}],"epsilon_share":0.9}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSpec(b)
		if err != nil {
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
		js, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseSpec(js)
		if err != nil {
			t.Fatal(err)
		}
		if again, _ := json.Marshal(back); string(again) != string(js) {
			t.Fatalf("round trip: %s became %s", js, again)
		}
		_, schema := testSpec()
		if l, err := NewLayout(s, schema); err == nil && !(l.Len() > 0 && l.Sensitivity() >= 1) {
			t.Fatalf("layout of length %d, sensitivity %v", l.Len(), l.Sensitivity())
		}
	})
}

// FuzzDecodeText decodes arbitrary totals of a layout with a text block:
// a one-line error, or a summary that survives a JSON round trip and whose
// IDF estimate [text.Transform.SetIDF] accepts, every weight in [1, ln(1+n)+1].
func FuzzDecodeText(f *testing.F) {
	schema := data.Schema{Features: []string{"age"}, Label: "y", Classes: []string{"0", "1"}, Text: "note"}
	cfg := text.Config{Buckets: 8, NGrams: 2, Seed: 1, IDF: true, Norm: text.NormL2}
	l, err := NewTextLayout(Spec{EpsilonShare: 0.2, MaxTermsPerDoc: 3, Features: []FeatureSpec{{Name: "age", Bounds: &[2]float64{0, 100}, Bins: 4}}}, schema, cfg)
	if err != nil {
		f.Fatal(err)
	}
	exact := make([]float64, l.Len())
	for i := range exact {
		exact[i] = float64(i % 7)
	}
	f.Add(encodeFloats(exact), 0.0)
	f.Add(encodeFloats(exact), 3.0)
	f.Add(encodeFloats(make([]float64, l.Len())), 1e6)
	f.Add(encodeFloats(exact[:5]), 1.0)
	f.Fuzz(func(t *testing.T, b []byte, noise float64) {
		s := decodeFuzzed(t, l, b, noise)
		if s == nil {
			return
		}
		df, n, _ := s.Text.IDF()
		tt, _ := text.New(cfg)
		if err := tt.SetIDF(df, n); err != nil {
			t.Fatalf("the estimate is refused: %v", err)
		}
		if err := tt.Validate(); err != nil {
			t.Fatal(err)
		}
		for j, w := range tt.IDF {
			if w < 1 || w > math.Log(1+n)+1+1e-12 {
				t.Fatalf("bucket %d: weight %v outside [1, ln(1+%v)+1]", j, w, n)
			}
		}
	})
}

// encodeFloats returns v as little-endian float64s, the fuzzers' input.
func encodeFloats(v []float64) []byte {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(x))
	}
	return b
}

// decodeFuzzed decodes b, little-endian float64s, as totals of l: nil
// after a one-line error, else a summary it checked survives a JSON round
// trip.
func decodeFuzzed(t *testing.T, l *Layout, b []byte, noise float64) *Summary {
	v := make([]float64, len(b)/8)
	for i := range v {
		v[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
	}
	s, err := l.Decode(v, noise)
	if err != nil {
		if strings.Contains(err.Error(), "\n") {
			t.Fatalf("multi-line error %q", err)
		}
		return nil
	}
	js, err := json.Marshal(s)
	if err != nil {
		t.Fatalf("summary does not encode: %v", err)
	}
	var back Summary
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, s) {
		t.Fatal("summary changed in a JSON round trip")
	}
	return s
}
