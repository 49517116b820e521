package stats

import (
	"fmt"
	"math"
)

// Scores is the layout of an evaluation release: what a hospital counts
// when it scores a model on rows it held out, so that the federation's
// totals (through the encrypted sum) and each site's own release (sealed
// to the auditors) give accuracy, precision, recall, F1 and AUC without
// any row leaving it. The vector holds
//
//	confusion[t][p]     rows of true class t predicted as p, t, p = 0 … K−1
//	hist[c][side][b]    for each scored class c: rows whose probability of
//	                    c falls in bin b of Bins equal-width bins of [0, 1],
//	                    side 0 for rows of class c, side 1 for the others
//
// where the scored classes are class 1 for two classes and every class for
// more (one-vs-rest). A row adds 1 to one confusion cell and 1 to one bin
// of each scored class, so the vector's L2 sensitivity under add/remove of
// one row is √(1 + scored) ([Scores.Sensitivity]); with Bins zero, the
// release is the confusion matrix alone, of sensitivity 1.
type Scores struct {
	Classes int // K ≥ 2
	Bins    int // probability bins per scored class and side; 0 for none
}

// scored returns how many classes have histograms.
func (s Scores) scored() int {
	switch {
	case s.Bins == 0:
		return 0
	case s.Classes == 2:
		return 1
	}
	return s.Classes
}

// Len is the length of the release's vector.
func (s Scores) Len() int { return s.Classes*s.Classes + 2*s.scored()*s.Bins }

// Sensitivity is the vector's L2 sensitivity under add/remove of one row.
func (s Scores) Sensitivity() float64 { return math.Sqrt(float64(1 + s.scored())) }

// Check validates the layout.
func (s Scores) Check() error {
	if s.Classes < 2 || s.Bins < 0 || s.Bins > 1000 {
		return fmt.Errorf("evaluation layout: %d classes and %d bins: want ≥ 2 classes and 0 to 1000 bins", s.Classes, s.Bins)
	}
	return nil
}

// Count returns the release's vector for rows scored prob (one slice per
// row: the probability of class 1 alone for a binary model of one output,
// else one probability per class) with true classes y. A binary row
// predicts class 1 when its probability is at least 0.5, others their
// most probable class, as [model.Evaluate] does.
func (s Scores) Count(prob [][]float64, y []float64) ([]int64, error) {
	if len(prob) != len(y) {
		return nil, fmt.Errorf("evaluation: %d scored rows for %d labels", len(prob), len(y))
	}
	k := s.Classes
	out := make([]int64, s.Len())
	p := make([]float64, k)
	for i, row := range prob {
		t := int(y[i])
		if float64(t) != y[i] || t < 0 || t >= k {
			return nil, fmt.Errorf("evaluation: row %d: label %v is not a class index below %d", i, y[i], k)
		}
		switch len(row) {
		case 1:
			if k != 2 {
				return nil, fmt.Errorf("evaluation: row %d: one probability for %d classes", i, k)
			}
			p[1] = min(1, max(0, row[0]))
			p[0] = 1 - p[1]
		case k:
			copy(p, row)
		default:
			return nil, fmt.Errorf("evaluation: row %d: %d probabilities for %d classes", i, len(row), k)
		}
		pred := 0
		if k == 2 {
			if p[1] >= 0.5 {
				pred = 1
			}
		} else {
			for c := range p {
				if p[c] > p[pred] {
					pred = c
				}
			}
		}
		out[t*k+pred]++
		for j := range s.scored() {
			c := j
			if k == 2 {
				c = 1
			}
			side := 1
			if t == c {
				side = 0
			}
			b := min(s.Bins-1, max(0, int(math.Floor(p[c]*float64(s.Bins)))))
			out[s.bin(j, side, b)]++
		}
	}
	return out, nil
}

// bin is the index of bin b of the side's histogram of scored class j.
func (s Scores) bin(j, side, b int) int {
	return s.Classes*s.Classes + (2*j+side)*s.Bins + b
}

