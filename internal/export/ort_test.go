package export

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/internal/export/orttest"
)

// TestONNXRuntimeMatchesFedcrypt: onnxruntime-web scores raw rows with
// missing cells through the exported graph exactly as fedcrypt does (within
// 1e-6), for logistic regression, MLPs with each activation and a softmax
// model; and the same graph with the preprocessing taken out (identity
// constants) does not, so the comparison sees the preprocessing.
func TestONNXRuntimeMatchesFedcrypt(t *testing.T) {
	ort := orttest.New(t)
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
