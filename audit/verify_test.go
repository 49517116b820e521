package audit_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/fedcrypt/fedcrypt/audit"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/protocol"
	"github.com/fedcrypt/fedcrypt/sim"
)

func TestVerifyRunAcceptsSimulations(t *testing.T) {
	type simCase struct {
		name   string
		rounds int
		mutate func(*sim.Config)
		lossy  bool // dropouts: spends may be missing from the log
	}
	cases := []simCase{
		{"rdp", 3, nil, false},
		{"pld", 2, func(c *sim.Config) { c.Accountant = "pld" }, false},
		{"rows weighting, 4 hospitals", 2, func(c *sim.Config) { c.Hospitals, c.Weighting = 4, "rows" }, false},
		{"dropouts", 4, func(c *sim.Config) { c.Hospitals, c.Dropout = 5, 0.2 }, true},
		// Seed 5 has a key holder of a decryption set drop out as the
		// request arrives; with one decryption attempt per round, that
		// abandons the round's attempt: its entry sits between rounds.
		{"abandoned attempts", 4, func(c *sim.Config) { seed := uint64(5); c.Seed, c.Dropout, c.MaxDecryptions = &seed, 0.2, 1 }, true},
	}
	if !testing.Short() {
		cases = append(cases, simCase{"10 hospitals, 30 rounds, dropouts, pld", 30, func(c *sim.Config) {
			c.Hospitals, c.Threshold, c.Dropout, c.Accountant, c.LocalSteps = 10, 4, 0.1, "pld", 5
		}, true})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := simRun(t, c.rounds, c.mutate)
			fed := loadFed(t, dir)
			run, err := audit.VerifyFile(filepath.Join(dir, sim.FileAudit), fed, audit.Options{Anchor: anchor(t, dir)})
			if err != nil {
				t.Fatal(err)
			}
			if !run.Verified || !run.Anchored || run.Ended == "" {
				t.Fatalf("verified %v anchored %v ended %q", run.Verified, run.Anchored, run.Ended)
			}
			completed, abandoned := countRounds(run)
			t.Logf("%d rounds completed, %d attempts abandoned", completed, abandoned)
			if completed == 0 {
				t.Fatal("no completed round")
			}
			if c.name == "abandoned attempts" && abandoned == 0 {
				t.Fatal("no abandoned attempt: the case tests nothing")
			}
			for _, h := range run.Hospitals {
				if len(h.Spends) == 0 {
					t.Errorf("%s: no spend recorded", h.ID)
					continue
				}
				// An honest client's claim is its accountant's ε over its
				// spends: equal to the recomputation up to rounding when
				// every spend reached the log, above it when the hospital
				// trained for an upload the log does not hold (it dropped
				// out, or the attempt was abandoned), and within the cap.
				claimed, recomputed := h.Epsilon()
				tol := 1e-9 * claimed
				if c.lossy {
					tol = math.Inf(1)
				}
				if claimed < recomputed*(1-1e-9) || claimed-recomputed > tol || claimed > fed.DP.Epsilon*(1+1e-9) {
					t.Errorf("%s: claimed ε %v, recomputed %v, cap %v", h.ID, claimed, recomputed, fed.DP.Epsilon)
				}
			}
		})
	}
}

func TestVerifyRunUnprotected(t *testing.T) {
	dir := simRun(t, 2, func(c *sim.Config) { c.DP, c.HE = false, false })
	fed := loadFed(t, dir)
	path := filepath.Join(dir, sim.FileAudit)
	run, err := audit.VerifyFile(path, fed, audit.Options{})
	var f *audit.Failure
	if !errors.As(err, &f) || f.Entry != 1 || !strings.Contains(f.Reason, "--no-dp") || !strings.Contains(f.Reason, "--no-he") {
		t.Fatalf("unprotected run: %v", err)
	}
	if len(run.Unprotected) != 2 {
		t.Errorf("unprotected %q", run.Unprotected)
	}
	run, err = audit.VerifyFile(path, fed, audit.Options{AllowUnprotected: true, Anchor: anchor(t, dir)})
	if err != nil || !run.Verified || len(run.Unprotected) != 2 {
		t.Fatalf("with AllowUnprotected: %v, %+v", err, run)
	}
	if _, err := json.Marshal(run); err != nil {
		t.Errorf("the run of a run without DP does not marshal: %v", err)
	}
}

