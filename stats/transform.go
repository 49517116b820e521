package stats

import (
	"fmt"
	"math"

	"github.com/fedcrypt/fedcrypt/data"
)

// minScaleFraction floors a z-score scale at this fraction of the declared
// range, so that a feature whose DP variance comes out near 0 does not
// blow its values up.
const minScaleFraction = 1e-3

// iqrPerSD is the interquartile range of a normal law over its standard
// deviation, 2·Φ⁻¹(0.75).
const iqrPerSD = 1.3489795003921634

// Limits beyond which a DP estimate is too noisy to shape the transform:
// a mean whose 95% interval is wider than maxMeanSpan of the declared
// range, a quantile whose interval spans more than maxQuantileBins bins.
const (
	maxMeanSpan     = 1.0 / 4
	maxQuantileBins = 4
)

// Transform returns the federation's transform from its statistics: the
// only preprocessing a hospital applies, identical at every hospital and
// carried by the model, with nothing fitted on one hospital's rows.
// For each feature, over all rows, each figure is the first usable one of
// its list:
//
//	fill   impute "mean": the DP mean, the DP median;
//	       impute "median": the DP median, the DP mean;
//	       then the midpoint of the declared bounds, then 0
//	clamp  the declared bounds, where declared
//	zscore shift: the DP mean, the DP median, the midpoint, 0;
//	       scale: the DP standard deviation, the DP IQR/1.349 (the
//	       standard deviation of a normal law with that IQR), a quarter
//	       of the declared range, 1; at least 1e-3·(hi − lo)
//	minmax shift = lo, scale = hi − lo, from the declared bounds
//	none   shift = 0, scale = 1
//
// A DP mean is usable when its 95% interval is at most a quarter of the
// declared range wide; a variance when it is more than 2 standard errors
// above 0; a quantile when its interval spans at most 4 histogram bins.
// Each fallback past the first figure is named in notes, one line per
// feature: the release was too noisy (or too small) to use there.
//
// impute is data.MissingMean or data.MissingMedian ("" = mean), normalize
// data.NormalizeZScore, NormalizeMinMax or NormalizeNone ("" = zscore).
// It fails only on an unknown impute or normalize, or minmax for a
// feature without declared bounds. Without numeric features (a schema of
// a text column only) there is nothing to transform: t is nil.
func (s *Summary) Transform(impute, normalize string) (t *data.Transform, notes []string, err error) {
	if impute == "" {
		impute = data.MissingMean
	}
	if normalize == "" {
		normalize = data.NormalizeZScore
	}
	t = &data.Transform{Impute: impute, Normalize: normalize}
	switch {
	case impute != data.MissingMean && impute != data.MissingMedian:
		return nil, nil, fmt.Errorf("stats transform: impute %q: want %q or %q", impute, data.MissingMean, data.MissingMedian)
	case normalize != data.NormalizeZScore && normalize != data.NormalizeMinMax && normalize != data.NormalizeNone:
		return nil, nil, fmt.Errorf("stats transform: normalize %q: want %q, %q or %q", normalize, data.NormalizeZScore, data.NormalizeMinMax, data.NormalizeNone)
	case len(s.Features) == 0:
		return nil, nil, nil
	}
	clamped := false
	for _, f := range s.Features {
		fill, shift, scale, note, err := f.transform(impute, normalize)
		if err != nil {
			return nil, nil, fmt.Errorf("stats transform: feature %q: %w", f.Name, err)
		}
		if note != "" {
			notes = append(notes, fmt.Sprintf("feature %q: %s", f.Name, note))
		}
		t.Fill, t.Shift, t.Scale = append(t.Fill, fill), append(t.Shift, shift), append(t.Scale, scale)
		var c *[2]float64
		if f.Bounds != nil {
			c, clamped = &[2]float64{f.Bounds[0], f.Bounds[1]}, true
		}
		t.Clamp = append(t.Clamp, c)
	}
	if !clamped {
		t.Clamp = nil
	}
	if err := t.Validate(); err != nil {
		return nil, nil, fmt.Errorf("stats transform: %w", err)
	}
	return t, notes, nil
}

