package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/fedcrypt/fedcrypt/internal/export"
	"github.com/fedcrypt/fedcrypt/internal/export/orttest"
	"github.com/fedcrypt/fedcrypt/internal/sealedmodel"
	"github.com/fedcrypt/fedcrypt/vault"
	"gonum.org/v1/gonum/mat"
)

// missingMarkers are the ways a CSV says a cell is missing, cycled through
// by wdbcWithMissing.
var missingMarkers = []string{"", "NA", "?", "nan"}

// wdbcWithMissing returns the embedded wdbc CSV, raw, with about one
// feature cell in six made missing (every cell of the first row), and the
// same rows as a matrix in the order of features, NaN where missing.
func wdbcWithMissing(t *testing.T, features []string) (string, *mat.Dense) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "data", "embedded", "wdbc.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	header := strings.Split(lines[0], ",")
	col := map[string]int{}
	for j, h := range header {
		col[h] = j
	}
	x := mat.NewDense(len(lines)-1, len(features), nil)
	var out strings.Builder
	out.WriteString(lines[0] + "\n")
	for i, line := range lines[1:] {
		cells := strings.Split(line, ",")
		for k, f := range features {
			j, ok := col[f]
			if !ok {
				t.Fatalf("wdbc.csv has no column %q", f)
			}
			if i == 0 || (i*13+k*5)%6 == 0 {
				cells[j] = missingMarkers[(i+k)%len(missingMarkers)]
				x.Set(i, k, math.NaN())
				continue
			}
			v, err := strconv.ParseFloat(cells[j], 64)
			if err != nil {
				t.Fatalf("wdbc.csv line %d, %s: %v", i+2, f, err)
			}
			x.Set(i, k, v)
		}
		out.WriteString(strings.Join(cells, ",") + "\n")
	}
	return out.String(), x
}