// ScoreMetrics are a model's scores read from an evaluation release.
// Counts are noisy: negative totals are read as zero, and a score whose
// denominator is zero is listed in Undefined and left 0.
type ScoreMetrics struct {
	Rows      float64     `json:"rows"` // the confusion matrix's noisy total
	Accuracy  float64     `json:"accuracy"`
	Precision float64     `json:"precision"` // binary: of class 1; else macro average
	Recall    float64     `json:"recall"`
	F1        float64     `json:"f1"`
	AUC       float64     `json:"auc"` // binned: ties within a bin count one half
	Confusion [][]float64 `json:"confusion"`
	Undefined []string    `json:"undefined,omitempty"`
}

// Metrics reads the scores from a release's vector (noisy totals, or one
// site's noisy counts).
func (s Scores) Metrics(v []float64) (ScoreMetrics, error) {
	if len(v) != s.Len() {
		return ScoreMetrics{}, fmt.Errorf("evaluation: %d values, the layout has %d", len(v), s.Len())
	}
	k := s.Classes
	at := func(i int) float64 {
		if math.IsNaN(v[i]) || v[i] < 0 {
			return 0
		}
		return math.Round(v[i])
	}
	var m ScoreMetrics
	m.Confusion = make([][]float64, k)
	var diag float64
	for t := range k {
		m.Confusion[t] = make([]float64, k)
		for p := range k {
			c := at(t*k + p)
			m.Confusion[t][p] = c
			m.Rows += c
			if t == p {
				diag += c
			}
		}
	}
	if m.Rows == 0 {
		m.Undefined = []string{"accuracy", "precision", "recall", "f1", "auc"}
		return m, nil
	}
	m.Accuracy = diag / m.Rows
	m.Precision, m.Recall, m.F1 = ConfusionScores(m.Confusion)
	if k == 2 {
		if m.Confusion[0][1]+m.Confusion[1][1] == 0 {
			m.Undefined = append(m.Undefined, "precision")
		}
		if m.Confusion[1][0]+m.Confusion[1][1] == 0 {
			m.Undefined = append(m.Undefined, "recall", "f1")
		}
	}
	if s.scored() == 0 {
		m.Undefined = append(m.Undefined, "auc")
		return m, nil
	}
	var sum float64
	var n int
	for j := range s.scored() {
		pos, neg := make([]float64, s.Bins), make([]float64, s.Bins)
		for b := range s.Bins {
			pos[b], neg[b] = at(s.bin(j, 0, b)), at(s.bin(j, 1, b))
		}
		if a, ok := BinnedAUC(pos, neg); ok {
			sum += a
			n++
		}
	}
	if n == 0 {
		m.Undefined = append(m.Undefined, "auc")
	} else {
		m.AUC = sum / float64(n)
	}
	return m, nil
}

// BinnedAUC is the ROC AUC of two histograms over the same ordered bins of
// a score, pos of the positive rows and neg of the others: the probability
// that a random positive scores in a higher bin than a random negative,
// ties within a bin counting one half. ok is false when either histogram
// is empty.
func BinnedAUC(pos, neg []float64) (auc float64, ok bool) {
	var np, nn, below float64
	for _, c := range neg {
		nn += c
	}
	for b := range pos {
		auc += pos[b] * (below + neg[b]/2)
		below += neg[b]
		np += pos[b]
	}
	if np == 0 || nn == 0 {
		return 0, false
	}
	return auc / (np * nn), true
}

// ConfusionScores returns precision, recall and F1 from a confusion
// matrix (rows true, columns predicted): of class 1 for two classes, macro
// averages over every class otherwise.
func ConfusionScores(cm [][]float64) (precision, recall, f1 float64) {
	k := len(cm)
	one := func(c int) (p, r float64) {
		var col, row float64
		for i := range k {
			col += cm[i][c]
			row += cm[c][i]
		}
		if col > 0 {
			p = cm[c][c] / col
		}
		if row > 0 {
			r = cm[c][c] / row
		}
		return p, r
	}
	f := func(p, r float64) float64 {
		if p+r == 0 {
			return 0
		}
		return 2 * p * r / (p + r)
	}
	if k == 2 {
		p, r := one(1)
		return p, r, f(p, r)
	}
	for c := range k {
		p, r := one(c)
		precision += p / float64(k)
		recall += r / float64(k)
		f1 += f(p, r) / float64(k)
	}
	return precision, recall, f1
}