// TestVerifyRunNamesTheTamperedEntry changes a real run's log in each way
// an aggregator or an intruder could, and checks the failure names the
// entry at fault. Entries: 1 setup, 2 statistics, 3..5 rounds 1..3, 6 end.
func TestVerifyRunNamesTheTamperedEntry(t *testing.T) {
	base := simRun(t, 3, nil)
	keys := partyKeys(t, base)
	cases := []struct {
		name     string
		anchored bool
		tamper   func(t *testing.T, dir string)
		entry    int
		reason   string
	}{
		{"byte changed", true, func(t *testing.T, dir string) {
			path := filepath.Join(dir, sim.FileAudit)
			l := lines(t, path)
			l[2] = strings.Replace(l[2], `"bytes_up":`, `"bytes_up":1`, 1)
			writeLines(t, path, l)
		}, 3, "signature"},
		{"entry deleted", true, func(t *testing.T, dir string) {
			path := filepath.Join(dir, sim.FileAudit)
			l := lines(t, path)
			writeLines(t, path, append(l[:2:2], l[3:]...))
		}, 3, "sequence number"},
		{"two entries reordered", true, func(t *testing.T, dir string) {
			path := filepath.Join(dir, sim.FileAudit)
			l := lines(t, path)
			l[2], l[3] = l[3], l[2]
			writeLines(t, path, l)
		}, 3, "sequence number"},
		{"signature swapped", true, func(t *testing.T, dir string) {
			path := filepath.Join(dir, sim.FileAudit)
			l := lines(t, path)
			sig := func(s string) string { return s[strings.Index(s, `"sig":`):] }
			l[3] = strings.Replace(l[3], sig(l[3]), sig(l[1]), 1)
			writeLines(t, path, l)
		}, 4, "signature"},
		{"claim signature swapped", false, func(t *testing.T, dir string) {
			// h1's claim re-signed by h2: the aggregator cannot pass off
			// one hospital's signature as another's.
			e := readEntries(t, filepath.Join(dir, sim.FileAudit))
			forgeClaim(t, &e[2], keys["h2"], "h1", func(*protocol.Claim) {})
			rewrite(t, dir, keys, e)
		}, 3, "signature does not verify"},
		{"claim of a protocol version this build cannot read", false, func(t *testing.T, dir string) {
			e := readEntries(t, filepath.Join(dir, sim.FileAudit))
			editClaim(t, &e[2], "h1", func(_ map[string]any, signed []byte) []byte {
				other := bytes.Clone(signed)
				other[3] = '9' // the version in the envelope's magic
				return other
			})
			rewrite(t, dir, keys, e)
		}, 3, `h1's claim: envelope: protocol version "9", which this build cannot read`},
		{"ε lowered and re-signed", false, func(t *testing.T, dir string) {
			// Every signature valid: only recomputing ε catches it.
			e := readEntries(t, filepath.Join(dir, sim.FileAudit))
			forgeClaim(t, &e[3], keys["h3"], "h3", func(c *protocol.Claim) { c.DP.Epsilon *= 0.9 })
			rewrite(t, dir, keys, e)
		}, 4, "under-reported"},
		{"decoded facts altered and re-signed", false, func(t *testing.T, dir string) {
			e := readEntries(t, filepath.Join(dir, sim.FileAudit))
			lowered := regexp.MustCompile(`("facts":\{[^}]*"epsilon":)[0-9.e+-]+`).ReplaceAll(e[2].Body, []byte("${1}0.01"))
			if bytes.Equal(lowered, e[2].Body) {
				t.Fatal("no facts to alter")
			}
			e[2].Body = lowered
			rewrite(t, dir, keys, e)
		}, 3, "decoded facts differ"},
		{"nonce changed and re-signed", false, func(t *testing.T, dir string) {
			e := readEntries(t, filepath.Join(dir, sim.FileAudit))
			other := regexp.MustCompile(`"nonce":"[0-9a-f]*"`).ReplaceAll(e[2].Body, []byte(`"nonce":"00112233445566778899aabbccddeeff"`))
			if bytes.Equal(other, e[2].Body) {
				t.Fatal("no nonce to change")
			}
			e[2].Body = other
			rewrite(t, dir, keys, e)
		}, 3, "another attempt's nonce"},
		{"tail cut off after the end", true, func(t *testing.T, dir string) {
			// Rounds 2 and 3 cut and a fresh end entry signed: a valid
			// chain, caught only by the checkpoint's anchor.
			e := readEntries(t, filepath.Join(dir, sim.FileAudit))
			rewrite(t, dir, keys, append(e[:3:3], e[5]))
		}, 5, "checkpoint of round 3"},
		{"tail cut off", false, func(t *testing.T, dir string) {
			path := filepath.Join(dir, sim.FileAudit)
			writeLines(t, path, lines(t, path)[:3])
		}, 4, "without an end entry"},
		{"round replayed", false, func(t *testing.T, dir string) {
			e := readEntries(t, filepath.Join(dir, sim.FileAudit))
			rewrite(t, dir, keys, append(e[:4:4], e[3], e[4], e[5]))
		}, 5, "out of order"},
		{"statistics transform altered and re-signed", false, func(t *testing.T, dir string) {
			e := readEntries(t, filepath.Join(dir, sim.FileAudit))
			editStatistics(t, &e[1], func(b *audit.StatisticsBody) { b.Transform.Shift[0] += 1 })
			rewrite(t, dir, keys, e)
		}, 2, "not the one the totals give"},
		{"statistics noise under-stated and re-signed", false, func(t *testing.T, dir string) {
			e := readEntries(t, filepath.Join(dir, sim.FileAudit))
			editStatistics(t, &e[1], func(b *audit.StatisticsBody) { b.NoiseStdDev /= 2 })
			rewrite(t, dir, keys, e)
		}, 2, "noise standard deviation"},
		{"statistics released with less noise", false, func(t *testing.T, dir string) {
			// h2's claim, re-signed with h2's own key: a hospital that
			// noised its statistics less than the federation calibrates.
			e := readEntries(t, filepath.Join(dir, sim.FileAudit))
			forgeClaim(t, &e[1], keys["h2"], "h2", func(c *protocol.Claim) { c.DP.NoiseMultiplier /= 2 })
			rewrite(t, dir, keys, e)
		}, 2, "the federation calibrates"},
		{"statistics after a round", false, func(t *testing.T, dir string) {
			e := readEntries(t, filepath.Join(dir, sim.FileAudit))
			rewrite(t, dir, keys, []audit.Entry{e[0], e[2], e[1], e[3], e[4], e[5]})
		}, 2, "before the statistics phase"},
		{"a hospital trained with another transform", false, func(t *testing.T, dir string) {
			// h3's round-2 claim, re-signed with h3's own key, names another
			// transform than the statistics entry's: the aggregator sent it
			// other totals, or h3 used its own.
			e := readEntries(t, filepath.Join(dir, sim.FileAudit))
			forgeClaim(t, &e[3], keys["h3"], "h3", func(c *protocol.Claim) { c.Transform[0] ^= 1 })
			rewrite(t, dir, keys, e)
		}, 4, "not the federation's"},
		{"statistics released twice", false, func(t *testing.T, dir string) {
			e := readEntries(t, filepath.Join(dir, sim.FileAudit))
			rewrite(t, dir, keys, []audit.Entry{e[0], e[1], e[1], e[2], e[3], e[4], e[5]})
		}, 3, "second statistics release"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyRun(t, base)
			c.tamper(t, dir)
			opt := audit.Options{}
			if c.anchored {
				opt.Anchor = anchor(t, dir)
			}
			failsAt(t, dir, opt, c.entry, c.reason)
		})
	}
}

