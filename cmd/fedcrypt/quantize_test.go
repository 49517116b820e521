package main

import (
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/fedcrypt/fedcrypt/data"
)

// TestModelQuantize: a trained wdbc MLP, quantized by `model quantize` (12-bit values) with its
// agreement measured on the 569 rows, is at least 4 times smaller, and predict scores the rows with it
// (signed by the quantizer's key) within 0.01 of the float model, with the same classes.
func TestModelQuantize(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if r := runCLI(t, dir, "keygen", "-o", "keys"); r.code != 0 {
		t.Fatalf("keygen: %s", r.stderr)
	}
	csv, _, ok := data.Embedded("wdbc")
	if !ok {
		t.Fatal("no embedded wdbc")
	}
	if err := os.WriteFile(filepath.Join(dir, "wdbc.csv"), csv, 0o600); err != nil {
		t.Fatal(err)
	}
	id, signer := filepath.Join("keys", "identity.txt"), filepath.Join("keys", signingKeyFileName)
	if r := runCLI(t, dir, "train", "--data", "wdbc.csv", "--label", "diagnosis", "--positive", "M", "--model", "mlp:64",
		"-i", id, "--out", "model.age"); r.code != 0 {
		t.Fatalf("train: %s", r.stderr)
	}
	r := runCLI(t, dir, "model", "quantize", "--checkpoint", "model.age", "-i", id, "--signer", signer, "-o", "int8.age", "--data", "wdbc.csv", "--json")
	var q modelQuantizeResult
	decodeJSON(t, r, &q)
	pub, err := os.ReadFile(filepath.Join(dir, signer))
	if err != nil {
		t.Fatal(err)
	}
	if q.Signer != strings.TrimSpace(string(pub)) {
		t.Errorf("signer %q, the identity's key %q", q.Signer, pub)
	}
	if q.Output != "int8.age" || q.Params != 30*64+64+64+1 || q.Int8Bytes*4 > q.FloatBytes || q.Bits != 12 || q.Rows != 569 {
		t.Errorf("quantize: %+v", q)
	}
	if q.ClassAgreement == nil || *q.ClassAgreement < 0.99 || *q.MaxProbDiff > 0.01 {
		t.Errorf("quantized against float: %v classes, %v largest difference", q.ClassAgreement, q.MaxProbDiff)
	}
	probs := func(model string) map[string]float64 {
		t.Helper()
		r := runCLI(t, dir, "predict", "--checkpoint", model, "-i", id, "--signer", signer, "--data", "wdbc.csv")
		if r.code != 0 {
			t.Fatalf("predict %s: %s", model, r.stderr)
		}
		out := map[string]float64{}
		for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n")[1:] {
			f := strings.Split(line, ",")
			p, err := strconv.ParseFloat(f[2], 64)
			if err != nil {
				t.Fatalf("predict %s: %q", model, line)
			}
			out[f[0]] = p
			out[f[0]+" "+f[1]] = 1
		}
		return out
	}
	pf, pq := probs("model.age"), probs("int8.age")
	if len(pf) != 2*569 || len(pq) != len(pf) {
		t.Fatalf("%d and %d predictions", len(pf), len(pq))
	}
	for k, v := range pf {
		if w, ok := pq[k]; !ok || math.Abs(v-w) > 0.01 {
			t.Fatalf("row %s: float %v, int8 %v (%v)", k, v, w, ok)
		}
	}
	wantOneLineError(t, runCLI(t, dir, "model", "quantize", "--checkpoint", "model.age", "-i", id, "--signer", signer, "-o", "int8.age"), "int8.age", "--force")
	wantOneLineError(t, runCLI(t, dir, "model", "quantize", "--checkpoint", "model.age", "-i", id, "--signer", signer), "-o OUT")
	wantOneLineError(t, runCLI(t, dir, "model", "quantize", "--checkpoint", "model.age", "-i", id, "--signer", signer, "-o", "model.age", "--force"), "sealed model")
	wantOneLineError(t, runCLI(t, dir, "model", "shrink"), `"shrink"`, "export or quantize")
}
