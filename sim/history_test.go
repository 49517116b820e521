package sim

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedcrypt/fedcrypt/model"
)

// TestRoundsFileKeepsMetrics writes the rounds file and reads it back as a
// resumed run does: every metric, calibration included, to the file's 6
// significant digits; a line that lacks one is not scored.
func TestRoundsFileKeepsMetrics(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileRounds)
	m := model.Metrics{Accuracy: 0.947368, Precision: 0.931818, Recall: 0.931818, F1: 0.931818, AUC: 0.990079,
		Brier: 0.0412345, ECE: 0.0487654}
	in := []RoundReport{
		{Round: 1, Attempt: 1, Completed: true, Evaluated: true, Metrics: m, Epsilon: 0.5, Seconds: 0.1},
		{Round: 2, Attempt: 1, Completed: true, Epsilon: 0.7},
	}
	if err := writeRounds(path, in); err != nil {
		t.Fatal(err)
	}
	got := readRoundsFile(path)
	s, ok := got[roundKey{1, 1, true}]
	if !ok || !s.evaluated {
		t.Fatalf("round 1 not scored: %+v", got)
	}
	for _, f := range []struct {
		name      string
		got, want float64
	}{
		{"accuracy", s.metrics.Accuracy, m.Accuracy}, {"f1", s.metrics.F1, m.F1},
		{"auc", s.metrics.AUC, m.AUC}, {"precision", s.metrics.Precision, m.Precision}, {"recall", s.metrics.Recall, m.Recall},
		{"brier", s.metrics.Brier, m.Brier}, {"ece", s.metrics.ECE, m.ECE},
	} {
		if math.Abs(f.got-f.want) > 1e-6*f.want {
			t.Errorf("%s = %v, want %v", f.name, f.got, f.want)
		}
	}
	if s := got[roundKey{2, 1, true}]; s.evaluated {
		t.Errorf("round 2 was not scored, read back as scored: %+v", s)
	}

	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(raw), "\n")
	line := lines[1]
	lines[1] = line[:strings.LastIndexByte(line, ',')+1] // round 1 without its ECE
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	if s := readRoundsFile(path)[roundKey{1, 1, true}]; s.evaluated {
		t.Errorf("a line without its ECE read back as scored: %+v", s)
	}
}
