package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestLongTestsRunInCI: the tests that -short skips with long are exactly
// those scripts/test-processes.sh, which CI runs, names.
func TestLongTestsRunInCI(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	var skipped []string
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil || !strings.HasPrefix(fn.Name.Name, "Test") {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				if c, ok := n.(*ast.CallExpr); ok {
					if id, ok := c.Fun.(*ast.Ident); ok && id.Name == "long" {
						skipped = append(skipped, fn.Name.Name)
						return false
					}
				}
				return true
			})
		}
	}
	if len(skipped) == 0 {
		t.Fatal("no test calls long: the scan finds nothing")
	}
	script, err := os.ReadFile(filepath.Join("..", "..", "scripts", "test-processes.sh"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`-run '\^\(([A-Za-z0-9_|]+)\)\$' \./cmd/fedcrypt`).FindSubmatch(script)
	if m == nil {
		t.Fatal("scripts/test-processes.sh has no -run '^(TestA|TestB|...)$' ./cmd/fedcrypt")
	}
	named := strings.Split(string(m[1]), "|")
	slices.Sort(skipped)
	skipped = slices.Compact(skipped)
	slices.Sort(named)
	if !slices.Equal(skipped, named) {
		t.Errorf("tests that -short skips: %v\nscripts/test-processes.sh runs: %v", skipped, named)
	}
}
