package model

import (
	"encoding/json"
	"math"
	"os"
	"testing"
)

func TestBinaryCalibration(t *testing.T) {
	tests := []struct {
		name       string
		p, y       []float64
		brier, ece float64
	}{
		{"certain and right", []float64{0, 1, 1}, []float64{0, 1, 1}, 0, 0},
		{"certain and wrong", []float64{1, 0}, []float64{0, 1}, 1, 1},
		// Every row in bin 5, whose mean label is its mean probability.
		{"a coin", []float64{0.5, 0.5, 0.5, 0.5}, []float64{0, 1, 0, 1}, 0.25, 0},
		// Bin 9: mean label ½, mean probability 0.9.
		{"overconfident", []float64{0.9, 0.9}, []float64{1, 0}, (0.01 + 0.81) / 2, 0.4},
		// Each row alone in its bin: (.1 + .6 + .6 + .2 + .3 + .5)/6.
		{"one a bin", []float64{0.9, 0.6, 0.4, 0.2, 0.7, 0.5}, []float64{1, 0, 1, 0, 1, 0},
			(0.01 + 0.36 + 0.36 + 0.04 + 0.09 + 0.25) / 6, 2.3 / 6},
		// 0.1 opens bin 1 and 0.2 bin 2. Bin 0 holds 0.05 (label 0): 0.05; bin 1 holds 0.1
		// and 0.15 (mean label ½, mean probability 0.125): 2·0.375; bin 2 holds 0.2 (label 1):
		// 0.8; over 4 rows.
		{"edges open a bin", []float64{0.05, 0.1, 0.15, 0.2}, []float64{0, 1, 0, 1},
			(0.0025 + 0.81 + 0.0225 + 0.64) / 4, (0.05 + 2*0.375 + 0.8) / 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			brier, ece := binaryCalibration(tt.p, tt.y)
			if math.Abs(brier-tt.brier) > 1e-12 || math.Abs(ece-tt.ece) > 1e-12 {
				t.Errorf("Brier, ECE = %.15g, %.15g; want %.15g, %.15g", brier, ece, tt.brier, tt.ece)
			}
		})
	}
}

func TestCalibrationBin(t *testing.T) {
	tests := []struct {
		p    float64
		want int
	}{
		{0, 0}, {0.0999, 0}, {0.1, 1}, {0.3, 3}, {0.6, 6}, {0.7, 7}, {0.29999999999999993, 2},
		{0.9, 9}, {0.99, 9}, {1, 9}, {-0.5, 0}, {1.5, 9}, {math.NaN(), 0},
	}
	for _, tt := range tests {
		if got := calibrationBin(tt.p); got != tt.want {
			t.Errorf("calibrationBin(%v) = %d, want %d", tt.p, got, tt.want)
		}
	}
}

// calibrationCase is a case of testdata/calibration.json, written by
// testdata/calibration.py.
type calibrationCase struct {
	Name    string    `json:"name"`
	Classes int       `json:"classes"`
	Prob    []float64 `json:"prob"`
	Labels  []float64 `json:"labels"`
	Brier   float64   `json:"brier"`
	ECE     float64   `json:"ece"`
}

func readCalibrationCases(t *testing.T) []calibrationCase {
	t.Helper()
	b, err := os.ReadFile("testdata/calibration.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Cases []calibrationCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("testdata/calibration.json: %v", err)
	}
	if len(f.Cases) == 0 {
		t.Fatal("testdata/calibration.json: no cases")
	}
	return f.Cases
}

// TestCalibrationReference checks Brier and ECE, through the metrics of a
// binary and a softmax head, against exact values computed elsewhere.
func TestCalibrationReference(t *testing.T) {
	for _, c := range readCalibrationCases(t) {
		t.Run(c.Name, func(t *testing.T) {
			var got Metrics
			if c.Classes == 2 {
				got = binaryMetrics(c.Prob, c.Labels)
			} else {
				got = softmaxMetrics(c.Prob, c.Classes, c.Labels)
			}
			if math.Abs(got.Brier-c.Brier) > 1e-12 || math.Abs(got.ECE-c.ECE) > 1e-12 {
				t.Errorf("Brier, ECE = %.15g, %.15g; want %.15g, %.15g", got.Brier, got.ECE, c.Brier, c.ECE)
			}
		})
	}
}

func TestMulticlassCalibration(t *testing.T) {
	// Row 1 predicts 0 at 0.7, rightly; row 2 predicts 1 at 0.6, wrongly.
	// Brier: (.09 + .04 + .01) and (.49 + .36 + .01), halved. ECE: bins 7
	// and 6, |1 − .7| and |0 − .6|, halved.
	brier, ece := multiclassCalibration([]float64{0.7, 0.2, 0.1, 0.3, 0.6, 0.1}, 3, []float64{0, 0})
	if math.Abs(brier-0.5) > 1e-12 || math.Abs(ece-0.45) > 1e-12 {
		t.Errorf("Brier, ECE = %v, %v; want 0.5, 0.45", brier, ece)
	}
	// Two classes through a softmax head score as binary: the probability of class 1.
	m := softmaxMetrics([]float64{0.1, 0.9, 0.1, 0.9}, 2, []float64{1, 0})
	if math.Abs(m.Brier-0.41) > 1e-12 || math.Abs(m.ECE-0.4) > 1e-12 {
		t.Errorf("two-class softmax: Brier, ECE = %v, %v; want 0.41, 0.4", m.Brier, m.ECE)
	}
}