// failsAt checks that verifying the log in dir fails at entry (1-based)
// for a reason containing reason, and does not mark the run verified.
func failsAt(t *testing.T, dir string, opt audit.Options, entry int, reason string) {
	t.Helper()
	run, err := audit.VerifyFile(filepath.Join(dir, sim.FileAudit), loadFed(t, dir), opt)
	var f *audit.Failure
	if !errors.As(err, &f) || !errors.Is(err, audit.ErrBadLog) {
		t.Fatalf("tampered log: %v", err)
	}
	if f.Entry != entry || !strings.Contains(f.Reason, reason) {
		t.Fatalf("failure %q, want entry %d: …%s…", f, entry, reason)
	}
	if run.Verified {
		t.Fatal("run marked verified")
	}
}

// TestVerifyRunFailsAHospitalOverItsCap forges hospital claims that are
// validly signed by the hospital's key but spend more than its cap.
func TestVerifyRunFailsAHospitalOverItsCap(t *testing.T) {
	base := simRun(t, 3, nil)
	keys := partyKeys(t, base)
	cases := []struct {
		name   string
		change func(*protocol.Claim)
		reason string
	}{
		// The hospital says it went over.
		{"claimed over the cap", func(c *protocol.Claim) { c.DP.Epsilon = 1.5 }, "over its cap"},
		// The hospital trained with too little noise but claims the cap.
		{"too little noise", func(c *protocol.Claim) { c.DP.NoiseMultiplier /= 2; c.DP.Epsilon = 1 }, "exceeds its cap"},
		// Vanishing noise, which the accountant is slow on, fails at once.
		{"vanishing noise", func(c *protocol.Claim) { c.DP.NoiseMultiplier = 1e-300; c.DP.Epsilon = 1 }, "over its cap"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyRun(t, base)
			e := readEntries(t, filepath.Join(dir, sim.FileAudit))
			forgeClaim(t, &e[3], keys["h2"], "h2", c.change)
			rewrite(t, dir, keys, e)
			_, err := audit.VerifyFile(filepath.Join(dir, sim.FileAudit), loadFed(t, dir), audit.Options{})
			var f *audit.Failure
			if !errors.As(err, &f) || f.Entry != 4 || !strings.Contains(f.Reason, `"h2"`) || !strings.Contains(f.Reason, c.reason) {
				t.Fatalf("over-cap claim: %v", err)
			}
		})
	}
}

