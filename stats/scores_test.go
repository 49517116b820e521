package stats

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// randomScores draws n rows of k classes: probabilities loosely tied to
// the label, so that the AUC is neither 0.5 nor 1.
func randomScores(rng *rand.Rand, n, k int) ([][]float64, []float64) {
	prob := make([][]float64, n)
	y := make([]float64, n)
	for i := range prob {
		t := rng.IntN(k)
		y[i] = float64(t)
		w := make([]float64, k)
		var s float64
		for c := range w {
			w[c] = rng.Float64()
			if c == t {
				w[c] += rng.Float64()
			}
			s += w[c]
		}
		for c := range w {
			w[c] /= s
		}
		if k == 2 && i%2 == 0 {
			w = w[1:] // a one-output binary model
		}
		prob[i] = w
	}
	return prob, y
}

// exactAUC is the Mann–Whitney AUC of score for positives against the
// others, ties counting one half, by brute force over every pair.
func exactAUC(score []float64, pos []bool) float64 {
	var num, pairs float64
	for i := range score {
		for j := range score {
			if pos[i] && !pos[j] {
				pairs++
				switch cmp.Compare(score[i], score[j]) {
				case 1:
					num++
				case 0:
					num += 0.5
				}
			}
		}
	}
	return num / pairs
}

func classProb(row []float64, c int) float64 {
	if len(row) == 1 {
		if c == 1 {
			return row[0]
		}
		return 1 - row[0]
	}
	return row[c]
}

// TestScoresAgreeWithTheRows reads the release of noiseless counts back
// as scores, and checks them against the rows: accuracy and the confusion
// matrix exactly, the binned AUC within the binning's error of the exact
// one (and exactly where each row has a bin of its own).
func TestScoresAgreeWithTheRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, k := range []int{2, 3, 5} {
		prob, y := randomScores(rng, 400, k)
		for _, bins := range []int{10, 1000} {
			s := Scores{Classes: k, Bins: bins}
			counts, err := s.Count(prob, y)
			if err != nil {
				t.Fatal(err)
			}
			v := make([]float64, len(counts))
			for i, c := range counts {
				v[i] = float64(c)
			}
			m, err := s.Metrics(v)
			if err != nil {
				t.Fatal(err)
			}
			correct := 0
			for i, row := range prob {
				pred := 0
				for c := 1; c < k; c++ {
					if classProb(row, c) > classProb(row, pred) || (k == 2 && classProb(row, 1) >= 0.5) {
						pred = c
					}
				}
				if pred == int(y[i]) {
					correct++
				}
			}
			if want := float64(correct) / 400; m.Accuracy != want || m.Rows != 400 {
				t.Errorf("k=%d bins=%d: accuracy %v of %v rows, want %v of 400", k, bins, m.Accuracy, m.Rows, want)
			}
			scored := []int{1}
			if k > 2 {
				scored = []int{}
				for c := range k {
					scored = append(scored, c)
				}
			}
			var want float64
			for _, c := range scored {
				score := make([]float64, len(prob))
				pos := make([]bool, len(prob))
				for i, row := range prob {
					// The bin's lower edge: the binned AUC is exact for
					// scores that tie within bins and nowhere else.
					score[i] = math.Floor(classProb(row, c)*float64(bins)) / float64(bins)
					pos[i] = int(y[i]) == c
				}
				want += exactAUC(score, pos) / float64(len(scored))
			}
			if math.Abs(m.AUC-want) > 1e-12 {
				t.Errorf("k=%d bins=%d: binned AUC %v, by brute force over the binned scores %v", k, bins, m.AUC, want)
			}
		}
	}
}

// TestScoresSensitivity removes each row of random data sets in turn: the
// release's vector moves by exactly the stated L2 sensitivity, never more.
func TestScoresSensitivity(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, k := range []int{2, 4} {
		for _, bins := range []int{0, 7} {
			s := Scores{Classes: k, Bins: bins}
			prob, y := randomScores(rng, 60, k)
			all, err := s.Count(prob, y)
			if err != nil {
				t.Fatal(err)
			}
			var worst float64
			for i := range prob {
				less, err := s.Count(slices.Delete(slices.Clone(prob), i, i+1), slices.Delete(slices.Clone(y), i, i+1))
				if err != nil {
					t.Fatal(err)
				}
				var d2 float64
				for j := range all {
					d := float64(all[j] - less[j])
					d2 += d * d
				}
				worst = max(worst, math.Sqrt(d2))
			}
			if math.Abs(worst-s.Sensitivity()) > 1e-12 {
				t.Errorf("k=%d bins=%d: largest change %v, stated sensitivity %v", k, bins, worst, s.Sensitivity())
			}
		}
	}
}

func TestBinnedAUC(t *testing.T) {
	for _, c := range []struct {
		pos, neg []float64
		want     float64
		ok       bool
	}{
		{[]float64{0, 0, 3}, []float64{2, 0, 0}, 1, true},
		{[]float64{3, 0, 0}, []float64{0, 0, 2}, 0, true},
		{[]float64{1, 2, 3}, []float64{1, 2, 3}, 0.5, true},
		{[]float64{0, 0}, []float64{1, 1}, 0, false},
	} {
		got, ok := BinnedAUC(c.pos, c.neg)
		if ok != c.ok || math.Abs(got-c.want) > 1e-12 {
			t.Errorf("BinnedAUC(%v, %v) = %v, %v; want %v, %v", c.pos, c.neg, got, ok, c.want, c.ok)
		}
	}
}

func TestScoresRefuse(t *testing.T) {
	s := Scores{Classes: 3, Bins: 4}
	for name, f := range map[string]func() error{
		"label out of range": func() error { _, err := s.Count([][]float64{{0.2, 0.3, 0.5}}, []float64{3}); return err },
		"fractional label":   func() error { _, err := s.Count([][]float64{{0.2, 0.3, 0.5}}, []float64{0.5}); return err },
		"width":              func() error { _, err := s.Count([][]float64{{0.5, 0.5}}, []float64{0}); return err },
		"rows":               func() error { _, err := s.Count([][]float64{{0.2, 0.3, 0.5}}, nil); return err },
		"length":             func() error { _, err := s.Metrics(make([]float64, s.Len()-1)); return err },
		"classes":            func() error { return Scores{Classes: 1}.Check() },
	} {
		if f() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// Noisy totals below zero read as none.
	m, err := Scores{Classes: 2}.Metrics([]float64{-3, -1, 2, 5})
	if err != nil || m.Rows != 7 || m.Accuracy != 5.0/7 {
		t.Errorf("negative counts: %+v, %v", m, err)
	}
}
