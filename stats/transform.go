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

// Transform returns the federation's transform from its statistics: the
// only preprocessing a hospital applies, identical at every hospital and
// carried by the model, with nothing fitted on one hospital's rows.
// For each feature, over all rows:
//
//	fill   impute "mean": the DP mean; "median": the DP median
//	clamp  the declared bounds, where declared
//	zscore shift = DP mean, scale = the DP standard deviation where the DP
//	       variance is more than 2 standard errors above 0, else the DP
//	       IQR/1.349 (the standard deviation of a normal law with that
//	       IQR) where a histogram was released, else (hi − lo)/4; at
//	       least 1e-3·(hi − lo)
//	minmax shift = lo, scale = hi − lo, from the declared bounds (or the
//	       histogram's declared outer edges without bounds)
//	none   shift = 0, scale = 1
//
// impute is data.MissingMean or data.MissingMedian ("" = mean), normalize
// data.NormalizeZScore, NormalizeMinMax or NormalizeNone ("" = zscore).
// It fails, naming the feature, when the statistics it needs were not
// released (no bounds for a mean, no histogram for a median) or are too
// noisy to use (a noisy count below 1).
func (s *Summary) Transform(impute, normalize string) (*data.Transform, error) {
	if impute == "" {
		impute = data.MissingMean
	}
	if normalize == "" {
		normalize = data.NormalizeZScore
	}
	t := &data.Transform{Impute: impute, Normalize: normalize}
	switch {
	case impute != data.MissingMean && impute != data.MissingMedian:
		return nil, fmt.Errorf("stats transform: impute %q: want %q or %q", impute, data.MissingMean, data.MissingMedian)
	case normalize != data.NormalizeZScore && normalize != data.NormalizeMinMax && normalize != data.NormalizeNone:
		return nil, fmt.Errorf("stats transform: normalize %q: want %q, %q or %q", normalize, data.NormalizeZScore, data.NormalizeMinMax, data.NormalizeNone)
	}
	clamped := false
	for _, f := range s.Features {
		fill, shift, scale, err := f.transform(impute, normalize)
		if err != nil {
			return nil, fmt.Errorf("stats transform: feature %q: %w", f.Name, err)
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
		return nil, fmt.Errorf("stats transform: %w", err)
	}
	return t, nil
}

// transform returns one feature's fill, shift and scale.
func (f *FeatureSummary) transform(impute, normalize string) (fill, shift, scale float64, err error) {
	g := &f.All
	switch {
	case impute == data.MissingMedian && g.Median == nil && f.Edges == nil:
		return 0, 0, 0, fmt.Errorf("median imputation needs a histogram (declared bins or edges)")
	case impute == data.MissingMedian && g.Median == nil:
		return 0, 0, 0, fmt.Errorf("median imputation: the histogram holds %.3g rows, too few", g.Count.Value)
	case impute == data.MissingMedian:
		fill = g.Median.Value
	case f.Bounds == nil:
		return 0, 0, 0, fmt.Errorf("mean imputation needs declared bounds")
	case g.Mean == nil:
		return 0, 0, 0, fmt.Errorf("mean imputation: a noisy count of %.3g rows is too few", g.Count.Value)
	default:
		fill = g.Mean.Value
	}
	switch normalize {
	case data.NormalizeNone:
		return fill, 0, 1, nil
	case data.NormalizeMinMax:
		switch {
		case f.Bounds != nil:
			return fill, f.Bounds[0], f.Bounds[1] - f.Bounds[0], nil
		case f.Edges != nil:
			return fill, f.Edges[0], f.Edges[len(f.Edges)-1] - f.Edges[0], nil
		}
		return 0, 0, 0, fmt.Errorf("minmax needs declared bounds or histogram edges")
	}
	if f.Bounds == nil || g.Mean == nil {
		return 0, 0, 0, fmt.Errorf("zscore needs declared bounds and a DP mean and variance")
	}
	return fill, g.Mean.Value, f.spread(), nil
}

// spread returns the z-score scale of a feature with bounds and a DP mean
// (see [Summary.Transform]).
func (f *FeatureSummary) spread() float64 {
	g, width := &f.All, f.Bounds[1]-f.Bounds[0]
	var sd float64
	switch {
	case g.Variance.Value > 2*g.Variance.SE:
		sd = math.Sqrt(g.Variance.Value)
	case g.IQR != nil && g.IQR.Value > 0:
		sd = g.IQR.Value / iqrPerSD
	default:
		sd = width / 4
	}
	return max(sd, minScaleFraction*width)
}