func TestVerifyRunRejectsMismatchedSettings(t *testing.T) {
	base := simRun(t, 2, nil)
	keys := partyKeys(t, base)
	cases := []struct {
		name   string
		change func(*protocol.Claim)
		reason string
	}{
		{"other accountant", func(c *protocol.Claim) { c.DP.Accountant = "pld" }, "accountant"},
		{"larger sample rate", func(c *protocol.Claim) { c.DP.SampleRate = 0.5 }, "sample rate"},
		{"not encrypted", func(c *protocol.Claim) { c.Encrypted = false }, "encrypted"},
		{"zero steps", func(c *protocol.Claim) { c.DP.Steps = 0 }, "0 steps"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyRun(t, base)
			e := readEntries(t, filepath.Join(dir, sim.FileAudit))
			forgeClaim(t, &e[2], keys["h1"], "h1", c.change) // round 1
			rewrite(t, dir, keys, e)
			_, err := audit.VerifyFile(filepath.Join(dir, sim.FileAudit), loadFed(t, dir), audit.Options{})
			var f *audit.Failure
			if !errors.As(err, &f) || f.Entry != 3 || !strings.Contains(f.Reason, c.reason) {
				t.Fatalf("claim with %s: %v", c.name, err)
			}
		})
	}
}

func ExampleVerifyFile() {
	// A simulated federation: 3 hospitals, ε ≤ 1 each, 2 rounds.
	tmp, err := os.MkdirTemp("", "audit-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "run")
	if err := simRunIn(dir, 2, nil); err != nil {
		fmt.Println(err)
		return
	}
	fed, err := federation.Load(filepath.Join(dir, sim.FileConfig))
	if err != nil {
		fmt.Println(err)
		return
	}
	run, err := audit.VerifyFile(filepath.Join(dir, sim.FileAudit), fed, audit.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("verified:", run.Verified, "anchored:", run.Anchored)
	for _, h := range run.Hospitals {
		claimed, recomputed := h.Epsilon()
		fmt.Printf("%s: %d rounds, claimed ε ≤ cap %v: %v, claim ≥ recomputed: %v\n",
			h.ID, h.TrainingRounds(), h.Cap, claimed <= h.Cap, claimed >= recomputed*(1-audit.ClaimTolerance))
	}
	// Output:
	// verified: true anchored: false
	// h1: 2 rounds, claimed ε ≤ cap 1: true, claim ≥ recomputed: true
	// h2: 2 rounds, claimed ε ≤ cap 1: true, claim ≥ recomputed: true
	// h3: 2 rounds, claimed ε ≤ cap 1: true, claim ≥ recomputed: true
}

// FuzzVerifyRun feeds arbitrary logs to the verifier of a real run's
// federation: it never panics, a failure names an entry within the log or
// one past its end, and whatever verifies has exactly one end entry, last.
func FuzzVerifyRun(f *testing.F) {
	// A 2-round run of `fedcrypt sim --seed 7`, kept so that fuzz workers
	// start without running a federation.
	dir := filepath.Join("testdata", "run")
	fed := loadFed(f, dir)
	raw, err := os.ReadFile(filepath.Join(dir, sim.FileAudit))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	l := strings.SplitAfter(string(raw), "\n")
	f.Add([]byte(strings.Join(l[:2], "")))
	f.Add([]byte(l[0] + l[2] + l[1]))
	f.Add([]byte(strings.Replace(string(raw), `"round":1`, `"round":2`, 1)))
	f.Add([]byte("{}\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, log []byte) {
		run, err := audit.VerifyRun(bytes.NewReader(log), "fuzz", fed, audit.Options{})
		n := bytes.Count(log, []byte("\n"))
		if len(log) > 0 && log[len(log)-1] != '\n' {
			n++
		}
		var fl *audit.Failure
		switch {
		case errors.As(err, &fl):
			if fl.Entry < 1 || fl.Entry > n+1 {
				t.Fatalf("failure names entry %d of a %d-line log", fl.Entry, n)
			}
			if run.Verified {
				t.Fatal("failed log marked verified")
			}
		case err != nil:
			t.Fatalf("not a *Failure: %v", err)
		default:
			if !run.Verified || run.Entries != n || run.Ended == "" {
				t.Fatalf("verified log: %d entries of %d lines, ended %q", run.Entries, n, run.Ended)
			}
		}
	})
}

// editStatistics changes a statistics entry's body.
func editStatistics(t *testing.T, e *audit.Entry, change func(*audit.StatisticsBody)) {
	t.Helper()
	if e.Type != audit.TypeStatistics {
		t.Fatalf("entry %d is a %s entry", e.Seq+1, e.Type)
	}
	var b audit.StatisticsBody
	if err := json.Unmarshal(e.Body, &b); err != nil {
		t.Fatal(err)
	}
	change(&b)
	var err error
	if e.Body, err = json.Marshal(b); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyRunResumedRuns splices resume entries into a real run's log,
// as the aggregator writes them when it continues from its checkpoint.
// Entries of the run: 1 setup, 2 statistics, 3..5 rounds 1..3, 6 end.
func TestVerifyRunResumedRuns(t *testing.T) {
	base := simRun(t, 3, nil)
	keys := partyKeys(t, base)
	e := readEntries(t, filepath.Join(base, sim.FileAudit))
	resume := func(after int) audit.Entry {
		return audit.Entry{Type: audit.TypeResume, Body: []byte(fmt.Sprintf(`{"after_round":%d}`, after))}
	}
	setup, st, r1, r2, r3, end := e[0], e[1], e[2], e[3], e[4], e[5]
	// A resumed run sets up a new key epoch; the rounds after it decrypt
	// under that key.
	setup2, r1b, r2b, r3b := inEpoch(t, setup, 2), inEpoch(t, r1, 2), inEpoch(t, r2, 2), inEpoch(t, r3, 2)
	cases := []struct {
		name    string
		entries []audit.Entry
		entry   int // 0: verifies
		reason  string
	}{
		{"crash after a checkpoint", []audit.Entry{setup, st, r1, r2, resume(2), setup2, r3b, end}, 0, ""},
		{"resumed after an end", []audit.Entry{setup, st, r1, end, resume(1), setup2, r2b, r3b, end}, 0, ""},
		{"resume discards rounds", []audit.Entry{setup, st, r1, r2, resume(0), setup2, r1b, r2b, r3b, end}, 5, "rounds missing or discarded"},
		{"resume after a round not in the log", []audit.Entry{setup, st, r1, resume(2), setup2, r3b, end}, 4, "last completed round is 1"},
		// A redone round carries a fresh nonce: its old entry replayed
		// does not.
		{"redone round replayed", []audit.Entry{setup, st, r1, r2, resume(1), setup2, r2b, r3b, end}, 7, "already used"},
		{"resumed under the same key", []audit.Entry{setup, st, r1, r2, resume(2), setup, r3, end}, 6, "epochs only move forward"},
		{"a round under a key no setup began", []audit.Entry{setup, st, r1, r2, resume(2), setup2, r3, end}, 7, "which no setup or rekey entry began"},
		{"setup without a resume", []audit.Entry{setup, st, r1, setup, r2, r3, end}, 4, "second setup"},
		{"round after the end", []audit.Entry{setup, st, r1, r2, end, r3, end}, 6, "after the end entry"},
		{"crashed, not resumed", []audit.Entry{setup, st, r1, r2}, 5, "without an end entry"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyRun(t, base)
			rewrite(t, dir, keys, c.entries)
			run, err := audit.VerifyFile(filepath.Join(dir, sim.FileAudit), loadFed(t, dir), audit.Options{})
			if c.entry == 0 {
				if err != nil || !run.Verified || run.Resumes != 1 {
					t.Fatalf("%v (resumes %d)", err, run.Resumes)
				}
				return
			}
			var f *audit.Failure
			if !errors.As(err, &f) || f.Entry != c.entry || !strings.Contains(f.Reason, c.reason) {
				t.Fatalf("got %v, want entry %d: …%s…", err, c.entry, c.reason)
			}
		})
	}
}

// inEpoch returns e with its body's key epoch set to epoch.
func inEpoch(t *testing.T, e audit.Entry, epoch uint64) audit.Entry {
	t.Helper()
	var body map[string]any
	if err := json.Unmarshal(e.Body, &body); err != nil {
		t.Fatal(err)
	}
	body["key_epoch"] = epoch
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	e.Body = b
	return e
}
