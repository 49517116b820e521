package guides

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// block is a shell block of a guide, with how the tests treat it.
type block struct {
	at   string // guide:line of the opening fence
	body string
	// skip is the reason a marker gives for not running the block, and
	// instead what CI runs in its place (empty: nothing).
	skip, instead string
	// output is the block's checked output, when a "text output" fence
	// follows it.
	output *string
}

// runs says whether the tests run the block or its replacement.
func (b *block) runs() bool { return b.skip == "" || b.instead != "" }

// script is what runs for the block: its body, or the marker's
// replacement.
func (b *block) script() string {
	if b.skip != "" {
		return b.instead
	}
	return b.body
}

const (
	markerOpen = "<!-- not run in CI"
	insteadSep = "; CI runs instead:"
)

var (
	fenceLine = regexp.MustCompile("^ {0,3}(```+|~~~+)(.*)$")
	listItem  = regexp.MustCompile(`^ {0,3}([-*+]|\d+[.)])( |$)`)
)

// parse reads the shell blocks of the guide src, named name, with their
// markers and checked outputs. It fails, naming every line at fault, on a
// fence without an info string, on indented code, on a marker without a
// reason or without a shell block after it, and on a checked output that
// follows no block that runs as written.
func parse(name string, src []byte) ([]*block, error) {
	var (
		blocks []*block
		errs   []error
		// fence is the open fence's marker, info its info string and
		// start its line; body collects its lines.
		fence, info string
		start       int
		body        strings.Builder
		// comment collects an HTML comment still open; pending is a
		// marker waiting for its block, at line pendingAt.
		comment            *strings.Builder
		pending            string
		pendingAt          int
		last               *block // the shell block just closed, until other text
		prevBlank, inList  bool
		commentAt, lineNum int
	)
	fail := func(n int, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s:%d: %s", name, n, fmt.Sprintf(format, args...)))
	}
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lineNum++
		n, line := lineNum, sc.Text()
		if fence != "" {
			if m := fenceLine.FindStringSubmatch(line); m != nil && strings.TrimSpace(m[2]) == "" && m[1][0] == fence[0] && len(m[1]) >= len(fence) {
				text := body.String()
				switch info {
				case "sh", "bash":
					b := &block{at: fmt.Sprintf("%s:%d", name, start), body: text}
					if pending != "" {
						b.skip, b.instead = pending, ""
						if r, cmds, ok := strings.Cut(pending, insteadSep); ok {
							b.skip, b.instead = strings.TrimSpace(r), strings.TrimSpace(cmds)+"\n"
							if b.skip == "" || b.instead == "\n" {
								fail(pendingAt, "marker: a reason and the commands CI runs instead, each non-empty")
							}
						}
						pending = ""
					}
					blocks, last = append(blocks, b), b
				case "text output":
					switch {
					case last == nil:
						fail(start, "a checked output (text output) must follow a shell block")
					case last.skip != "":
						fail(start, "a checked output follows %s, which CI does not run as written", last.at)
					case last.output != nil:
						fail(start, "%s has a checked output already", last.at)
					default:
						last.output = &text
					}
					last = nil
				default:
					last = nil
				}
				fence, body = "", strings.Builder{}
				prevBlank = false
				continue
			}
			body.WriteString(line + "\n")
			continue
		}
		if comment != nil {
			comment.WriteString("\n" + line)
			if strings.Contains(line, "-->") {
				pending, pendingAt = closeComment(comment.String(), commentAt, fail)
				comment = nil
			}
			continue
		}
		blank := strings.TrimSpace(line) == ""
		switch {
		case blank:
			prevBlank = true
			continue
		case pending != "" && !strings.HasPrefix(strings.TrimSpace(line), "```"):
			fail(pendingAt, "a marker (%s …) must come right before a shell block", markerOpen)
			pending = ""
		}
		if m := fenceLine.FindStringSubmatch(line); m != nil {
			fence, info, start = m[1], strings.TrimSpace(m[2]), n
			if info == "" {
				fail(n, "a fence without an info string: sh or bash (CI runs it), text output (checked output) or text")
			}
			if pending != "" && info != "sh" && info != "bash" {
				fail(pendingAt, "a marker (%s …) must come right before a shell block", markerOpen)
				pending = ""
			}
			continue
		}
		last = nil
		indented := strings.HasPrefix(line, "    ") || strings.HasPrefix(line, "\t")
		switch {
		case strings.HasPrefix(strings.TrimSpace(line), "<!--"):
			commentAt = n
			if strings.Contains(line, "-->") {
				pending, pendingAt = closeComment(line, n, fail)
			} else {
				comment = &strings.Builder{}
				comment.WriteString(line)
			}
		case indented && prevBlank && !inList:
			fail(n, "indented code: fence it, with sh or bash (CI runs it) or text")
		case listItem.MatchString(line):
			inList = true
		case !indented && prevBlank:
			inList = false
		}
		prevBlank = false
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if fence != "" {
		fail(start, "a fence that is never closed")
	}
	if pending != "" {
		fail(pendingAt, "a marker (%s …) must come right before a shell block", markerOpen)
	}
	return blocks, errors.Join(errs...)
}

