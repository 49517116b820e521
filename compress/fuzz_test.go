package compress

import (
	"strings"
	"testing"
)

// FuzzParse: Parse never panics, refuses with one line, and what it accepts is valid and prints
// back to itself.
func FuzzParse(f *testing.F) {
	seeds := []string{"", "none", "randk:0.1", "srht:0.05:ef", "randk:1", "randk:x", "srht:", "topk:0.1", "randk:0.1:ef:ef", "srht:1e-300", "randk:0x1p-3"}
	for _, s := range seeds {
		f.Add(s)
	}
	if len(seeds) == 0 {
		f.Fatal("empty seed corpus")
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse(s)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("Parse(%q): a multi-line error %q", s, err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse(%q) = %+v, which is invalid: %v", s, c, err)
		}
		back, err := Parse(c.String())
		if err != nil || back != c {
			t.Fatalf("Parse(%q) = %+v; its String %q parses to %+v, %v", s, c, c.String(), back, err)
		}
	})
}