// transform returns one feature's fill, shift and scale, and a note on
// any figure that fell back.
func (f *FeatureSummary) transform(impute, normalize string) (fill, shift, scale float64, note string, err error) {
	if normalize == data.NormalizeMinMax && f.Bounds == nil {
		return 0, 0, 0, "", fmt.Errorf("minmax needs declared bounds")
	}
	mean, median := f.usableMean(), f.usableQuantile(f.All.Median)
	var mid float64
	if f.Bounds != nil {
		mid = f.Bounds[0]/2 + f.Bounds[1]/2
	}
	var fell []string
	// centre is the first usable of the DP mean (or median first), the
	// midpoint and 0; fellBack says whether it was not the first choice.
	centre := func(medianFirst bool) (v float64, what string) {
		first, second, names := mean, median, [2]string{"mean", "median"}
		if medianFirst {
			first, second, names = median, mean, [2]string{"median", "mean"}
		}
		switch {
		case first != nil:
			return first.Value, ""
		case second != nil:
			return second.Value, "the DP " + names[1] + " instead of the too noisy DP " + names[0]
		case f.Bounds != nil:
			return mid, "the midpoint of the declared bounds instead of the too noisy DP " + names[0]
		}
		return 0, "0 (no declared bounds, DP " + names[0] + " too noisy)"
	}
	fill, what := centre(impute == data.MissingMedian)
	if what != "" {
		fell = append(fell, "fill "+what)
	}
	switch normalize {
	case data.NormalizeNone:
		shift, scale = 0, 1
	case data.NormalizeMinMax:
		shift, scale = f.Bounds[0], f.Bounds[1]-f.Bounds[0]
	default:
		var w string
		if shift, w = centre(false); w != "" {
			fell = append(fell, "shift "+w)
		}
		if scale, w = f.spread(); w != "" {
			fell = append(fell, "scale "+w)
		}
	}
	for i, s := range fell {
		if i == 0 {
			note = s
		} else {
			note += "; " + s
		}
	}
	return fill, shift, scale, note, nil
}

// usableMean returns the DP mean if it is usable, else nil.
func (f *FeatureSummary) usableMean() *Estimate {
	m := f.All.Mean
	if m == nil || f.Bounds == nil || 2*z95*m.SE > maxMeanSpan*(f.Bounds[1]-f.Bounds[0]) {
		return nil
	}
	return m
}

// usableQuantile returns q if its interval spans at most maxQuantileBins
// histogram bins, else nil.
func (f *FeatureSummary) usableQuantile(q *Estimate) *Estimate {
	if q == nil || len(f.Edges) < 2 {
		return nil
	}
	bins := 0
	for b := range len(f.Edges) - 1 {
		if f.Edges[b+1] > q.Lo && f.Edges[b] < q.Hi {
			bins++
		}
	}
	if bins > maxQuantileBins {
		return nil
	}
	return q
}

// spread returns the z-score scale of a feature (see [Summary.Transform])
// and what it fell back to, if anything.
func (f *FeatureSummary) spread() (float64, string) {
	g := &f.All
	var sd float64
	var what string
	switch q1, q3 := f.usableQuantile(g.Q1), f.usableQuantile(g.Q3); {
	case g.Variance != nil && f.usableMean() != nil && g.Variance.Value > 2*g.Variance.SE:
		sd = math.Sqrt(g.Variance.Value)
	case q1 != nil && q3 != nil && g.IQR.Value > 0:
		sd, what = g.IQR.Value/iqrPerSD, "the DP IQR/1.349 instead of the too noisy DP standard deviation"
	case f.Bounds != nil:
		sd, what = (f.Bounds[1]-f.Bounds[0])/4, "a quarter of the declared range instead of the too noisy DP standard deviation"
	default:
		return 1, "1 (no declared bounds, DP spread too noisy)"
	}
	if f.Bounds != nil {
		sd = max(sd, minScaleFraction*(f.Bounds[1]-f.Bounds[0]))
	}
	return sd, what
}
