package audit

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Plot is one figure of a report, as a standalone SVG document.
type Plot struct {
	Name  string // file-name stem: "epsilon", "metrics", "participation"
	Title string
	SVG   []byte
}

// plot sizes, in points.
const (
	plotWidth  = 6.5 * vg.Inch
	plotHeight = 3.2 * vg.Inch
)

// Plots draws the report's figures: ε over rounds per hospital against its
// cap (runs with DP), test accuracy, AUC and, when the run published it,
// expected calibration error over rounds (when metrics are known), and
// participation per round.
func (r *Report) Plots() ([]Plot, error) {
	var out []Plot
	add := func(name, title string, p *plot.Plot, err error) error {
		if err != nil {
			return fmt.Errorf("plot %s: %w", name, err)
		}
		if p == nil {
			return nil
		}
		svg, err := renderSVG(p)
		if err != nil {
			return fmt.Errorf("plot %s: %w", name, err)
		}
		out = append(out, Plot{Name: name, Title: title, SVG: svg})
		return nil
	}
	if r.Run.DP {
		p, err := r.epsilonPlot()
		if err := add("epsilon", "ε spent per hospital over rounds, against its cap (equal spends draw over each other)", p, err); err != nil {
			return nil, err
		}
	}
	if len(r.Metrics) > 0 {
		p, err := r.metricsPlot()
		title := "Test accuracy and ROC AUC of the global model over rounds"
		if r.Metrics[0].Calibrated {
			title = "Test accuracy, ROC AUC and expected calibration error (lower is better) of the global model over rounds"
		}
		if err := add("metrics", title, p, err); err != nil {
			return nil, err
		}
	}
	p, err := r.participationPlot()
	if err := add("participation", "Participation per round", p, err); err != nil {
		return nil, err
	}
	if st := r.Run.Statistics; st != nil && st.Summary != nil {
		p, err := statisticsPlot(st)
		if err := add("statistics", "Statistics phase: each feature's DP mean with its 95% interval (dot and bar) and the centre "+
			"the federation's transform uses (cross), on the feature's declared range from −1 (lower bound) to 1 (upper)", p, err); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// statisticsPlot draws, for each feature with declared bounds, the DP
// mean and its 95% interval and the transform's centre, rescaled to the
// bounds, −1 to 1; nil when no feature has bounds.
func statisticsPlot(st *StatisticsFacts) (*plot.Plot, error) {
	p := newPlot("", "position in the declared range")
	rescale := func(v float64, b *[2]float64) float64 {
		return math.Max(-1.5, math.Min(1.5, (v-(b[0]+b[1])/2)/((b[1]-b[0])/2)))
	}
	var means, centres plotter.XYs
	var names []string
	for j, f := range st.Summary.Features {
		if f.Bounds == nil {
			continue
		}
		x := float64(len(names))
		names = append(names, f.Name)
		centres = append(centres, plotter.XY{X: x, Y: rescale(st.Transform.Shift[j], f.Bounds)})
		m := f.All.Mean
		if m == nil {
			continue
		}
		means = append(means, plotter.XY{X: x, Y: rescale(m.Value, f.Bounds)})
		bar, err := plotter.NewLine(plotter.XYs{{X: x, Y: rescale(m.Lo, f.Bounds)}, {X: x, Y: rescale(m.Hi, f.Bounds)}})
		if err != nil {
			return nil, err
		}
		bar.Color = plotutil.Color(0)
		p.Add(bar)
	}
	if len(names) == 0 {
		return nil, nil
	}
	for i, s := range []struct {
		name string
		xy   plotter.XYs
	}{{"DP mean, 95% interval", means}, {"the transform's centre", centres}} {
		if len(s.xy) == 0 {
			continue
		}
		pts, err := plotter.NewScatter(s.xy)
		if err != nil {
			return nil, err
		}
		pts.Color = plotutil.Color(i)
		pts.Shape = plotutil.Shape(2 * i)
		p.Add(pts)
		p.Legend.Add(s.name, pts)
	}
	p.NominalX(names...)
	p.X.Tick.Label.Rotation = math.Pi / 2
	p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = draw.XRight, draw.YCenter
	p.Y.Min, p.Y.Max = -1.6, 1.9
	p.Legend.Top, p.Legend.Left = true, true
	return p, nil
}

func newPlot(xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.X.Label.Text, p.Y.Label.Text = xLabel, yLabel
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.Legend.Left = true
	return p
}

// wholeTicks marks an axis that counts whole things (rounds, hospitals)
// at whole numbers only, about five of them: never a "2.50" round.
type wholeTicks struct{}

func (wholeTicks) Ticks(lo, hi float64) []plot.Tick {
	first, last := math.Ceil(lo), math.Floor(hi)
	if !(last >= first) {
		return nil
	}
	step := math.Max(1, math.Ceil((last-first)/5))
	var ts []plot.Tick
	for v := first; v <= last; v += step {
		ts = append(ts, plot.Tick{Value: v, Label: fmt.Sprint(v)})
	}
	return ts
}

func (r *Report) epsilonPlot() (*plot.Plot, error) {
	p := newPlot("round", "ε (claimed, signed by the hospital)")
	capVal, maxRound := 0.0, 1.0
	for i, h := range r.Run.Hospitals {
		if !h.Contributor || len(h.Spends) == 0 {
			continue
		}
		capVal = math.Max(capVal, h.Cap)
		xy := make(plotter.XYs, 0, len(h.Spends)+1)
		xy = append(xy, plotter.XY{X: 0, Y: 0})
		for _, s := range h.Spends {
			xy = append(xy, plotter.XY{X: float64(s.Round), Y: s.Claimed})
			maxRound = math.Max(maxRound, float64(s.Round))
		}
		l, pts, err := plotter.NewLinePoints(xy)
		if err != nil {
			return nil, err
		}
		l.Color, pts.Color = plotutil.Color(i), plotutil.Color(i)
		pts.Shape = plotutil.Shape(i)
		p.Add(l, pts)
		p.Legend.Add(h.ID, l, pts)
	}
	if capVal > 0 {
		c, err := plotter.NewLine(plotter.XYs{{X: 0, Y: capVal}, {X: maxRound, Y: capVal}})
		if err != nil {
			return nil, err
		}
		c.Color = color.RGBA{R: 200, A: 255}
		c.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
		c.Width = vg.Points(1.5)
		p.Add(c)
		p.Legend.Add(fmt.Sprintf("cap ε = %g", capVal), c)
		p.Y.Max = capVal * 1.15
	}
	p.Y.Min, p.X.Min = 0, 0
	p.X.Tick.Marker = wholeTicks{}
	// ε rises from the lower left: the lower right is free for the legend.
	p.Legend.Top, p.Legend.Left = false, false
	return p, nil
}

func (r *Report) metricsPlot() (*plot.Plot, error) {
	p := newPlot("round", "on held-out test rows")
	var acc, auc, ece plotter.XYs
	for _, m := range r.Metrics {
		if !m.Completed {
			continue
		}
		acc = append(acc, plotter.XY{X: float64(m.Round), Y: m.Accuracy})
		auc = append(auc, plotter.XY{X: float64(m.Round), Y: m.AUC})
		if m.Calibrated {
			ece = append(ece, plotter.XY{X: float64(m.Round), Y: m.ECE})
		}
	}
	if len(acc) == 0 {
		return nil, nil
	}
	series := []struct {
		name string
		xy   plotter.XYs
	}{{"accuracy", acc}, {"ROC AUC", auc}}
	if len(ece) > 0 {
		series = append(series, struct {
			name string
			xy   plotter.XYs
		}{"expected calibration error", ece})
	}
	for i, s := range series {
		l, pts, err := plotter.NewLinePoints(s.xy)
		if err != nil {
			return nil, err
		}
		l.Color, pts.Color, pts.Shape = plotutil.Color(i), plotutil.Color(i), plotutil.Shape(i)
		p.Add(l, pts)
		p.Legend.Add(s.name, l, pts)
	}
	p.Y.Min, p.Y.Max = 0, 1.05
	p.X.Tick.Marker = wholeTicks{}
	p.Legend.Top, p.Legend.Left = false, false
	return p, nil
}

func (r *Report) participationPlot() (*plot.Plot, error) {
	if len(r.Run.Rounds) == 0 {
		return nil, nil
	}
	p := newPlot("round (attempt)", "hospitals")
	n := len(r.Run.Rounds)
	series := []struct {
		name string
		v    func(RoundFacts) int
	}{
		{"contributed", func(f RoundFacts) int { return len(f.Contributors) }},
		{"declined", func(f RoundFacts) int { return len(f.Declined) }},
		// A hospital that left after its upload still contributed.
		{"dropped out before uploading", func(f RoundFacts) int {
			n := 0
			for _, id := range f.Dropped {
				if !slices.Contains(f.Contributors, id) {
					n++
				}
			}
			return n
		}},
	}
	var below *plotter.BarChart
	labels := make([]string, n)
	for i, f := range r.Run.Rounds {
		labels[i] = fmt.Sprint(f.Round)
		if f.Attempt > 1 || !f.Completed {
			labels[i] = fmt.Sprintf("%d (%d)", f.Round, f.Attempt)
		}
		if !f.Completed {
			labels[i] += " ✗"
		}
	}
	width := vg.Points(math.Max(4, math.Min(28, 360/float64(n))))
	for i, s := range series {
		vals := make(plotter.Values, n)
		for j, f := range r.Run.Rounds {
			vals[j] = float64(s.v(f))
		}
		b, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return nil, err
		}
		b.Color = plotutil.Color(i)
		b.LineStyle.Width = 0
		if below != nil {
			b.StackOn(below)
		}
		below = b
		p.Add(b)
		p.Legend.Add(s.name, b)
	}
	if n <= 30 {
		p.NominalX(labels...)
	}
	// Headroom above the bars for the legend.
	p.Y.Min, p.Y.Max = 0, math.Ceil(float64(len(r.Run.Hospitals))*1.45)
	p.Y.Tick.Marker = wholeTicks{}
	p.Legend.Top, p.Legend.Left = true, false
	return p, nil
}

// renderSVG draws p as an SVG document without its XML prolog, ready to
// inline in HTML or save as a file.
func renderSVG(p *plot.Plot) ([]byte, error) {
	c := vgsvg.New(plotWidth, plotHeight)
	p.Draw(draw.New(c))
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return nil, err
	}
	svg := b.Bytes()
	if i := bytes.Index(svg, []byte("<svg")); i > 0 {
		svg = svg[i:]
	}
	return svg, nil
}
