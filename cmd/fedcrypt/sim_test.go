package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fedcrypt/fedcrypt/audit"
	"github.com/fedcrypt/fedcrypt/client"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/sim"
	"github.com/fedcrypt/fedcrypt/vault"
)

// TestSimOutDirectory: sim --out writes the run's artefacts, and a second
// run refuses to overwrite them.
func TestSimOutDirectory(t *testing.T) {
	t.Parallel()
	out := simRun(t)
	for _, f := range []string{"federation.json", "audit.jsonl", "rounds.csv", "result.json", "model.age", "checkpoint.age", "keys.age", "researcher.key"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	again := simRunCopy(t)
	before, err := os.ReadFile(filepath.Join(again, "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	wantOneLineError(t, runIn(t, t.Context(), "sim", "--rounds", "1", "--out", again), "not empty")
	if after, _ := os.ReadFile(filepath.Join(again, "audit.jsonl")); !bytes.Equal(before, after) {
		t.Error("the second run changed the first's audit log")
	}
}

// TestSimResumeAfterKills kills a run mid-round twice and resumes it each
// time: the run ends with every round trained, its audit log verifies, and
// no hospital's ledger exceeds its cap. Its results describe the whole
// run, the rounds before each resume included, and show as missing the
// metrics a kill cut from the metrics file.
func TestSimResumeAfterKills(t *testing.T) {
	long(t, "real processes through crashes and restarts")
	t.Parallel()
	dir := t.TempDir()
	out := filepath.Join(dir, "run")
	const rounds = 24
	roundsFlag := fmt.Sprint(rounds)
	// killAfter starts the binary and kills it once the audit log holds n
	// more round entries than before.
	killAfter := func(n int, args ...string) {
		before := countRounds(t, out)
		cmd := exec.Command(binPath(), args...)
		cmd.Dir = dir
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		for {
			select {
			case err := <-done:
				t.Fatalf("run ended before it could be killed: %v", err)
			case <-time.After(5 * time.Millisecond):
			}
			if countRounds(t, out) >= before+n {
				cmd.Process.Kill()
				<-done
				return
			}
		}
	}
	killAfter(3, "sim", "--rounds", roundsFlag, "--seed", "9", "--out", out)
	killAfter(4, "sim", "--resume", out)
	// A kill can cut the metrics file anywhere: keep two rounds and half
	// of the third.
	csvPath := filepath.Join(out, "rounds.csv")
	csv, err := os.ReadFile(csvPath)
	if err != nil {
		t.Fatalf("the killed runs left no metrics: %v", err)
	}
	lines := strings.SplitAfter(string(csv), "\n")
	if len(lines) < 5 {
		t.Fatalf("the killed runs left %d lines of metrics", len(lines))
	}
	cut := strings.Join(lines[:3], "") + lines[3][:len(lines[3])/2]
	if err := os.WriteFile(csvPath, []byte(cut), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, dir, "sim", "--resume", out, "--json")
	var res map[string]any
	decodeJSON(t, r, &res)
	if got := res["rounds"].(float64); got != rounds {
		t.Fatalf("resumed run trained %v rounds, want %d", got, rounds)
	}
	if eps := res["epsilon"].(float64); eps > 1 || eps <= 0 {
		t.Fatalf("ε %v after resumes: want ≤ the cap 1", eps)
	}
	fed, err := federation.Load(filepath.Join(out, "federation.json"))
	if err != nil {
		t.Fatal(err)
	}
	checkResumedResults(t, out, fed, res)
	entries, _, err := audit.Verify(filepath.Join(out, "audit.jsonl"), fed.Hash(), fed.SigningKey)
	if err != nil {
		t.Fatal(err)
	}
	resumes := 0
	for _, e := range entries {
		if e.Type == "resume" {
			resumes++
		}
	}
	if resumes != 2 {
		t.Fatalf("audit log holds %d resume entries, want 2", resumes)
	}
	// The hospitals' witnesses survived the kills: heads signed before the
	// first resume are still held, and every one is in the log.
	researcher, err := vault.ReadIdentityFile(filepath.Join(out, "researcher.key"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ws, err := client.LoadWitness(filepath.Join(out, "hospitals"), fed, researcher)
	if err != nil {
		t.Fatal(err)
	}
	firstResume := slices.IndexFunc(entries, func(e audit.Entry) bool { return e.Type == audit.TypeResume }) + 1
	before := 0
	for _, w := range ws {
		if w.Head.Entries < uint64(firstResume) {
			before++
		}
	}
	if before == 0 {
		t.Errorf("no hospital holds a head from before the first resume (entry %d)", firstResume)
	}
	run, err := audit.VerifyFile(filepath.Join(out, "audit.jsonl"), fed, audit.Options{Witnesses: ws})
	if err != nil || len(run.Witnesses) != 3 {
		t.Fatalf("witnesses after resumes: %v (%d hospitals)", err, len(run.Witnesses))
	}
}

// checkResumedResults checks that the --json result, result.json and
// rounds.csv of a run resumed after a kill describe every round: its
// contributors, bytes and ε as the audit log records them, its metrics
// where the cut metrics file kept them (rounds 1 and 2) or the resumed
// process measured them, and nothing where neither did.
func checkResumedResults(t *testing.T, out string, fed *federation.Config, res map[string]any) {
	t.Helper()
	run, err := audit.VerifyFile(filepath.Join(out, "audit.jsonl"), fed, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	logged := map[uint64]audit.RoundFacts{} // the last entry of each round: the one kept
	for _, r := range run.Rounds {
		logged[r.Round] = r
	}
	var recomputed float64
	for _, h := range run.Hospitals {
		_, r := h.Epsilon()
		recomputed = max(recomputed, r)
	}
	// The reported ε is the ledgers': it may hold the spend of a round a
	// kill cut off before the aggregator logged it (a ledger never
	// under-counts), so it is at least what the log recomputes, and within
	// the cap.
	if eps := res["epsilon"].(float64); eps < recomputed-1e-9 || eps > fed.DP.Epsilon*(1+1e-9) {
		t.Errorf("ε %v, the audit recomputes %v, the cap is %v", eps, recomputed, fed.DP.Epsilon)
	}
	before := int(res["resumed_after"].(float64))
	if before < 3 || before >= len(logged) {
		t.Fatalf("resumed after %d rounds", before)
	}
	var file struct{ History []map[string]any }
	if b, err := os.ReadFile(filepath.Join(out, "result.json")); err != nil || json.Unmarshal(b, &file) != nil {
		t.Fatalf("result.json: %v", err)
	}
	csv, err := os.ReadFile(filepath.Join(out, "rounds.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows := strings.Split(strings.TrimSpace(string(csv)), "\n")[1:]
	history := res["history"].([]any)
	if len(history) != len(logged) || len(file.History) != len(logged) || len(rows) != len(logged) {
		t.Fatalf("%d rounds in the history, %d in result.json, %d in rounds.csv; the log has %d",
			len(history), len(file.History), len(rows), len(logged))
	}
	var bytes float64
	for i, x := range history {
		h := x.(map[string]any)
		n := uint64(i + 1)
		l := logged[n]
		bytes += h["bytes_up"].(float64)
		if uint64(h["round"].(float64)) != n || h["completed"] != true || h["bytes_up"].(float64) != float64(l.BytesUp) ||
			len(h["contributors"].([]any)) != len(l.Contributors) {
			t.Errorf("round %d: %v; the log has %+v", n, h, l)
		}
		if eps := h["epsilon"].(float64); !(eps > 0 && eps <= res["epsilon"].(float64)*(1+1e-9)) {
			t.Errorf("round %d: ε %v", n, eps)
		}
		scored := n <= 2 || n > uint64(before)
		_, hasAcc := h["accuracy"]
		_, hasSecs := h["seconds"]
		if h["evaluated"] != scored || hasAcc != scored || hasSecs != scored {
			t.Errorf("round %d: evaluated %v, accuracy shown %v, seconds shown %v; want %v", n, h["evaluated"], hasAcc, hasSecs, scored)
		}
		if _, ok := file.History[i]["accuracy"]; ok != scored {
			t.Errorf("result.json round %d: accuracy shown %v, want %v", n, ok, scored)
		}
		cells := strings.Split(rows[i], ",")
		if (cells[6] != "") != scored || (cells[11] != "") != scored {
			t.Errorf("rounds.csv round %d: %q", n, rows[i])
		}
	}
	if got, want := res["bytes_up_per_round"].(float64), bytes/float64(len(history)); math.Abs(got-want) > 1e-6 {
		t.Errorf("bytes up per round %v, want %v", got, want)
	}
}

func countRounds(t *testing.T, dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, "audit.jsonl"))
	if err != nil {
		return 0
	}
	return strings.Count(string(b), `"type":"round"`)
}

// A round's ε shows only where there is DP, and its seconds only where
// they were measured: never a zero that reads as a figure.
func TestRoundTableShowsDashesForWhatDoesNotExist(t *testing.T) {
	t.Parallel()
	row := func(dp bool, r sim.RoundReport) []string {
		var b bytes.Buffer
		newRoundTable(&b, true, dp).row(r)
		lines := strings.Split(strings.TrimSpace(b.String()), "\n")
		return strings.Fields(lines[len(lines)-1])
	}
	r := sim.RoundReport{Round: 1, Completed: true, Evaluated: true, Epsilon: 0, BytesUp: 10, Seconds: 0.5}
	if got := row(false, r); got[7] != "-" || got[9] != "0.50" {
		t.Errorf("no DP: ε %q, seconds %q; want -, 0.50", got[7], got[9])
	}
	r.Epsilon, r.Seconds = 0.25, 0
	if got := row(true, r); got[7] != "0.2500" || got[9] != "-" {
		t.Errorf("untimed round: ε %q, seconds %q; want 0.2500, -", got[7], got[9])
	}
}
