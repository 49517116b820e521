package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// docCommand is one fedcrypt command line of a user guide, with where it is.
type docCommand struct {
	where string
	args  []string
}

// docCommands reads the fedcrypt command lines of the shell blocks of a
// Markdown file: lines continued with a backslash are joined, comments and
// a trailing & dropped, and a command substitution ($(cat …)) or a
// placeholder stands for one argument.
func docCommands(t *testing.T, path string) []docCommand {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []docCommand
	in := false
	var line strings.Builder
	start := 0
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		text := sc.Text()
		switch {
		case strings.HasPrefix(text, "```"):
			in = !in && (text == "```sh" || text == "```bash")
			continue
		case !in:
			continue
		}
		if line.Len() == 0 {
			start = n
		}
		if cut, ok := strings.CutSuffix(strings.TrimRight(stripComment(text), " "), `\`); ok {
			line.WriteString(cut + " ")
			continue
		}
		line.WriteString(stripComment(text))
		args := shellWords(line.String())
		line.Reset()
		for _, prefix := range [][]string{{"go", "run", "./cmd/fedcrypt"}, {"./fedcrypt"}, {"fedcrypt"}} {
			if len(args) > len(prefix) && strings.Join(args[:len(prefix)], " ") == strings.Join(prefix, " ") {
				out = append(out, docCommand{where: filepath.Base(path) + ":" + strconv.Itoa(start), args: args[len(prefix):]})
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// stripComment drops a shell comment: a # at the start or after a space.
func stripComment(s string) string {
	if strings.HasPrefix(strings.TrimSpace(s), "#") {
		return ""
	}
	if i := strings.Index(s, " #"); i >= 0 {
		return s[:i]
	}
	return s
}

// shellWords splits a command line as the shell would for these guides:
// on spaces, with '…' and "…" quoting, $(…) kept as one word, and a
// trailing & dropped.
func shellWords(s string) []string {
	var words []string
	var w strings.Builder
	has, quote, depth := false, byte(0), 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				w.WriteByte(c)
			}
		case depth > 0:
			w.WriteByte(c)
			if c == '(' {
				depth++
			} else if c == ')' {
				depth--
			}
		case c == '\'' || c == '"':
			quote, has = c, true
		case c == '$' && i+1 < len(s) && s[i+1] == '(':
			w.WriteString("$(")
			i++
			depth, has = 1, true
		case c == ' ' || c == '\t':
			if has {
				words = append(words, w.String())
				w.Reset()
				has = false
			}
		default:
			w.WriteByte(c)
			has = true
		}
	}
	if has {
		words = append(words, w.String())
	}
	if n := len(words); n > 0 && words[n-1] == "&" {
		words = words[:n-1]
	}
	return words
}

// TestGuidesNameRealCommandsAndFlags checks every fedcrypt command line of
// the user guides (README.md, BENCHMARKS.md and the examples' READMEs)
// against the command table: the command exists, and every flag it gives
// is one of the command's, with a value of the flag's type. A renamed flag
// or command fails here before a user trips on it.
func TestGuidesNameRealCommandsAndFlags(t *testing.T) {
	t.Parallel()
	guides := []string{"../../README.md", "../../BENCHMARKS.md"}
	more, _ := filepath.Glob("../../examples/*/README.md")
	guides = append(guides, more...)
	table := commandTable()
	total := 0
	for _, g := range guides {
		for _, dc := range docCommands(t, g) {
			total++
			var c *command
			for _, cand := range table {
				name := strings.Fields(cand.name)
				if len(dc.args) >= len(name) && strings.Join(dc.args[:len(name)], " ") == cand.name && (c == nil || len(name) > len(strings.Fields(c.name))) {
					c = cand
				}
			}
			if c == nil {
				t.Errorf("%s: fedcrypt %s: no such command", dc.where, strings.Join(dc.args, " "))
				continue
			}
			args := dc.args[len(strings.Fields(c.name)):]
			if _, err := parseFlags(c.flags(), args); err != nil {
				t.Errorf("%s: fedcrypt %s: %v", dc.where, strings.Join(dc.args, " "), err)
			}
		}
	}
	t.Logf("%d fedcrypt command lines in %d guides", total, len(guides))
	if total < 30 {
		t.Fatalf("read %d fedcrypt command lines from the guides; the reader lost some", total)
	}
}

func TestShellWords(t *testing.T) {
	for in, want := range map[string]string{
		`a b  c`:                            "a|b|c",
		`x -r $(cat fed/a/recipient.txt) &`: "x|-r|$(cat fed/a/recipient.txt)",
		`p --label 'the class' "q r"`:       "p|--label|the class|q r",
	} {
		if got := strings.Join(shellWords(in), "|"); got != want {
			t.Errorf("shellWords(%q) = %q, want %q", in, got, want)
		}
	}
}
