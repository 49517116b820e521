package sim

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/fedcrypt/fedcrypt/aggregator"
	"github.com/fedcrypt/fedcrypt/audit"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/model"
)

// history is what a resumed run knows of the rounds before it: the
// rounds its log records up to the checkpoint, with the metrics an earlier
// process wrote to the rounds file where it got that far.
type history struct {
	rounds []RoundReport
	// epsilon is the largest ε any hospital claimed in the log, evaluation
	// releases and rounds the checkpoint discarded included: their spends
	// stay in the ledgers.
	epsilon float64
	// noise is the largest noise multiplier claimed for DP-SGD rounds.
	noise float64
}

// readHistory rebuilds the rounds of the run in dir up to the checkpoint
// cp from its audit log, which holds every round's contributors, bytes and
// signed claims, and from the rounds file (absent, or cut short by a kill)
// for what the log does not hold: metrics and durations. A round that file
// does not score stays unevaluated and untimed.
func readHistory(dir string, fed *federation.Config, cp *aggregator.Checkpoint) (*history, error) {
	path := filepath.Join(dir, FileAudit)
	run, err := audit.VerifyFile(path, fed, audit.Options{AllowUnprotected: true})
	if err != nil && !endMissing(run, err) {
		return nil, fmt.Errorf("resume %s: %w", dir, err)
	}
	h := &history{}
	var byRound map[uint64]float64
	byRound, h.epsilon, h.noise = claims(run)
	// A round completed after the checkpoint, or completed again after an
	// earlier resume, was not kept: its model was discarded and the round
	// run again.
	kept := make([]bool, len(run.Rounds))
	done := map[uint64]bool{}
	for i := len(run.Rounds) - 1; i >= 0; i-- {
		r := run.Rounds[i]
		kept[i] = !r.Completed || (r.Round <= cp.Round && !done[r.Round])
		if r.Completed && kept[i] {
			done[r.Round] = true
		}
	}
	scored := readRoundsFile(filepath.Join(dir, FileRounds))
	var eps float64
	for i, r := range run.Rounds {
		eps = max(eps, byRound[r.Round])
		if !kept[i] {
			continue
		}
		rep := RoundReport{Round: r.Round, Attempt: r.Attempt, Completed: r.Completed, Reason: r.Reason,
			Contributors: r.Contributors, Dropped: r.Dropped, DecryptSet: r.DecryptionSet, Epsilon: eps, BytesUp: r.BytesUp}
		for id := range r.Declined {
			rep.Declined = append(rep.Declined, id)
		}
		slices.Sort(rep.Declined)
		if s, ok := scored[roundKey{r.Round, r.Attempt, r.Completed}]; ok {
			rep.Seconds = s.seconds
			if r.Completed && s.evaluated {
				rep.Evaluated, rep.Metrics = true, s.metrics
			}
		}
		h.rounds = append(h.rounds, rep)
	}
	return h, nil
}

// endMissing reports whether err says only that the log has no end entry
// after its last: what a killed run leaves.
func endMissing(run *audit.Run, err error) bool {
	var f *audit.Failure
	return run != nil && errors.As(err, &f) && f.Entry == run.Entries+1
}

type roundKey struct {
	round     uint64
	attempt   int
	completed bool
}

type scoredRound struct {
	evaluated bool
	metrics   model.Metrics
	seconds   float64
}

var roundsHeader = []string{"round", "attempt", "completed", "contributors", "dropped", "accuracy", "f1", "auc",
	"epsilon", "bytes_up", "seconds", "precision", "recall", "brier", "ece"}

