package audit_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedcrypt/fedcrypt/audit"
	"github.com/fedcrypt/fedcrypt/sim"
)

// TestVerifyKeptLogs verifies logs kept in testdata as earlier releases of
// fedcrypt wrote them, whose bodies the hash chain and signatures fix byte
// for byte: every entry type the aggregator writes, each decoded as
// today's verifier reads it, and the hospitals' signed claims in them
// envelopes of protocol version 1.
//
//   - resumed: `fedcrypt sim --seed 2 --rounds 6 --hospitals 4
//     --private-eval 0.2 --dropout 0.3`, killed after round 3 was
//     abandoned and resumed: abandoned rounds, a resume entry, a second
//     setup, a private evaluation;
//   - rekeyed: three rounds re-keyed before every round after the first
//     (he.key_epoch_rounds 1), on the aggregator's test preset.
func TestVerifyKeptLogs(t *testing.T) {
	for _, c := range []struct {
		dir                string
		entries, rounds    int
		abandoned, resumes int
		epochs             int
		evaluation         bool
	}{
		{dir: "resumed", entries: 14, rounds: 6, abandoned: 2, resumes: 1, epochs: 2, evaluation: true},
		{dir: "rekeyed", entries: 8, rounds: 3, epochs: 3},
	} {
		t.Run(c.dir, func(t *testing.T) {
			dir := filepath.Join("testdata", c.dir)
			run, err := audit.VerifyFile(filepath.Join(dir, sim.FileAudit), loadFed(t, dir), audit.Options{})
			if err != nil {
				t.Fatal(err)
			}
			completed, abandoned := countRounds(run)
			switch {
			case !run.Verified || run.Entries != c.entries || run.Ended == "":
				t.Fatalf("verified %v, %d entries, ended %q; want %d entries and an end", run.Verified, run.Entries, run.Ended, c.entries)
			case completed != c.rounds || abandoned != c.abandoned || run.Resumes != c.resumes:
				t.Fatalf("%d rounds completed, %d abandoned, %d resumes; want %d, %d, %d", completed, abandoned, run.Resumes, c.rounds, c.abandoned, c.resumes)
			case len(run.Epochs) != c.epochs:
				t.Fatalf("%d key epochs, want %d", len(run.Epochs), c.epochs)
			case run.Statistics == nil || (run.Evaluation != nil) != c.evaluation:
				t.Fatalf("statistics %v, evaluation %v; want a statistics release and evaluation %v", run.Statistics != nil, run.Evaluation != nil, c.evaluation)
			}
			for _, h := range run.Hospitals {
				if claimed, recomputed := h.Epsilon(); h.Contributor && (recomputed == 0 || claimed < recomputed*(1-audit.ClaimTolerance)) {
					t.Errorf("%s: claimed ε %g, recomputed %g", h.ID, claimed, recomputed)
				}
			}
		})
	}
}

// countRounds counts a run's completed rounds and abandoned attempts.
func countRounds(run *audit.Run) (completed, abandoned int) {
	for _, r := range run.Rounds {
		if r.Completed {
			completed++
		} else {
			abandoned++
		}
	}
	return completed, abandoned
}

// TestVerifyRunNamesAnUnknownKey renames one key of an entry's body, as a
// misspelling in the code writing it would, and re-signs the log: the
// failure is one line naming the entry, its type and the key.
func TestVerifyRunNamesAnUnknownKey(t *testing.T) {
	base := simRun(t, 1, nil)
	keys := partyKeys(t, base)
	entries := readEntries(t, filepath.Join(base, sim.FileAudit))
	for _, c := range []struct {
		entry    int
		key, typ string
	}{
		{1, "min_contributors", audit.TypeSetup},
		{2, "noise_std_dev", audit.TypeStatistics},
		{3, "bytes_up", audit.TypeRound},
		{3, "payload_digest", audit.TypeRound}, // in an upload's decoded claim
		{4, "reason", audit.TypeEnd},
	} {
		t.Run(c.typ+"/"+c.key, func(t *testing.T) {
			e := append([]audit.Entry(nil), entries...)
			at := &e[c.entry-1]
			if at.Type != c.typ {
				t.Fatalf("entry %d is a %s entry, want %s", c.entry, at.Type, c.typ)
			}
			misspelt := c.key + "s"
			at.Body = bytes.Replace(at.Body, []byte(`"`+c.key+`":`), []byte(`"`+misspelt+`":`), 1)
			if !bytes.Contains(at.Body, []byte(misspelt)) {
				t.Fatalf("entry %d has no key %q", c.entry, c.key)
			}
			dir := copyRun(t, base)
			rewrite(t, dir, keys, e)
			_, err := audit.VerifyFile(filepath.Join(dir, sim.FileAudit), loadFed(t, dir), audit.Options{})
			want := fmt.Sprintf("entry %d: %s: body: unknown key %q", c.entry, c.typ, misspelt)
			var f *audit.Failure
			if !errors.As(err, &f) || f.Error() != want {
				t.Fatalf("got %v, want %s", err, want)
			}
		})
	}
}

// bodyTypes returns a new value of every body type.
func bodyTypes() []audit.Body {
	return []audit.Body{new(audit.SetupBody), new(audit.StatisticsBody), new(audit.RoundBody), new(audit.RoundAbandonedBody),
		new(audit.ResumeBody), new(audit.EndBody), new(audit.EvaluationBody), new(audit.RekeyBody)}
}

// FuzzEntryBodies decodes arbitrary bodies as every entry type: no panic,
// every error one line, and what decodes encodes to a body that decodes
// to the same encoding.
func FuzzEntryBodies(f *testing.F) {
	seeds := 0
	for _, dir := range []string{"resumed", "rekeyed"} {
		for _, e := range readEntries(f, filepath.Join("testdata", dir, sim.FileAudit)) {
			f.Add([]byte(e.Body))
			seeds++
		}
	}
	if seeds == 0 {
		f.Fatal("no seed bodies")
	}
	f.Add([]byte(`{"round":1,"roud":2}`))
	f.Add([]byte(`{"after_round":null}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, body []byte) {
		for i, b := range bodyTypes() {
			e := audit.Entry{Type: b.EntryType(), Body: body}
			if err := e.DecodeBody(b); err != nil {
				if strings.Contains(err.Error(), "\n") {
					t.Fatalf("%s: error of more than one line: %q", e.Type, err)
				}
				continue
			}
			once, err := json.Marshal(b)
			if err != nil {
				t.Fatalf("%s: encode a decoded body: %v", e.Type, err)
			}
			again := bodyTypes()[i]
			e.Body = once
			if err := e.DecodeBody(again); err != nil {
				t.Fatalf("%s: decode %s: %v", e.Type, once, err)
			}
			if twice, _ := json.Marshal(again); !bytes.Equal(once, twice) {
				t.Fatalf("%s: %s decodes and encodes as %s", e.Type, once, twice)
			}
		}
	})
}
