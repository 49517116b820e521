package export

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/fedcrypt/fedcrypt/data"
	"gonum.org/v1/gonum/mat"
)

// ORT runs ONNX models in onnxruntime-web under node: the scoring script and
// the lockfile that pins the runtime are in testdata/ort, whose node_modules
// scripts/setup.sh installs with npm ci.
type ORT struct{ script string }

// NewORT returns the runtime at dir (testdata/ort of this package). It skips
// the test where node is not installed, or where the runtime is not and this
// is not CI; in CI a missing runtime fails the test.
func NewORT(t testing.TB, dir string) ORT {
	t.Helper()
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
	return ORT{script: filepath.Join(dir, "score.mjs")}
}

// Score runs the ONNX model at path on the rows of x (NaN = missing) and
// returns the runtime's version and its output.
func (o ORT) Score(t testing.TB, path string, x *mat.Dense) (string, *mat.Dense) {
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

// TestONNXRuntimeMatchesFedcrypt: onnxruntime-web scores raw rows with
// missing cells through the exported graph exactly as fedcrypt does (within
// 1e-6), for logistic regression, MLPs with each activation and a softmax
// model; and the same graph with the preprocessing taken out (identity
// constants) does not, so the comparison sees the preprocessing.
func TestONNXRuntimeMatchesFedcrypt(t *testing.T) {
	ort := NewORT(t, filepath.Join("testdata", "ort"))
	const tol = 1e-6
	for _, tc := range []struct {
		name, set, spec string
		short           bool // also with -short: each case starts node once or twice
	}{
		{"wdbc logreg", "wdbc", "logreg", true},
		{"wdbc mlp relu", "wdbc", "mlp:16", true},
		{"wdbc mlp tanh", "wdbc", "mlp:8,4:tanh", false},
		{"wdbc mlp sigmoid", "wdbc", "mlp:8:sigmoid", false},
		{"digits softmax", "digits", "logreg", false},
		{"digits mlp tanh", "digits", "mlp:16:tanh", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if testing.Short() && !tc.short {
				t.Skip("-short: the other cases cover this network's operators")
			}
			tm := train(t, tc.set, tc.spec, 60)
			want := reference(t, tm.m, tm.raw)
			dir := t.TempDir()
			b, err := ONNX(tm.m)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "model.onnx")
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			version, got := ort.Score(t, path, tm.raw)
			d := maxAbsDiff(got, want)
			t.Logf("onnxruntime-web %s: max |Δp| = %.3g over %d rows", version, d, tm.raw.RawMatrix().Rows)
			if !(d <= tol) {
				t.Fatalf("onnxruntime-web and fedcrypt differ by %g > %g", d, tol)
			}

			// The same model without its preprocessing: fill 0, shift 0,
			// scale 1. The runtime must then disagree with fedcrypt.
			bare := tm.m
			nf := len(tm.m.Schema.Features)
			bare.Transform = &data.Transform{Impute: "mean", Normalize: "none",
				Fill: make([]float64, nf), Shift: make([]float64, nf), Scale: ones(nf)}
			b, err = ONNX(bare)
			if err != nil {
				t.Fatal(err)
			}
			path = filepath.Join(dir, "bare.onnx")
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			_, gotBare := ort.Score(t, path, tm.raw)
			if d := maxAbsDiff(gotBare, want); !(d > 1e-3) {
				t.Fatalf("without preprocessing the runtime still matches fedcrypt (max |Δp| %g): the check cannot see it", d)
			}
		})
	}
}

func ones(n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = 1
	}
	return v
}
