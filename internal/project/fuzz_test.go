package project

import (
	"bytes"
	"testing"
)

// FuzzParse feeds arbitrary project files to the decoder and the builder:
// neither may panic, and what decodes either builds or fails with one line.
func FuzzParse(f *testing.F) {
	fx := newFixture(f)
	seeds := []string{fx.text, "version: 1\n", "members: [{id: a}, {id: a}]\n", "a: &x [*x]\n", "{}", "- 1\n"}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pf, err := Parse(bytes.NewReader(b), "fuzz.yaml")
		if err != nil {
			if bytes.Contains([]byte(err.Error()), []byte("\n")) {
				t.Fatalf("error is not one line: %q", err)
			}
			return
		}
		if _, err := pf.Build(); err != nil && bytes.Contains([]byte(err.Error()), []byte("\n")) {
			t.Fatalf("error is not one line: %q", err)
		}
	})
}