// readRoundsFile reads what it can of a rounds file: nothing when it is
// absent or unreadable, and only its whole lines when a kill cut it short.
// A round is scored only when every metric is in the file.
func readRoundsFile(path string) map[roundKey]scoredRound {
	out := map[roundKey]scoredRound{}
	raw, err := os.ReadFile(path)
	if err != nil {
		return out
	}
	raw = raw[:bytes.LastIndexByte(raw, '\n')+1]
	cr := csv.NewReader(bytes.NewReader(raw))
	if h, err := cr.Read(); err != nil || !slices.Equal(h, roundsHeader) {
		return out
	}
	for {
		rec, err := cr.Read()
		if err != nil { // the end, or a line the kill cut short
			return out
		}
		num := func(i int) (float64, bool) {
			v, err := strconv.ParseFloat(rec[i], 64)
			return v, err == nil
		}
		round, err1 := strconv.ParseUint(rec[0], 10, 64)
		attempt, err2 := strconv.Atoi(rec[1])
		completed, err3 := strconv.ParseBool(rec[2])
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		var s scoredRound
		var ok [7]bool
		s.metrics.Accuracy, ok[0] = num(5)
		s.metrics.F1, ok[1] = num(6)
		s.metrics.AUC, ok[2] = num(7)
		s.metrics.Precision, ok[3] = num(11)
		s.metrics.Recall, ok[4] = num(12)
		s.metrics.Brier, ok[5] = num(13)
		s.metrics.ECE, ok[6] = num(14)
		s.evaluated = !slices.Contains(ok[:], false)
		if v, ok := num(10); ok && v > 0 {
			s.seconds = v
		}
		out[roundKey{round, attempt, completed}] = s
	}
}

// roundRecord is a round's line of the rounds file; what is not known (a
// round not scored or not timed) is an empty cell.
func roundRecord(r RoundReport) []string {
	ff := func(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
	metric := func(v float64) string {
		if !r.Evaluated {
			return ""
		}
		return ff(v)
	}
	secs := ""
	if r.Seconds > 0 {
		secs = ff(r.Seconds)
	}
	return []string{strconv.FormatUint(r.Round, 10), strconv.Itoa(r.Attempt), strconv.FormatBool(r.Completed),
		strconv.Itoa(len(r.Contributors)), strconv.Itoa(len(r.Dropped)), metric(r.Accuracy),
		metric(r.F1), metric(r.AUC), ff(r.Epsilon), strconv.FormatInt(r.BytesUp, 10), secs, metric(r.Precision), metric(r.Recall),
		metric(r.Brier), metric(r.ECE)}
}

// roundsFile writes the rounds file as rounds complete, so that a killed
// run leaves the metrics of the rounds it finished on disk. Not safe for
// concurrent use.
type roundsFile struct {
	f   *os.File
	w   *csv.Writer
	err error
}

// createRoundsFile starts the rounds file at path with the rounds in prior.
func createRoundsFile(path string, prior []RoundReport) *roundsFile {
	f, err := os.Create(path)
	if err != nil {
		return &roundsFile{err: err}
	}
	rf := &roundsFile{f: f, w: csv.NewWriter(f)}
	rf.w.Write(roundsHeader)
	for _, r := range prior {
		rf.w.Write(roundRecord(r))
	}
	rf.flush()
	return rf
}

func (rf *roundsFile) add(r RoundReport) {
	if rf.err != nil {
		return
	}
	rf.w.Write(roundRecord(r))
	rf.flush()
}

func (rf *roundsFile) flush() {
	rf.w.Flush()
	if err := rf.w.Error(); err != nil && rf.err == nil {
		rf.err = err
	}
}

// close closes the file and returns the first error writing it.
func (rf *roundsFile) close() error {
	if rf.f != nil {
		if err := rf.f.Close(); err != nil && rf.err == nil {
			rf.err = err
		}
		rf.f = nil
	}
	return rf.err
}

// writeRounds writes the whole rounds file at path.
func writeRounds(path string, rounds []RoundReport) error {
	rf := createRoundsFile(path, rounds)
	return rf.close()
}

// metricsOf returns the model metrics of a report, nil for a round that
// was not scored.
func metricsOf(r *RoundReport) *model.Metrics {
	if !r.Evaluated {
		return nil
	}
	return &r.Metrics
}

// claims reads the ε the hospitals claimed in a verified log: the largest
// claimed in each round, the largest of all, and the largest DP-SGD noise
// multiplier (releases aside).
func claims(run *audit.Run) (byRound map[uint64]float64, epsilon, noise float64) {
	byRound = map[uint64]float64{}
	for _, h := range run.Hospitals {
		for _, s := range h.Spends {
			byRound[s.Round] = max(byRound[s.Round], s.Claimed)
			epsilon = max(epsilon, s.Claimed)
			if s.Release == "" {
				noise = max(noise, s.NoiseMultiplier)
			}
		}
	}
	return byRound, epsilon, noise
}
