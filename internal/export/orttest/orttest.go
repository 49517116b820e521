// Package orttest runs ONNX models in a real ONNX runtime for tests:
// onnxruntime-web (WebAssembly, CPU) under node, at the version pinned by
// internal/export/testdata/ort/package-lock.json, whose node_modules
// scripts/setup.sh installs with npm ci. The scoring script is score.mjs
// beside the lockfile.
package orttest

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// Runtime runs ONNX models in onnxruntime-web under node.
type Runtime struct{ script string }

// New returns the runtime. It skips the test where node is not installed,
// or where the runtime is not and this is not CI (CI set in the
// environment); in CI a missing runtime fails the test.
func New(t testing.TB) Runtime {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("orttest: no source path to find testdata/ort from")
	}
	dir := filepath.Join(filepath.Dir(file), "..", "testdata", "ort")
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed: the ONNX runtime check needs node and scripts/setup.sh")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "onnxruntime-web", "package.json")); err != nil {
		msg := "onnxruntime-web is not installed in " + dir + ": run scripts/setup.sh"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return Runtime{script: filepath.Join(dir, "score.mjs")}
}

// Score runs the ONNX model at path on the rows of x (NaN = missing) and
// returns the runtime's version and its output.
func (o Runtime) Score(t testing.TB, path string, x *mat.Dense) (string, *mat.Dense) {
	t.Helper()
	r, c := x.Dims()
	rows := make([][]*float64, r)
	for i := range r {
		rows[i] = make([]*float64, c)
		for j, v := range x.RawRowView(i) {
			if !math.IsNaN(v) {
				rows[i][j] = &v
			}
		}
	}
	in, err := json.Marshal(map[string]any{"rows": rows})
	if err != nil {
		t.Fatal(err)
	}
	rowsPath := filepath.Join(t.TempDir(), "rows.json")
	if err := os.WriteFile(rowsPath, in, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", o.script, path, rowsPath)
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("onnxruntime-web on %s: %v\n%s", filepath.Base(path), err, ee.Stderr)
		}
		t.Fatal(err)
	}
	var res struct {
		Runtime       string      `json:"runtime"`
		Probabilities [][]float64 `json:"probabilities"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("onnxruntime-web output: %v\n%.300s", err, out)
	}
	if len(res.Probabilities) != r {
		t.Fatalf("onnxruntime-web scored %d rows of %d", len(res.Probabilities), r)
	}
	p := mat.NewDense(r, len(res.Probabilities[0]), nil)
	for i, row := range res.Probabilities {
		if len(row) != len(res.Probabilities[0]) {
			t.Fatalf("row %d: %d probabilities", i, len(row))
		}
		p.SetRow(i, row)
	}
	return res.Runtime, p
}
