package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTrainTextBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	notes := "dx,note\n" + strings.Repeat("a,lung tumor\nb,heart attack\n", 5)
	good := write("notes.csv", notes)
	bad := write("bad.csv", notes+"a,\"Mr Smith \xff\xfe\"\n")
	cases := []struct {
		name      string
		args      []string
		fragments []string
	}{
		{"not UTF-8", []string{"train", "--data", bad, "--label", "dx", "--text", "note"}, []string{"bad.csv", "line 12", `column "note"`, "not valid UTF-8"}},
		{"no such column", []string{"train", "--data", good, "--label", "dx", "--text", "notes"}, []string{"notes.csv", `"notes"`}},
		{"idf with dp", []string{"train", "--data", good, "--label", "dx", "--text", "note", "--dp", "--idf"}, []string{"--idf", "not private"}},
		{"text setting alone", []string{"train", "--data", good, "--label", "dx", "--buckets", "8"}, []string{"--buckets", "--text"}},
		{"dense model for text", []string{"train", "--data", good, "--label", "dx", "--text", "note", "--model", "mlp:8"}, []string{"mlp:8"}},
		{"buckets", []string{"train", "--data", good, "--label", "dx", "--text", "note", "--buckets", "0"}, []string{"buckets 0"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runCLI(t, dir, c.args...)
			wantOneLineError(t, r, c.fragments...)
			if strings.Contains(r.stderr, "Smith") {
				t.Errorf("the error quotes the cell: %s", r.stderr)
			}
		})
	}
}

// TestTrainTextOutPredict trains a text model, seals it with --out, and scores rows with
// predict: one line per row with a class and its probability, and the metrics on the labelled
// rows; a file without the text column is refused naming it.
func TestTrainTextOutPredict(t *testing.T) {
	dir := t.TempDir()
	if r := runCLI(t, dir, "keygen", "-o", "keys"); r.code != 0 {
		t.Fatalf("keygen: %s", r.stderr)
	}
	notes := "dx,note,age\n" + strings.Repeat("onc,lung tumor biopsy,61\ncard,heart attack ECG,70\nonc,Tumör résection,55\ncard,,48\n", 10)
	if err := os.WriteFile(filepath.Join(dir, "notes.csv"), []byte(notes), 0o600); err != nil {
		t.Fatal(err)
	}
	// The float model, then the int8 one: predict reads both.
	for _, extra := range [][]string{nil, {"--int8"}} {
		if err := os.RemoveAll(filepath.Join(dir, "model.age")); err != nil {
			t.Fatal(err)
		}
		r := runCLI(t, dir, append([]string{"train", "--data", "notes.csv", "--label", "dx", "--text", "note", "--buckets", "256",
			"--identity", "keys/identity.txt", "--out", "model.age", "--json"}, extra...)...)
		var tr trainResult
		decodeJSON(t, r, &tr)
		if tr.Output != "model.age" || (extra != nil) != (tr.Int8 != nil) {
			t.Fatalf("output %q, int8 report %+v", tr.Output, tr.Int8)
		}
		if q := tr.Int8; q != nil && (q.ClassAgreement < 1 || q.MaxProbDiff > 0.01 || q.Int8Bytes*4 > q.FloatBytes) {
			t.Errorf("int8 model: %+v", *q)
		}
		r = runCLI(t, dir, "predict", "--checkpoint", "model.age", "-i", "keys/identity.txt", "--signer", "keys/signing-key.pub", "--data", "notes.csv")
		if r.code != 0 {
			t.Fatalf("predict: %s", r.stderr)
		}
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 41 || lines[0] != "row,class,probability" || !strings.HasPrefix(lines[1], "1,onc,") || !strings.HasPrefix(lines[2], "2,card,") {
			t.Errorf("predictions:\n%s", strings.Join(lines[:min(4, len(lines))], "\n"))
		}
		if !strings.Contains(r.stderr, "on 40 labelled rows: accuracy 1.0000") {
			t.Errorf("metrics: %s", r.stderr)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "nonote.csv"), []byte("dx,age\nonc,3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wantOneLineError(t, runCLI(t, dir, "predict", "--checkpoint", "model.age", "-i", "keys/identity.txt", "--signer", "keys/signing-key.pub", "--data", "nonote.csv"),
		"nonote.csv", `"note"`, "text column")
	wantOneLineError(t, runCLI(t, dir, "train", "--data", "notes.csv", "--label", "dx", "--text", "note", "--out", "m.age"), "--out needs --identity")
	wantOneLineError(t, runCLI(t, dir, "train", "--data", "notes.csv", "--label", "dx", "--text", "note", "--cv", "2", "-i", "keys/identity.txt", "--out", "m.age"), "--cv")
}
