package guides

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// ellipsis in a checked output's line stands for any text.
const ellipsis = "…"

// lines splits s into lines without their trailing spaces, leaving out
// blank lines at the end.
func lines(s string) []string {
	out := strings.Split(strings.TrimRight(s, " \t\n"), "\n")
	for i, l := range out {
		out[i] = strings.TrimRight(l, " \t\r")
	}
	return out
}

// match says where got, a block's output, differs from want, its checked
// output: the same lines, where an ellipsis in a line of want stands for
// any text.
func match(want, got string) error {
	w, g := lines(want), lines(got)
	for i := 0; i < len(w) || i < len(g); i++ {
		switch {
		case i >= len(g):
			return fmt.Errorf("output line %d: missing, want %q", i+1, w[i])
		case i >= len(w):
			return fmt.Errorf("output line %d: %q, want no more lines", i+1, g[i])
		case !lineMatches(w[i], g[i]):
			return fmt.Errorf("output line %d: %q, want %q", i+1, g[i], w[i])
		}
	}
	return nil
}

// lineMatches says whether got matches want, in which each ellipsis
// stands for any text.
func lineMatches(want, got string) bool {
	if !strings.Contains(want, ellipsis) {
		return want == got
	}
	parts := strings.Split(want, ellipsis)
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile("^" + strings.Join(parts, ".*") + "$").MatchString(got)
}

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		name, want, got, err string
	}{
		{name: "same", want: "a\nb\n", got: "a\nb\n"},
		{name: "trailing spaces and blank lines", want: "a\nb\n", got: "a  \nb\n\n\n"},
		{name: "ellipsis", want: "10 rounds in … s (all rounds completed)\n", got: "10 rounds in 0.5 s (all rounds completed)\n"},
		{name: "ellipsis at the end", want: "    1   0.3213 …\n", got: "    1   0.3213       333384    0.03\n"},
		{name: "changed", want: "accuracy 0.9561\n", got: "accuracy 0.9474\n", err: `output line 1: "accuracy 0.9474", want "accuracy 0.9561"`},
		{name: "ellipsis keeps the rest", want: "in … s (all)\n", got: "in 0.5 s (some)\n", err: "output line 1"},
		{name: "regexp characters are literal", want: "a.c (x)\n", got: "abc (x)\n", err: "output line 1"},
		{name: "a line more", want: "a\n", got: "a\nb\n", err: `output line 2: "b", want no more lines`},
		{name: "a line less", want: "a\nb\n", got: "a\n", err: `output line 2: missing, want "b"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, "match", match(tc.want, tc.got), tc.err)
		})
	}
}

// wantErr fails t unless err is nil, when want is "", or an error whose
// text holds want; what names the call.
func wantErr(t *testing.T, what string, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("%s: %v", what, err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Fatalf("%s: %v, want an error containing %q", what, err, want)
	}
}
