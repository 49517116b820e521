package stats

import (
	"fmt"
	"math"
	"slices"
)

// maxTotal bounds the totals Decode accepts: beyond 2⁵³ a count is not
// exact in a float64, and no federation holds that many rows.
const maxTotal = 1 << 53

// z95 is the two-sided 95% normal quantile of the intervals.
const z95 = 1.959963984540054

// An Estimate is a released figure with its error: SE is the standard
// error from the DP noise (delta method for ratios), [Lo, Hi] the 95%
// interval. For a quantile the interval comes from bin edges (see
// [Group]) and SE is its half-width over 1.96.
type Estimate struct {
	Value float64 `json:"value"`
	SE    float64 `json:"se"`
	Lo    float64 `json:"lo"`
	Hi    float64 `json:"hi"`
}

// A Group is the statistics of one feature over a group of rows (one
// class, or all). The figures are of the clamped values; those that were
// not released, or whose count is too small to divide by (a noisy count
// below 1), are nil.
type Group struct {
	Count           Estimate  `json:"count"`
	Missing         Estimate  `json:"missing"`
	MissingFraction *Estimate `json:"missing_fraction,omitempty"`
	Mean            *Estimate `json:"mean,omitempty"`
	Variance        *Estimate `json:"variance,omitempty"`
	// Histogram holds the noisy bin counts, negative ones set to 0;
	// HistogramSE is each count's standard error.
	Histogram   []float64 `json:"histogram,omitempty"`
	HistogramSE float64   `json:"histogram_se,omitempty"`
	Q1          *Estimate `json:"q1,omitempty"`
	Median      *Estimate `json:"median,omitempty"`
	Q3          *Estimate `json:"q3,omitempty"`
	IQR         *Estimate `json:"iqr,omitempty"`
}

// A FeatureSummary is one feature's statistics, over all rows and per
// class, with what was declared about it.
type FeatureSummary struct {
	Name    string      `json:"name"`
	Bounds  *[2]float64 `json:"bounds,omitempty"`
	Edges   []float64   `json:"edges,omitempty"`
	All     Group       `json:"all"`
	ByClass []Group     `json:"by_class"`
}

// A Summary is the federation's statistics decoded from the summed noisy
// vectors.
type Summary struct {
	Classes   []string         `json:"classes"`
	Rows      Estimate         `json:"rows"`
	ClassRows []Estimate       `json:"class_rows"`
	Features  []FeatureSummary `json:"features"`
	// NoiseStdDev is the standard deviation of the noise in each
	// coordinate of the totals ([Release.TotalNoise]).
	NoiseStdDev float64 `json:"noise_std_dev"`
	// Text is the text block, nil without one.
	Text *TextSummary `json:"text,omitempty"`
}

// Decode returns the statistics in totals, the sum of the hospitals'
// noisy vectors, whose coordinates each carry Gaussian noise of standard
// deviation noiseStd (0 for exact totals). It fails, with a one-line
// error, if totals is not of the layout's length, holds a value that is
// not finite or beyond ±2⁵³, or noiseStd is negative or not finite.
//
// Over a group of g class blocks (g = 1 for a class, C for all rows) the
// noise of a summed coordinate has s = noiseStd·√g. With n the count, S
// and Q the sums of u and u², m and h the feature's midpoint and
// half-width, and z = 1.96:
//
//	mean      = m + h·S/n                      SE = h·(s/n)·√(1 + (S/n)²)
//	variance  = h²·max(0, Q/n − (S/n)²)        SE = h²·(s/n)·√(1 + 4(S/n)² + (2(S/n)² − Q/n)²)
//	missing   = M/(n + M)                      SE = s·√(n² + M²)/(n + M)²
//
// (delta method; the means of u are clipped to [−1, 1] and intervals to
// the bounds). A histogram's quantile p is read off the cumulative counts
// with negative bins set to 0, interpolating linearly within the bin; its
// interval runs from the lower edge of the first bin k whose cumulative
// fraction Fₖ = Aₖ/T could reach p (Fₖ + z·SEₖ ≥ p) to the upper edge of
// the first bin whose fraction surely does (Fₖ − z·SEₖ ≥ p), with Aₖ the
// noisy count up to bin k, Rₖ the rest, T = Aₖ + Rₖ and
//
//	SEₖ = s·√((k+1)·Rₖ² + (B−k−1)·Aₖ²) / T²
func (l *Layout) Decode(totals []float64, noiseStd float64) (*Summary, error) {
	if len(totals) != l.Len() {
		return nil, fmt.Errorf("stats decode: %d values, the layout has %d", len(totals), l.Len())
	}
	if !(noiseStd >= 0) || math.IsInf(noiseStd, 0) {
		return nil, fmt.Errorf("stats decode: noise standard deviation %v: must be a finite number ≥ 0", noiseStd)
	}
	for i, v := range totals {
		if !finite(v) || math.Abs(v) > maxTotal {
			return nil, fmt.Errorf("stats decode: value %d is not a finite number within ±2⁵³", i)
		}
	}
	nc := len(l.classes)
	s := &Summary{Classes: slices.Clone(l.classes), NoiseStdDev: noiseStd}
	all := make([]float64, l.block)
	for c := range nc {
		b := totals[c*l.block:][:l.block]
		for i, v := range b {
			all[i] += v
		}
		s.ClassRows = append(s.ClassRows, countEstimate(b[0], noiseStd))
	}
	sAll := noiseStd * math.Sqrt(float64(nc))
	s.Rows = countEstimate(all[0], sAll)
	for _, f := range l.features {
		fs := FeatureSummary{Name: f.name, All: f.group(all[f.off:][:f.width()], sAll)}
		if f.bounds != nil {
			fs.Bounds = &[2]float64{f.bounds[0], f.bounds[1]}
		}
		fs.Edges = slices.Clone(f.edges)
		for c := range nc {
			fs.ByClass = append(fs.ByClass, f.group(totals[c*l.block+f.off:][:f.width()], noiseStd))
		}
		s.Features = append(s.Features, fs)
	}
	if l.text != nil {
		s.Text = l.decodeText(totals, noiseStd, s.Rows)
	}
	return s, nil
}

