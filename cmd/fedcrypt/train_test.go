package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func decodeJSON(t *testing.T, r result, v any) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, r.stdout)
	}
}

func TestTrainSplitJSONFields(t *testing.T) {
	var out map[string]any
	decodeJSON(t, runCLI(t, "", "train", "--json"), &out)
	for _, k := range []string{"accuracy", "precision", "recall", "f1", "auc"} {
		v, ok := out[k].(float64)
		if !ok || v < 0.9 || v > 1 {
			t.Errorf("%s = %v, want a number in [0.9, 1]", k, out[k])
		}
	}
	// A good wdbc model: a small Brier score, and probabilities calibrated within 0.1.
	for _, k := range []string{"brier", "ece"} {
		if v, ok := out[k].(float64); !ok || !(v > 0 && v < 0.1) {
			t.Errorf("%s = %v, want a number in (0, 0.1)", k, out[k])
		}
	}
}

func TestTrainBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ragged := write("ragged.csv", "a,b,y\n1,2,0\n3,1\n4,5,1\n")
	text := write("text.csv", "a,b,y\n1,2,0\n3,abc,1\n4,5,1\n")
	single := write("single.csv", "a,b,y\n1,2,0\n3,4,0\n")
	empty := write("empty.csv", "")
	cases := []struct {
		name      string
		args      []string
		fragments []string
	}{
		{"ragged row", []string{"train", "--data", ragged, "--label", "y"}, []string{"ragged.csv", "line 3"}},
		{"non-numeric cell", []string{"train", "--data", text, "--label", "y"}, []string{"text.csv", "line 3", `"b"`}},
		{"single class", []string{"train", "--data", single, "--label", "y"}, []string{"single.csv"}},
		{"empty file", []string{"train", "--data", empty, "--label", "y"}, []string{"empty.csv"}},
		{"absent label", []string{"train", "--data", ragged, "--label", "nope"}, []string{"nope"}},
		{"no label for CSV", []string{"train", "--data", ragged}, []string{"--label"}},
		{"missing file", []string{"train", "--data", filepath.Join(dir, "absent.csv"), "--label", "y"}, []string{"absent.csv"}},
		{"unknown model", []string{"train", "--model", "svm"}, []string{"svm"}},
		{"bad folds", []string{"train", "--cv", "1"}, []string{"--cv"}},
		{"bad lr", []string{"train", "--lr", "-1"}, []string{"--lr"}},
		{"extra argument", []string{"train", "wdbc"}, []string{"unexpected argument", "wdbc"}},
		{"privacy setting without --dp", []string{"train", "--epsilon", "1"}, []string{"--epsilon", "add --dp"}},
		{"no budget", []string{"train", "--dp", "--epsilon", "0"}, []string{"--epsilon"}},
		{"sample rate above 1", []string{"train", "--dp", "--sample-rate", "2"}, []string{"--sample-rate"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantOneLineError(t, runCLI(t, dir, c.args...), c.fragments...)
		})
	}
}
