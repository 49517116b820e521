package audit_test

import (
	"path/filepath"
	"testing"

	"github.com/fedcrypt/fedcrypt/audit"
	"github.com/fedcrypt/fedcrypt/sim"
)

// TestVerifyKeptLogs verifies logs kept in testdata as earlier releases of
// fedcrypt wrote them, whose bodies the hash chain and signatures fix byte
// for byte: every entry type the aggregator writes, each decoded as
// today's verifier reads it.
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
			completed, abandoned := 0, 0
			for _, r := range run.Rounds {
				if r.Completed {
					completed++
				} else {
					abandoned++
				}
			}
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
