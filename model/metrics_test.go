package model

import (
	"math"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-12 }

func checkMetrics(t *testing.T, got, want Metrics) {
	t.Helper()
	for _, f := range []struct {
		name      string
		got, want float64
	}{
		{"accuracy", got.Accuracy, want.Accuracy},
		{"precision", got.Precision, want.Precision},
		{"recall", got.Recall, want.Recall},
		{"f1", got.F1, want.F1},
		{"auc", got.AUC, want.AUC},
		{"mse", got.MSE, want.MSE},
	} {
		if !near(f.got, f.want) {
			t.Errorf("%s = %.15g, want %.15g", f.name, f.got, f.want)
		}
	}
	if !slices.EqualFunc(got.Confusion, want.Confusion, slices.Equal) {
		t.Errorf("confusion = %v, want %v", got.Confusion, want.Confusion)
	}
}

func TestAUCWithTies(t *testing.T) {
	tests := []struct {
		name  string
		score []float64
		y     []float64
		want  float64
	}{
		// Pairs (positive, negative): (.4,.1) 1, (.4,.4) ½, (.8,.1) 1, (.8,.4) 1, (.4,.1) 1, (.4,.4) ½.
		{"ties", []float64{0.1, 0.4, 0.4, 0.8, 0.4}, []float64{0, 0, 1, 1, 1}, 5.0 / 6},
		{"all tied", []float64{0.3, 0.3, 0.3, 0.3}, []float64{0, 1, 0, 1}, 0.5},
		{"perfect", []float64{0.1, 0.2, 0.8, 0.9}, []float64{0, 0, 1, 1}, 1},
		{"inverted", []float64{0.9, 0.8, 0.2, 0.1}, []float64{0, 0, 1, 1}, 0},
		{"one class", []float64{0.9, 0.8}, []float64{1, 1}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := auc(tt.score, tt.y, 1); !near(got, tt.want) {
				t.Errorf("auc = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestBinaryMetrics(t *testing.T) {
	// Predictions 1,1,0,0,1,1 (0.5 counts as positive): TP 2, FP 2, FN 1, TN 1.
	// AUC: 0.9 beats 3 negatives, 0.4 beats 1, 0.7 beats 3: 7/9.
	got := binaryMetrics([]float64{0.9, 0.6, 0.4, 0.2, 0.7, 0.5}, []float64{1, 0, 1, 0, 1, 0})
	checkMetrics(t, got, Metrics{
		Accuracy: 0.5, Precision: 0.5, Recall: 2.0 / 3, F1: 4.0 / 7, AUC: 7.0 / 9,
		Confusion: [][]int{{1, 2}, {1, 2}},
	})
	// No predicted positive and a single class: every undefined score is 0.
	got = binaryMetrics([]float64{0.1, 0.2}, []float64{0, 0})
	checkMetrics(t, got, Metrics{Accuracy: 1, Confusion: [][]int{{2, 0}, {0, 0}}})
}

func TestMulticlassMetrics(t *testing.T) {
	prob := []float64{
		0.7, 0.2, 0.1, // y 0 → 0
		0.3, 0.6, 0.1, // y 0 → 1
		0.2, 0.5, 0.3, // y 1 → 1
		0.1, 0.3, 0.6, // y 1 → 2
		0.1, 0.1, 0.8, // y 2 → 2
		0.5, 0.2, 0.3, // y 2 → 0
		0.2, 0.2, 0.6, // y 2 → 2
	}
	y := []float64{0, 0, 1, 1, 2, 2, 2}
	// Per class (P, R): (½, ½), (½, ½), (⅔, ⅔); one-vs-rest AUCs 9/10, 8/10, 10/12.
	got := multiclassMetrics(prob, 3, y)
	checkMetrics(t, got, Metrics{
		Accuracy: 4.0 / 7, Precision: 5.0 / 9, Recall: 5.0 / 9, F1: 5.0 / 9,
		AUC:       (0.9 + 0.8 + 10.0/12) / 3,
		Confusion: [][]int{{1, 1, 0}, {0, 1, 1}, {1, 0, 2}},
	})
	// A class absent from labels and predictions does not dilute the macro averages.
	prob4 := make([]float64, 0, 28)
	for i := range 7 {
		prob4 = append(prob4, prob[3*i:3*i+3]...)
		prob4 = append(prob4, 0)
	}
	got4 := multiclassMetrics(prob4, 4, y)
	if !near(got4.Precision, got.Precision) || !near(got4.AUC, got.AUC) {
		t.Errorf("with an absent 4th class: precision %v auc %v, want %v %v", got4.Precision, got4.AUC, got.Precision, got.AUC)
	}
}

func TestEvaluate(t *testing.T) {
	x := mat.NewDense(4, 1, []float64{2, -1, 0.5, -3})
	tests := []struct {
		name   string
		cfg    Config
		params []float64
		y      []float64
		want   Metrics
	}{
		{
			// p = σ(x): predictions 1, 0, 1, 0. AUC: 2 beats both negatives, −1 beats −3.
			name: "logreg", cfg: Config{Kind: KindLogReg, Inputs: 1, Outputs: 1, Loss: LossBCE},
			params: []float64{1, 0}, y: []float64{1, 1, 0, 0},
			want: Metrics{Accuracy: 0.5, Precision: 0.5, Recall: 0.5, F1: 0.5, AUC: 0.75, Confusion: [][]int{{1, 1}, {1, 1}}},
		},
		{
			// Logits (x, −x): class 1 wins where x < 0.
			name: "softmax/2 classes", cfg: Config{Kind: KindSoftmax, Inputs: 1, Outputs: 2, Loss: LossSoftmaxCE},
			params: []float64{1, -1, 0, 0}, y: []float64{0, 1, 0, 1},
			want: Metrics{Accuracy: 1, Precision: 1, Recall: 1, F1: 1, AUC: 1, Confusion: [][]int{{2, 0}, {0, 2}}},
		},
		{
			// ReLU hidden unit, output 0.25·relu(x) + 0.5 = 1, 0.5, 0.625, 0.5: all predicted positive;
			// errors 0, 0.5, 0.625, 0.5. AUC: 1 beats both negatives, 0.5 ties one and loses one.
			name: "mse", cfg: Config{Kind: KindMLP, Inputs: 1, Outputs: 1, Hidden: []int{1}, Loss: LossMSE},
			params: []float64{1, 0, 0.25, 0.5}, y: []float64{1, 1, 0, 0},
			want: Metrics{Accuracy: 0.5, Precision: 0.5, Recall: 1, F1: 2.0 / 3, AUC: 2.5 / 4, MSE: (0.25 + 0.625*0.625 + 0.25) / 4, Confusion: [][]int{{0, 2}, {0, 2}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := modelWith(t, tt.cfg, tt.params)
			checkMetrics(t, Evaluate(m, x, tt.y), tt.want)
		})
	}
}

func TestUndefinedMetrics(t *testing.T) {
	x := mat.NewDense(4, 1, []float64{2, -1, 0.5, -3})
	logreg := modelWith(t, Config{Kind: KindLogReg, Inputs: 1, Outputs: 1, Loss: LossBCE}, []float64{1, 0})
	softmax := modelWith(t, Config{Kind: KindSoftmax, Inputs: 1, Outputs: 3, Loss: LossSoftmaxCE}, []float64{1, -1, 0, 0, 0, 0})
	tests := []struct {
		name string
		m    *Model
		x    mat.Matrix
		y    []float64
		want []string
	}{
		{"both classes", logreg, x, []float64{1, 1, 0, 0}, nil},
		// p = σ(x): rows 1 and 3 predicted positive.
		{"negatives only", logreg, x, []float64{0, 0, 0, 0}, []string{"recall", "f1", "auc"}},
		{"positives only", logreg, x, []float64{1, 1, 1, 1}, []string{"auc"}},
		{"none predicted positive", logreg, mat.NewDense(2, 1, []float64{-1, -2}), []float64{0, 1}, []string{"precision"}},
		{"no rows (Evaluate returns the zero Metrics)", logreg, nil, nil, []string{"accuracy", "precision", "recall", "f1", "auc", "brier", "ece"}},
		{"softmax, one class present", softmax, x, []float64{2, 2, 2, 2}, []string{"auc"}},
		{"softmax, two classes present", softmax, x, []float64{2, 0, 2, 2}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			if tt.y == nil {
				got = Metrics{}.Undefined()
			} else {
				got = Evaluate(tt.m, tt.x, tt.y).Undefined()
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("undefined %q, want %q", got, tt.want)
			}
		})
	}
}
