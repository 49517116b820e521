package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// abstractsCSV is the medical abstracts' file (examples/clinicaltext): 2,000
// abstracts, label "condition" (5 classes, the largest a third of the
// rows), text column "abstract".
func abstractsCSV(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "examples", "clinicaltext", "medical-abstracts.csv"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTextDeploymentEndToEnd deploys a federation on the abstracts' free
// text as a consortium would: init --text, data split --text among three
// hospitals, aggregator serve and a client join per hospital, each its own
// process over loopback with mutual TLS, CKKS and DP on. predict then
// scores every abstract with the aggregator's model.age, reading the text
// from the model's column and, with --text, from a column named otherwise.
func TestTextDeploymentEndToEnd(t *testing.T) {
	long(t, "real processes federating free text")
	t.Parallel()
	dir := t.TempDir()
	abstracts := abstractsCSV(t)
	members := []string{"a", "b", "c"}
	// ε = 8 over 5 rounds: private, and well above the majority class
	// whatever the noise draws (the run cannot be seeded).
	runOK(t, dir, "init", "--members", "a,b,c", "--data", abstracts, "--label", "condition", "--text", "abstract",
		"--epsilon", "8", "--rounds", "5", "-o", "fed")
	split := []string{"data", "split", "--data", abstracts, "--label", "condition", "--text", "abstract", "-o", "data"}
	for _, m := range members {
		split = append(split, "-R", filepath.Join("fed", m, "recipient.txt"))
	}
	runOK(t, dir, split...)

	agg := startProc(t, dir, "aggregator", "aggregator", "serve", "--config", "fed/federation.json",
		"--identity", "fed/aggregator/identity.key", "--listen", "127.0.0.1:0", "-o", "out", "--timeout", "30s", "--json")
	addr := agg.waitLine(t, listening, 30*time.Second)[1]
	var clients []*proc
	for i, m := range members {
		clients = append(clients, startProc(t, dir, m, joinArgs(m, i, addr)...))
	}
	agg.wait(t, 3*time.Minute)
	for _, c := range clients {
		c.wait(t, 30*time.Second)
	}
	var summary struct {
		Rounds int    `json:"rounds"`
		Ended  string `json:"ended"`
	}
	if err := json.Unmarshal(agg.stdout.Bytes(), &summary); err != nil || summary.Rounds != 5 {
		t.Fatalf("aggregator: %d rounds (%s), want 5; %v\n%s", summary.Rounds, summary.Ended, err, agg.stderr())
	}

	// A member opens the model; the federation's aggregator signed it.
	predict := []string{"predict", "--checkpoint", "out/model.age", "-i", "fed/a/identity.key", "--signer", "fed/federation.json", "--json"}
	var res predictResult
	decodeJSON(t, runCLI(t, dir, append(predict, "--data", abstracts)...), &res)
	classes := []string{"cardiovascular", "digestive", "general", "neoplasms", "nervous"}
	if res.Rows != 2000 || res.Labelled != 2000 || len(res.Predictions) != 2000 || res.Metrics == nil {
		t.Fatalf("predict: %d rows, %d labelled, %d predictions, metrics %v", res.Rows, res.Labelled, len(res.Predictions), res.Metrics)
	}
	seen := map[string]bool{}
	for _, p := range res.Predictions {
		// The class printed is the most probable of 5: at least 1/5.
		if !slices.Contains(classes, p.Class) || !(p.Probability >= 0.2 && p.Probability <= 1) {
			t.Fatalf("row %d: class %q, probability %v", p.Row, p.Class, p.Probability)
		}
		seen[p.Class] = true
	}
	// The majority class is 0.333 of the rows: a model that learned
	// nothing from the text scores about that, and names one class.
	if acc := res.Metrics.Accuracy; acc < 0.42 || len(seen) < 3 {
		t.Errorf("predict: accuracy %.4f over the 2,000 abstracts, %d classes predicted; want ≥ 0.42 and ≥ 3", acc, len(seen))
	}
	t.Logf("text deployment, ε = 8, 5 rounds: accuracy %.4f on the 2,000 abstracts", res.Metrics.Accuracy)

	// The same rows with the text under another name, read with --text.
	b, err := os.ReadFile(abstracts)
	if err != nil {
		t.Fatal(err)
	}
	renamed := filepath.Join(dir, "renamed.csv")
	if err := os.WriteFile(renamed, bytes.Replace(b, []byte("condition,abstract"), []byte("condition,note"), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	var again predictResult
	decodeJSON(t, runCLI(t, dir, append(predict, "--data", renamed, "--text", "note")...), &again)
	if !slices.Equal(again.Predictions, res.Predictions) {
		t.Error("predict --text note on the renamed column: predictions differ from the model's own column's")
	}
}

// TestSimTextOverGRPC runs sim --text with every party its own process
// over gRPC with mutual TLS, CKKS and DP on: the aggregator starts the
// federation's sparse model and seals it with its featurization.
func TestSimTextOverGRPC(t *testing.T) {
	long(t, "real processes federating free text")
	t.Parallel()
	dir := t.TempDir()
	var res struct {
		Rounds    int     `json:"rounds"`
		Encrypted bool    `json:"encrypted"`
		DP        bool    `json:"dp"`
		Params    int     `json:"params"`
		Epsilon   float64 `json:"epsilon"`
		Accuracy  float64 `json:"accuracy"`
	}
	decodeJSON(t, runCLI(t, dir, "sim", "--transport", "grpc", "--data", abstractsCSV(t), "--label", "condition", "--text", "abstract",
		"--epsilon", "3", "--rounds", "3", "--out", "run", "--json"), &res)
	// 1,024 buckets and a bias for each of 5 classes.
	if res.Rounds != 3 || !res.Encrypted || !res.DP || res.Params != 1025*5 || !(res.Epsilon > 0 && res.Epsilon <= 3*(1+1e-9)) {
		t.Fatalf("sim over gRPC: %+v", res)
	}
	r := runCLI(t, dir, "predict", "--checkpoint", "run/model.age", "-i", "run/researcher.key", "--signer", "run/federation.json",
		"--data", abstractsCSV(t), "--json")
	var p predictResult
	decodeJSON(t, r, &p)
	if p.Rows != 2000 || p.Metrics == nil {
		t.Fatalf("predict on the run's model: %d rows, metrics %v", p.Rows, p.Metrics)
	}
	t.Logf("sim --transport grpc --text, ε = 3, 3 rounds: accuracy %.4f (held out), %.4f (predict, all rows)", res.Accuracy, p.Metrics.Accuracy)
}