// closeComment returns the marker a complete HTML comment c, starting on
// line n, holds: its text after "not run in CI:", or "" when it is not a
// marker.
func closeComment(c string, n int, fail func(int, string, ...any)) (string, int) {
	c = strings.TrimSpace(c)
	if !strings.HasPrefix(c, markerOpen) {
		return "", 0
	}
	rest, ok := strings.CutPrefix(c, markerOpen+":")
	reason := strings.TrimSpace(strings.TrimSuffix(rest, "-->"))
	if !ok || !strings.HasSuffix(c, "-->") || reason == "" {
		fail(n, "marker: want %s: REASON -->", markerOpen)
		return "", 0
	}
	return reason, n
}

// root is the repository's top directory.
func root(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// guides lists the repository's Markdown files below root, relative to it:
// the user guides. Test data, other modules' vendored packages and
// dot-directories are left out.
func guides(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(d.Name(), ".md") {
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// readGuide parses the guide rel of root.
func readGuide(t *testing.T, root, rel string) []*block {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := parse(rel, src)
	if err != nil {
		t.Error(err)
	}
	return blocks
}

// TestGuidesAreWellFormed checks, quickly, that every guide follows the
// rules the run relies on (see the package comment), and that the README
// has blocks that run and outputs that are checked: a reader that lost
// them would pass every guide.
func TestGuidesAreWellFormed(t *testing.T) {
	dir := root(t)
	list := guides(t, dir)
	var runs, skipped, checked, readme, readmeChecked int
	for _, g := range list {
		for _, b := range readGuide(t, dir, g) {
			switch {
			case b.skip == "":
				runs++
			case b.instead != "":
				runs++
				skipped++
			default:
				skipped++
			}
			if b.output != nil {
				checked++
			}
			if g == "README.md" && b.skip == "" {
				readme++
			}
			if g == "README.md" && b.output != nil {
				readmeChecked++
			}
		}
	}
	t.Logf("%d guides: %d shell blocks run, %d marked not run in CI (some of them replaced), %d outputs checked", len(list), runs, skipped, checked)
	if readme < 10 || readmeChecked < 2 {
		t.Errorf("README.md: %d shell blocks that run as written and %d checked outputs; the reader lost some", readme, readmeChecked)
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      string // each block: at, skip|instead, output; "" when parse fails
		err       string
	}{
		{
			name: "blocks in order with an output",
			src:  "# G\n\n```sh\necho a\n```\n\n```text output\na\n```\n\ntext\n\n```bash\necho b\n```\n",
			want: "g.md:3 run [echo a] out [a]\ng.md:13 run [echo b]\n",
		},
		{
			name: "not run",
			src:  "<!-- not run in CI: needs a cluster -->\n```sh\nkubectl apply\n```\n",
			want: "g.md:2 skip(needs a cluster) [kubectl apply]\n",
		},
		{
			name: "replaced",
			src:  "<!-- not run in CI: a minute; CI runs instead:\nbench --quick\n-->\n\n```sh\nbench\n```\n",
			want: "g.md:5 skip(a minute) instead[bench --quick] [bench]\n",
		},
		{
			name: "other languages and lists",
			src:  "```yaml\na: 1\n```\n\n- item\n\n    more of the item\n\n```text\nquoted\n```\n",
			want: "",
		},
		{name: "no info string", src: "```\nfedcrypt sim\n```\n", err: "g.md:1: a fence without an info string"},
		{name: "indented code", src: "Run:\n\n    fedcrypt sim\n", err: "g.md:3: indented code"},
		{name: "marker without reason", src: "<!-- not run in CI -->\n```sh\nx\n```\n", err: "g.md:1: marker: want"},
		{name: "marker far from its block", src: "<!-- not run in CI: slow -->\ntext\n```sh\nx\n```\n", err: "g.md:1: a marker"},
		{name: "marker before text", src: "<!-- not run in CI: slow -->\n```text\nx\n```\n", err: "g.md:1: a marker"},
		{name: "empty replacement", src: "<!-- not run in CI: slow; CI runs instead: -->\n```sh\nx\n```\n", err: "g.md:1: marker: a reason and the commands"},
		{name: "output alone", src: "text\n\n```text output\nx\n```\n", err: "g.md:3: a checked output (text output) must follow"},
		{name: "output of a skipped block", src: "<!-- not run in CI: slow -->\n```sh\nx\n```\n```text output\nx\n```\n", err: "g.md:5: a checked output follows g.md:2"},
		{name: "output after text", src: "```sh\nx\n```\n\nprose\n\n```text output\nx\n```\n", err: "g.md:7: a checked output (text output) must follow"},
		{name: "unclosed", src: "```sh\nx\n", err: "g.md:1: a fence that is never closed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			blocks, err := parse("g.md", []byte(tc.src))
			if wantErr(t, "parse", err, tc.err); tc.err != "" {
				return
			}
			var got strings.Builder
			for _, b := range blocks {
				fmt.Fprintf(&got, "%s ", b.at)
				switch {
				case b.skip == "":
					got.WriteString("run ")
				case b.instead != "":
					fmt.Fprintf(&got, "skip(%s) instead[%s] ", b.skip, strings.TrimSpace(b.instead))
				default:
					fmt.Fprintf(&got, "skip(%s) ", b.skip)
				}
				fmt.Fprintf(&got, "[%s]", strings.TrimSpace(b.body))
				if b.output != nil {
					fmt.Fprintf(&got, " out [%s]", strings.TrimSpace(*b.output))
				}
				got.WriteString("\n")
			}
			if got.String() != tc.want {
				t.Errorf("parse:\n%s\nwant:\n%s", got.String(), tc.want)
			}
		})
	}
}
