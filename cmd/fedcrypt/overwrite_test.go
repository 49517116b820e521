package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// An -o that names a file the command reads, or a file of the run it
// reports on, is refused and the file is left as it was.
func TestOutputNeverOverwritesAnInput(t *testing.T) {
	t.Parallel()
	run := simOut(t)
	f := newPredictFixture(t)
	dir := f.dir
	writeFile(t, dir, "rows.csv", smallCSV)
	splitIn := filepath.Join(dir, "parts", "hospital-1.csv.age")
	if err := os.MkdirAll(filepath.Dir(splitIn), 0o700); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, dir, "data", "encrypt", "-r", f.key.Recipient, "-o", splitIn, "rows.csv"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	hospRecipients := filepath.Join("hospital", recipientFileName)
	signer := filepath.Join(dir, "hospital", signingKeyFileName)
	for _, tc := range []struct {
		name   string
		target string
		args   []string
		frag   []string
	}{
		{"report over its log", filepath.Join(run, "audit.jsonl"),
			[]string{"report", run, "-o", filepath.Join(run, "audit.jsonl")}, []string{"audit log"}},
		{"report over the run's model", filepath.Join(run, "model.age"),
			[]string{"report", run, "-o", filepath.Join(run, "model.age")}, []string{"model.age"}},
		{"report over its config, by another name", filepath.Join(run, "federation.json"),
			[]string{"report", filepath.Join(run, "audit.jsonl"), "-o", filepath.Join(run, ".", "federation.json")}, []string{"federation config"}},
		{"predict over its data", f.rowsAge,
			[]string{"predict", "--checkpoint", f.sealed, "-i", f.key.Identity, "--signer", signer, "--data", f.rowsAge,
				"-o", f.rowsAge, "-R", hospRecipients}, []string{"data file"}},
		{"predict over its model", f.sealed,
			[]string{"predict", "--checkpoint", f.sealed, "-i", f.key.Identity, "--signer", signer, "--data", f.rowsAge,
				"-o", f.sealed, "-R", hospRecipients}, []string{"sealed model"}},
		{"encrypt over its input", filepath.Join(dir, "rows.csv"),
			[]string{"data", "encrypt", "-r", f.key.Recipient, "-o", "rows.csv", "rows.csv"}, []string{"input file"}},
		{"split over its input", splitIn,
			[]string{"data", "split", "--data", splitIn, "-i", f.key.Identity, "--label", "diagnosis", "--drop", "patient",
				"-r", f.key.Recipient, "-r", f.key.Recipient, "-o", filepath.Dir(splitIn)}, []string{"data set being split"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, err := os.ReadFile(tc.target)
			if err != nil {
				t.Fatal(err)
			}
			r := runCLI(t, dir, tc.args...)
			wantOneLineError(t, r, append([]string{"would overwrite"}, tc.frag...)...)
			if r.code != 2 {
				t.Errorf("exit %d, want 2", r.code)
			}
			after, err := os.ReadFile(tc.target)
			if err != nil || !bytes.Equal(before, after) {
				t.Errorf("%s was changed (%v)", tc.target, err)
			}
		})
	}
	// A report written over an earlier report is fine.
	for range 2 {
		if r := runCLI(t, dir, "report", run, "-o", "r.html"); r.code != 0 {
			t.Fatalf("report over its own earlier output: exit %d: %s", r.code, r.stderr)
		}
	}
	// Any other existing file, such as a hospital's ledger under the run, is
	// refused and left as it was.
	ledgers, err := filepath.Glob(filepath.Join(run, "hospitals", "*", "*ledger*.age"))
	if err != nil || len(ledgers) == 0 {
		ledgers, _ = filepath.Glob(filepath.Join(run, "hospitals", "*ledger*.age"))
	}
	if len(ledgers) == 0 {
		t.Fatalf("no ledger under %s/hospitals", run)
	}
	before, _ := os.ReadFile(ledgers[0])
	r := runCLI(t, dir, "report", run, "-o", ledgers[0])
	wantOneLineError(t, r, "not a report")
	if after, _ := os.ReadFile(ledgers[0]); r.code != 2 || !bytes.Equal(before, after) {
		t.Errorf("report over a ledger: exit %d, ledger changed %v", r.code, !bytes.Equal(before, after))
	}
}