// TestModelExportScoresAsPredict: a simulation's sealed model, exported as
// ONNX and run in onnxruntime-web, and exported as JSON and read back,
// gives `fedcrypt predict`'s probabilities on raw wdbc rows with missing
// cells, within 1e-6; for logistic regression and an MLP. The export names
// the model by the digest the audit log records for the run's last round.
func TestModelExportScoresAsPredict(t *testing.T) {
	t.Parallel()
	const tol = 1e-6
	for _, spec := range []string{"logreg", "mlp:16"} {
		t.Run(spec, func(t *testing.T) {
			run := simRun(t)
			if spec != "logreg" { // sim's default
				run = simRun(t, "--model", spec)
			}
			dir := t.TempDir()
			key, fed := filepath.Join(run, "researcher.key"), filepath.Join(run, "federation.json")
			exportTo := func(format, out string) modelExportResult {
				t.Helper()
				r := runIn(t, t.Context(), "model", "export", "--checkpoint", filepath.Join(run, "model.age"), "-i", key,
					"--signer", fed, "--format", format, "-o", filepath.Join(dir, out), "--json")
				var res modelExportResult
				decodeJSON(t, r, &res)
				return res
			}
			res := exportTo("json", "model.json")
			b, err := os.ReadFile(filepath.Join(dir, "model.json"))
			if err != nil {
				t.Fatal(err)
			}
			file, err := export.DecodeJSON(b)
			if err != nil {
				t.Fatal(err)
			}
			if file.Federation != "simulation" || file.ModelDigest != res.ModelDigest || res.Federation != "simulation" {
				t.Errorf("federation %q, digest %q (result %+v)", file.Federation, file.ModelDigest, res)
			}
			audit, err := os.ReadFile(filepath.Join(run, "audit.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			if last := bytes.LastIndex(audit, []byte(`"model_digest"`)); last < 0 || !bytes.Contains(audit[last:], []byte(res.ModelDigest)) {
				t.Errorf("model digest %s is not the last round's in the audit log", res.ModelDigest)
			}

			csvText, x := wdbcWithMissing(t, file.Features)
			rowsCSV := writeFile(t, dir, "rows.csv", csvText)
			pred := decodePredict(t, runIn(t, t.Context(), "predict", "--checkpoint", filepath.Join(run, "model.age"), "-i", key,
				"--signer", fed, "--data", rowsCSV, "--json"))
			rows, _ := x.Dims()
			if len(pred.Predictions) != rows {
				t.Fatalf("predict scored %d rows of %d", len(pred.Predictions), rows)
			}
			// compare checks probabilities (rows × classes) against predict's
			// class and probability of that class, row by row.
			compare := func(name string, p *mat.Dense) float64 {
				t.Helper()
				worst := 0.0
				for i, pr := range pred.Predictions {
					c := slices.Index(file.Classes, pr.Class)
					row := p.RawRowView(i)
					d := math.Abs(row[c] - pr.Probability)
					if !(d <= tol) || slices.Index(row, slices.Max(row)) != c {
						t.Fatalf("%s, row %d: p = %v, predict says %s with %v", name, i+1, row, pr.Class, pr.Probability)
					}
					worst = max(worst, d)
				}
				return worst
			}
			pj, err := file.Predict(x)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("json export: max |Δp| vs predict = %.3g over %d rows", compare("json", pj), rows)

			t.Run("onnx", func(t *testing.T) {
				ort := orttest.New(t)
				exportTo("onnx", "model.onnx")
				version, po := ort.Score(t, filepath.Join(dir, "model.onnx"), x)
				t.Logf("onnxruntime-web %s: max |Δp| vs predict = %.3g over %d rows", version, compare("onnx", po), rows)
			})
		})
	}
}

// TestModelExportRefusals: export refuses what it must, in one line naming
// what and where, and leaves an existing output as it was.
func TestModelExportRefusals(t *testing.T) {
	t.Parallel()
	f := newPredictFixture(t)
	dir := f.dir
	signer := filepath.Join(dir, "hospital", signingKeyFileName)
	base := []string{"model", "export", "--checkpoint", f.sealed, "-i", f.key.Identity, "--signer", signer}
	if r := runCLI(t, dir, append(base, "-o", "model.onnx")...); r.code != 0 || !strings.Contains(r.stdout, "not encrypted") {
		t.Fatalf("export: exit %d: %s%s", r.code, r.stderr, r.stdout)
	}
	before, err := os.ReadFile(filepath.Join(dir, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}

	// A sealed model with a field a numeric model does not have.
	id, err := vault.ReadIdentityFile(f.key.Identity, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := f.tm.m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(sealedmodel.Payload{Format: sealedmodel.Format, Schema: f.tm.sc, Transform: f.tm.tf, Weights: w})
	if err != nil {
		t.Fatal(err)
	}
	text := append([]byte(`{"text":{"hashing":1024},`), payload[1:]...)
	if err := vault.Seal(filepath.Join(dir, "text.age"), sealedmodel.Kind, text, id.SigningKey(), id.Recipient()); err != nil {
		t.Fatal(err)
	}
	other := keygenFor(t, dir, "other")

	for _, tc := range []struct {
		name string
		args []string
		frag []string
		code int
	}{
		{"existing output", append(base, "-o", "model.onnx"), []string{"-o model.onnx", "exists", "--force"}, 2},
		{"existing output, json", append(base, "--format", "json", "-o", "model.onnx"), []string{"model.onnx", "--force"}, 2},
		{"over the sealed model", append(base, "--force", "-o", f.sealed), []string{"would overwrite", "sealed model"}, 2},
		{"format", append(base, "--format", "pmml", "-o", "m.pmml"), []string{"--format", "pmml"}, 2},
		{"no signer", []string{"model", "export", "--checkpoint", f.sealed, "-i", f.key.Identity, "-o", "m.onnx"}, []string{"--signer"}, 2},
		{"no identity", []string{"model", "export", "--checkpoint", f.sealed, "--signer", signer, "-o", "m.onnx"}, []string{"-i IDENTITY"}, 2},
		{"no output", base, []string{"-o OUT"}, 2},
		{"wrong signer", []string{"model", "export", "--checkpoint", f.sealed, "-i", f.key.Identity,
			"--signer", filepath.Join(dir, "other", signingKeyFileName), "-o", "m.onnx"}, []string{"model.age", "written by"}, 1},
		{"wrong identity", []string{"model", "export", "--checkpoint", f.sealed, "-i", other.Identity,
			"--signer", signer, "-o", "m.onnx"}, []string{"model.age"}, 1},
		{"not numeric", []string{"model", "export", "--checkpoint", "text.age", "-i", f.key.Identity,
			"--signer", signer, "-o", "m.onnx"}, []string{"text.age", "not a numeric model", `"text"`}, 1},
		{"unknown subcommand", []string{"model", "import"}, []string{"model", "import"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, dir, tc.args...)
			wantOneLineError(t, r, tc.frag...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d", r.code, tc.code)
			}
			if _, err := os.Stat(filepath.Join(dir, "m.onnx")); err == nil {
				t.Fatal("a refused export wrote m.onnx")
			}
			after, err := os.ReadFile(filepath.Join(dir, "model.onnx"))
			if err != nil || !bytes.Equal(before, after) {
				t.Fatalf("model.onnx was changed (%v)", err)
			}
		})
	}
	if r := runCLI(t, dir, append(base, "--format", "json", "--force", "-o", "model.onnx")...); r.code != 0 {
		t.Fatalf("--force: exit %d: %s", r.code, r.stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "model.onnx")); !bytes.HasPrefix(b, []byte("{")) {
		t.Fatal("--force did not replace the file")
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".*tmp-*")); len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

// FuzzLostField: lostField never panics on any JSON, finds nothing lost in
// a payload that sealedmodel encoded itself, and finds any field added to it.
func FuzzLostField(f *testing.F) {
	seeds := []string{
		`{"format":"fedcrypt-model/v1","schema":{"features":["a"],"label":"y","classes":["0","1"]},` +
			`"transform":{"impute":"mean","normalize":"none","fill":[0],"shift":[0],"scale":[1]},"weights":"RkNNVw=="}`,
		`{"format":"fedcrypt-model/v1","schema":{"features":["a"],"label":"y","classes":["0","1"],"tokenizer":"words"}}`,
		`{"text":{"hashing":1024}}`,
		`{"schema":null,"weights":""}`,
		`[]`,
	}
	for _, s := range seeds {
		f.Add([]byte(s), "extra")
	}
	if len(seeds) == 0 {
		f.Fatal("empty seed corpus")
	}
	f.Fuzz(func(t *testing.T, raw []byte, extra string) {
		var p sealedmodel.Payload
		if json.Unmarshal(raw, &p) != nil {
			return
		}
		lost, err := lostField(raw, &p)
		if err != nil {
			return
		}
		own, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if l, err := lostField(own, &p); err != nil || l != "" {
			t.Fatalf("sealedmodel's own encoding loses %q (%v)", l, err)
		}
		if lost != "" || extra == "" || slices.Contains([]string{"format", "schema", "transform", "weights"}, extra) {
			return
		}
		key, _ := json.Marshal(extra)
		with := append(append(append([]byte("{"), key...), `:1,`...), own[1:]...)
		var p2 sealedmodel.Payload
		if err := json.Unmarshal(with, &p2); err != nil {
			return // a key such as "Format" that encoding/json matches case-insensitively
		}
		if l, err := lostField(with, &p2); err != nil || l == "" {
			t.Fatalf("field %q added to a payload is not found (%q, %v)", extra, l, err)
		}
	})
}

// TestWriteNewNeverReplaces: the last step of an export refuses a file that
// appeared after the command's own check, unless forced, and leaves no
// temporary file either way.
func TestWriteNewNeverReplaces(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := writeFile(t, dir, "model.onnx", "theirs")
	err := writeNew(path, []byte("ours"), false)
	if err == nil || !strings.Contains(err.Error(), "exists") || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("error %v, want one naming the existing file and --force", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "theirs" {
		t.Fatalf("the existing file holds %q", b)
	}
	if err := writeNew(path, []byte("ours"), true); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "ours" {
		t.Fatalf("forced: the file holds %q", b)
	}
	fresh := filepath.Join(dir, "new.json")
	if err := writeNew(fresh, []byte("{}"), false); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(fresh); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("new file: %v, mode %v", err, st.Mode())
	}
	if got := listFiles(t, dir); len(got) != 2 {
		t.Fatalf("files left: %v", got)
	}
}