// countEstimate is a noisy count: the value is set to 0 if negative, the
// interval is the raw count's.
func countEstimate(v, s float64) Estimate {
	return Estimate{Value: max(v, 0), SE: s, Lo: v - z95*s, Hi: v + z95*s}
}

// group decodes one feature's coordinates x (of one block, or summed over
// blocks) whose noise has standard deviation s.
func (f *featureLayout) group(x []float64, s float64) Group {
	n, m := x[0], x[1]
	g := Group{Count: countEstimate(n, s), Missing: countEstimate(m, s)}
	if t := n + m; t >= 1 {
		v := m / t
		se := s * math.Hypot(n, m) / (t * t)
		g.MissingFraction = &Estimate{Value: min(max(v, 0), 1), SE: se, Lo: max(v-z95*se, 0), Hi: min(v+z95*se, 1)}
	}
	i := 2
	if f.moments {
		if n >= 1 {
			g.Mean, g.Variance = f.decodeMoments(n, x[2], x[3], s)
		}
		i += 2
	}
	if f.edges != nil {
		g.Histogram = make([]float64, f.bins())
		for b, c := range x[i:][:f.bins()] {
			g.Histogram[b] = max(c, 0)
		}
		g.HistogramSE = s
		g.Q1 = f.quantile(x[i:][:f.bins()], g.Histogram, 0.25, s)
		g.Median = f.quantile(x[i:][:f.bins()], g.Histogram, 0.5, s)
		g.Q3 = f.quantile(x[i:][:f.bins()], g.Histogram, 0.75, s)
		if g.Q1 != nil && g.Q3 != nil {
			v, lo, hi := g.Q3.Value-g.Q1.Value, max(g.Q3.Lo-g.Q1.Hi, 0), g.Q3.Hi-g.Q1.Lo
			g.IQR = &Estimate{Value: v, SE: (hi - lo) / (2 * z95), Lo: lo, Hi: hi}
		}
	}
	return g
}

// decodeMoments returns the mean and variance from the count n ≥ 1 and the
// sums S of u and Q of u².
func (f *featureLayout) decodeMoments(n, sum, sumsq, s float64) (mean, variance *Estimate) {
	lo, hi := f.bounds[0], f.bounds[1]
	mid, h := lo/2+hi/2, hi/2-lo/2
	a, b := sumsq/n, min(max(sum/n, -1), 1)
	se := h * (s / n) * math.Sqrt(1+b*b)
	mv := mid + h*b
	mean = &Estimate{Value: mv, SE: se, Lo: max(mv-z95*se, lo), Hi: min(mv+z95*se, hi)}
	vu := min(max(a-b*b, 0), 1)
	sev := h * h * (s / n) * math.Sqrt(1+4*b*b+(2*b*b-a)*(2*b*b-a))
	vv := h * h * vu
	variance = &Estimate{Value: vv, SE: sev, Lo: max(vv-z95*sev, 0), Hi: min(vv+z95*sev, h*h)}
	return mean, variance
}

// quantile returns the p-quantile from the raw noisy bin counts and the
// same set to ≥ 0, or nil if the histogram holds less than one row.
func (f *featureLayout) quantile(raw, clipped []float64, p, s float64) *Estimate {
	var total float64
	for _, c := range clipped {
		total += c
	}
	rawTotal := 0.0
	for _, c := range raw {
		rawTotal += c
	}
	if total < 1 || rawTotal < 1 {
		return nil
	}
	nb := len(raw)
	// The point: interpolate within the bin where the cumulative count of
	// the clipped histogram reaches p·total.
	target, cum := p*total, 0.0
	value := f.edges[nb]
	for b, c := range clipped {
		if c > 0 && cum+c >= target {
			value = f.edges[b] + (target-cum)/c*(f.edges[b+1]-f.edges[b])
			break
		}
		cum += c
	}
	// The interval, from the raw cumulative fractions.
	kLo, kHi := nb-1, nb-1
	foundLo := false
	a := 0.0
	for k := range nb {
		a += raw[k]
		r := rawTotal - a
		frac := a / rawTotal
		se := s * math.Sqrt(float64(k+1)*r*r+float64(nb-k-1)*a*a) / (rawTotal * rawTotal)
		if !foundLo && frac+z95*se >= p {
			kLo, foundLo = k, true
		}
		if frac-z95*se >= p {
			kHi = k
			break
		}
	}
	lo, hi := f.edges[kLo], f.edges[kHi+1]
	value = min(max(value, lo), hi)
	return &Estimate{Value: value, SE: (hi - lo) / (2 * z95), Lo: lo, Hi: hi}
}
