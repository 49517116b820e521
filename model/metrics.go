package model

import (
	"cmp"
	"slices"

	"gonum.org/v1/gonum/mat"
)

// Metrics are a classifier's scores on held-out rows. Confusion[t][p] counts rows of true class t
// predicted as p. For two classes precision, recall and F1 are those of the positive class 1; for
// more they are macro averages over the classes present in the labels or the predictions, and AUC is
// the macro average of one-vs-rest AUCs over the classes present in the labels. A score whose
// denominator is zero (no predicted positives, a single class in the labels) is 0.
//
// Brier and ECE say how far the predicted probabilities can be taken at their word: for two classes
// both are of the probability of class 1, the ECE over [CalibrationBins] equal-width bins of it
// (Naeini et al. 2015); for more, Brier sums over the classes and the ECE bins the probability of
// the predicted class (Guo et al. 2017). [binaryCalibration] and [multiclassCalibration] give the
// formulas. Both are 0 for perfect, certain predictions; lower is better.
type Metrics struct {
	Accuracy  float64 `json:"accuracy"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	AUC       float64 `json:"auc"`
	Brier     float64 `json:"brier"`
	ECE       float64 `json:"ece"`
	Confusion [][]int `json:"confusion,omitempty"`
	// MSE is the mean squared error of an MSE model (mean over rows and outputs).
	MSE float64 `json:"mse,omitempty"`
}

// Undefined returns the JSON names of the metrics that have no value on the
// rows they were computed on, whose fields then hold 0: every one without
// rows; "auc" when the rows hold a single class; for a binary classifier,
// "precision" when no row is predicted positive, "recall" (and "f1") when
// no row is positive. It reads [Metrics.Confusion], so it says nothing of a
// model scored by MSE alone.
func (m Metrics) Undefined() []string {
	k := len(m.Confusion)
	rows, present := 0, 0
	for _, r := range m.Confusion {
		n := 0
		for _, c := range r {
			n += c
		}
		rows += n
		if n > 0 {
			present++
		}
	}
	if rows == 0 {
		if m.MSE != 0 {
			return nil
		}
		return []string{"accuracy", "precision", "recall", "f1", "auc", "brier", "ece"}
	}
	var out []string
	if k == 2 {
		if m.Confusion[0][1]+m.Confusion[1][1] == 0 {
			out = append(out, "precision")
		}
		if m.Confusion[1][0]+m.Confusion[1][1] == 0 {
			out = append(out, "recall", "f1")
		}
	}
	if present < 2 {
		out = append(out, "auc")
	}
	return out
}

// Evaluate scores m on the rows of x with labels y (as in [Model.Backward]). A binary model
// predicts class 1 when its probability is at least 0.5, a softmax model the most probable class.
// An MSE model reports MSE, and with one output and 0/1 labels also the classification scores of
// its output read as a probability. It panics if a label is invalid ([Config.CheckTargets]).
func Evaluate(m *Model, x mat.Matrix, y []float64) Metrics {
	rows, _ := x.Dims()
	if rows == 0 {
		return Metrics{}
	}
	if err := m.cfg.CheckTargets(y); err != nil {
		panic(err.Error())
	}
	m.checkTargets(y, rows)
	k := m.cfg.Outputs
	p := mat.NewDense(rows, k, nil)
	m.Predict(p, x)
	scores := p.RawMatrix().Data

	var mt Metrics
	switch m.head {
	case headMSE:
		for i, v := range scores {
			d := v - y[i]
			mt.MSE += d * d
		}
		mt.MSE /= float64(len(scores))
		if k != 1 || !binaryLabels(y) {
			return mt
		}
		fallthrough
	case headSigmoidBCE:
		mse := mt.MSE
		mt = binaryMetrics(scores, y)
		mt.MSE = mse
	default:
		mt = softmaxMetrics(scores, k, y)
	}
	return mt
}

// softmaxMetrics scores the class probabilities of a softmax head (rows × k, row-major): with two
// classes as a binary classifier on the probability of class 1.
func softmaxMetrics(scores []float64, k int, y []float64) Metrics {
	if k == 2 {
		pos := make([]float64, len(y))
		for i := range pos {
			pos[i] = scores[2*i+1]
		}
		return binaryMetrics(pos, y)
	}
	return multiclassMetrics(scores, k, y)
}

func binaryLabels(y []float64) bool {
	for _, v := range y {
		if v != 0 && v != 1 {
			return false
		}
	}
	return true
}

// binaryMetrics scores probabilities of class 1 against 0/1 labels with threshold 0.5.
func binaryMetrics(score, y []float64) Metrics {
	conf := [][]int{{0, 0}, {0, 0}}
	for i, s := range score {
		pred := 0
		if s >= 0.5 {
			pred = 1
		}
		conf[int(y[i])][pred]++
	}
	tp, fp, fn := conf[1][1], conf[0][1], conf[1][0]
	prec, rec := ratio(tp, tp+fp), ratio(tp, tp+fn)
	brier, ece := binaryCalibration(score, y)
	return Metrics{
		Accuracy:  ratio(conf[0][0]+tp, len(y)),
		Precision: prec,
		Recall:    rec,
		F1:        f1(prec, rec),
		AUC:       max(auc(score, y, 1), 0),
		Brier:     brier,
		ECE:       ece,
		Confusion: conf,
	}
}

// multiclassMetrics scores K-class probabilities (rows × k, row-major) against class labels.
func multiclassMetrics(prob []float64, k int, y []float64) Metrics {
	rows := len(y)
	conf := make([][]int, k)
	for c := range conf {
		conf[c] = make([]int, k)
	}
	for i := range rows {
		row := prob[i*k : (i+1)*k]
		conf[int(y[i])][argmax(row)]++
	}
	var mt Metrics
	correct, present := 0, 0
	for c := range k {
		tp, predicted, actual := conf[c][c], 0, 0
		for r := range k {
			predicted += conf[r][c]
			actual += conf[c][r]
		}
		correct += tp
		if predicted+actual == 0 {
			continue
		}
		present++
		prec, rec := ratio(tp, predicted), ratio(tp, actual)
		mt.Precision += prec
		mt.Recall += rec
		mt.F1 += f1(prec, rec)
	}
	mt.Precision /= float64(present)
	mt.Recall /= float64(present)
	mt.F1 /= float64(present)
	mt.Accuracy = ratio(correct, rows)
	mt.Confusion = conf
	mt.Brier, mt.ECE = multiclassCalibration(prob, k, y)

	score := make([]float64, rows)
	aucs := 0
	for c := range k {
		for i := range score {
			score[i] = prob[i*k+c]
		}
		if a := auc(score, y, float64(c)); a >= 0 {
			mt.AUC += a
			aucs++
		}
	}
	if aucs > 0 {
		mt.AUC /= float64(aucs)
	}
	return mt
}

// auc returns the ROC AUC of score for label pos against all other labels: the Mann–Whitney
// statistic, the probability that a random positive outscores a random negative, ties counting
// one half (average ranks). It returns −1 when y has no positive or no negative.
func auc(score, y []float64, pos float64) float64 {
	idx := make([]int, len(score))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(score[a], score[b]) })
	var rankSum float64
	npos := 0
	for lo := 0; lo < len(idx); {
		hi := lo + 1
		for hi < len(idx) && score[idx[hi]] == score[idx[lo]] {
			hi++
		}
		avg := float64(lo+hi+1) / 2 // mean of the 1-based ranks lo+1 … hi
		for _, i := range idx[lo:hi] {
			if y[i] == pos {
				rankSum += avg
				npos++
			}
		}
		lo = hi
	}
	nneg := len(y) - npos
	if npos == 0 || nneg == 0 {
		return -1
	}
	return (rankSum - float64(npos)*float64(npos+1)/2) / (float64(npos) * float64(nneg))
}

func argmax(v []float64) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func f1(p, r float64) float64 {
	if p+r == 0 {
		return 0
	}
	return 2 * p * r / (p + r)
}
