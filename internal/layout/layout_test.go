package layout

import (
	"bufio"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/fedcrypt/fedcrypt"

// row is one package of DESIGN.md's map: the packages it may import, or
// any when its row says "everything".
type row struct {
	name   string
	allows []string
	any    bool
	public bool // "public packages": any package outside internal/
}

var ticked = regexp.MustCompile("`([a-z0-9/]+)`")

// readMap reads the package map's rows from DESIGN.md.
func readMap(t *testing.T, root string) map[string]row {
	f, err := os.Open(filepath.Join(root, "DESIGN.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows := map[string]row{}
	in := false
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			in = strings.HasPrefix(line, "## Layout")
			continue
		case !in || !strings.HasPrefix(line, "| `"):
			continue
		}
		cells := strings.Split(line, " | ")
		if len(cells) < 3 {
			t.Fatalf("DESIGN.md:%d: a package row without its three cells", n)
		}
		name := strings.Trim(cells[0], "|` ")
		imports := strings.TrimSuffix(strings.TrimSpace(cells[len(cells)-1]), "|")
		r := row{name: strings.TrimSuffix(name, "/")}
		switch {
		case strings.HasPrefix(imports, "everything"):
			r.any = true
		case strings.HasPrefix(imports, "public packages"):
			r.public = true
		case strings.Contains(imports, "..."), strings.Contains(imports, "…"):
			t.Errorf("DESIGN.md:%d: %s may import %q: name every package", n, r.name, imports)
		}
		for _, m := range ticked.FindAllStringSubmatch(imports, -1) {
			r.allows = append(r.allows, m[1])
		}
		rows[r.name] = r
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rows) < 10 {
		t.Fatalf("DESIGN.md: %d package rows under Layout", len(rows))
	}
	return rows
}

// owner is the row a package belongs to: its own, or the longest row
// that is a parent directory (transport holds grpcnet).
func owner(rows map[string]row, pkg string) (string, bool) {
	for p := pkg; ; {
		if _, ok := rows[p]; ok {
			return p, true
		}
		i := strings.LastIndexByte(p, '/')
		if i < 0 {
			return "", false
		}
		p = p[:i]
	}
}

// imports lists, per package directory of the module, the module's
// packages its non-test files import.
func imports(t *testing.T, root string) map[string][]string {
	out := map[string][]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil && path != root {
				return filepath.SkipDir // another module (deploy)
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		dir, _ := filepath.Rel(root, filepath.Dir(path))
		dir = filepath.ToSlash(dir)
		if _, ok := out[dir]; !ok {
			out[dir] = nil
		}
		for _, im := range f.Imports {
			p := strings.Trim(im.Path.Value, `"`)
			if rest, ok := strings.CutPrefix(p, module+"/"); ok && !slices.Contains(out[dir], rest) {
				out[dir] = append(out[dir], rest)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestImportsFollowTheMap checks every package of the module against
// DESIGN.md's package map: each is in the map (as a row, or under one),
// imports only the packages its row allows, and each row's allowances
// are imports it makes, so the map says what the code does.
func TestImportsFollowTheMap(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	rows := readMap(t, root)
	used := map[string]map[string]bool{}
	for dir, deps := range imports(t, root) {
		from, ok := owner(rows, dir)
		if !ok {
			t.Errorf("%s: not in DESIGN.md's package map", dir)
			continue
		}
		r := rows[from]
		for _, dep := range deps {
			to, ok := owner(rows, dep)
			if !ok {
				t.Errorf("%s imports %s, which is not in DESIGN.md's package map", dir, dep)
				continue
			}
			if to == from {
				continue
			}
			if used[from] == nil {
				used[from] = map[string]bool{}
			}
			used[from][to] = true
			switch {
			case r.any:
			case r.public && !strings.HasPrefix(to, "internal/"):
			case slices.Contains(r.allows, to):
			default:
				t.Errorf("%s imports %s: DESIGN.md's map lets %s import only %v", dir, dep, from, r.allows)
			}
		}
	}
	for name, r := range rows {
		if _, err := os.Stat(filepath.Join(root, name)); err != nil {
			t.Errorf("DESIGN.md maps %s, which is not in the module", name)
		}
		for _, a := range r.allows {
			if !used[name][a] && !r.any && !r.public {
				t.Errorf("DESIGN.md lets %s import %s, which it does not", name, a)
			}
		}
	}
}
