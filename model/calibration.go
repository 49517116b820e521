package model

import "math"

// CalibrationBins is the number of equal-width bins of [0, 1] that the
// expected calibration error ([Metrics].ECE) groups predictions into.
const CalibrationBins = 10

// binaryCalibration returns the Brier score and the expected calibration
// error of probabilities p of class 1 against 0/1 labels y:
//
//	Brier = (1/N) Σᵢ (pᵢ − yᵢ)²
//	ECE   = Σ_b (n_b/N) · | mean_{i∈b} yᵢ − mean_{i∈b} pᵢ |
//
// where bin b holds the rows with b/M ≤ pᵢ < (b+1)/M (the last bin also
// pᵢ = 1) and M = [CalibrationBins]: the binary ECE of Naeini, Cooper and
// Hauskrecht, "Obtaining Well Calibrated Probabilities Using Bayesian
// Binning", AAAI 2015, on the probability of the positive class.
func binaryCalibration(p, y []float64) (brier, ece float64) {
	for i, v := range p {
		d := v - y[i]
		brier += d * d
	}
	return brier / float64(len(p)), calibrationError(p, y)
}

// multiclassCalibration returns the Brier score and the expected
// calibration error of K-class probabilities prob (rows × k, row-major)
// against class labels y:
//
//	Brier = (1/N) Σᵢ Σ_c (p_ic − [yᵢ = c])²
//	ECE   = Σ_b (n_b/N) · | accuracy in b − mean confidence in b |
//
// Brier's original score (Brier 1950), in [0, 2]. The ECE is the top-label
// one of Guo, Pleiss, Sun and Weinberger, "On Calibration of Modern Neural
// Networks", ICML 2017: the confidence of row i is the probability of its
// predicted class (the first most probable), it is correct when that class
// is yᵢ, and the bins are those of [binaryCalibration].
func multiclassCalibration(prob []float64, k int, y []float64) (brier, ece float64) {
	rows := len(y)
	conf := make([]float64, rows)
	hit := make([]float64, rows)
	for i := range rows {
		row := prob[i*k : (i+1)*k]
		for c, v := range row {
			d := v
			if float64(c) == y[i] {
				d = v - 1
			}
			brier += d * d
		}
		pred := argmax(row)
		conf[i] = row[pred]
		if float64(pred) == y[i] {
			hit[i] = 1
		}
	}
	return brier / float64(rows), calibrationError(conf, hit)
}

// calibrationError is Σ_b (n_b/N)·|Σ_{i∈b} outcomeᵢ − Σ_{i∈b} pᵢ|/n_b over
// the [CalibrationBins] bins of p.
func calibrationError(p, outcome []float64) float64 {
	var sumP, sumO [CalibrationBins]float64
	for i, v := range p {
		b := calibrationBin(v)
		sumP[b] += v
		sumO[b] += outcome[i]
	}
	var e float64
	for b := range sumP {
		e += math.Abs(sumO[b] - sumP[b])
	}
	return e / float64(len(p))
}

// calibrationBin returns the bin b with b/M ≤ p < (b+1)/M, M =
// [CalibrationBins], comparing with the edges b/M themselves (p·M may
// round across one); p = 1 goes in the last bin, and anything outside
// [0, 1] in the nearest.
func calibrationBin(p float64) int {
	const m = CalibrationBins
	if !(p > 0) {
		return 0
	}
	if p >= 1 {
		return m - 1
	}
	b := int(p * m)
	if b > 0 && p < float64(b)/m {
		b--
	}
	if b < m-1 && p >= float64(b+1)/m {
		b++
	}
	return min(b, m-1)
}
