package data

import (
	"fmt"
	"math"
	"strconv"

	"gonum.org/v1/gonum/mat"
)

// A Site is one hospital's rows from [MultiSite], as the hospital holds
// them: in its own units, with the columns it does not measure missing.
type Site struct {
	Data *Dataset
	// Scale is the site's declaration of its units: each named column,
	// multiplied by its factor, is in the federation's units
	// ([Dataset.ScaleColumns]). Nil when the site uses the federation's.
	Scale map[string]float64
	// Absent names the columns the site does not measure: missing in
	// every row of Data.
	Absent []string
	// Shift is the mean of the site's population in the federation's
	// standardized units, per feature (0: the reference population).
	Shift []float64
}

// MultiSite features, their units and the federation's population in them:
// a row's features are mean + sd·(shift + z), z ~ N(0, I).
var multiSiteFeatures = []struct {
	name     string
	mean, sd float64
}{
	{"age", 55, 12},      // years
	{"sbp", 132, 18},     // systolic blood pressure, mmHg
	{"glucose", 108, 26}, // fasting glucose, mg/dL
	{"bmi", 27, 5},       // kg/m²
}

// multiSiteWeights are the true logistic model on standardized features.
var multiSiteWeights = []float64{1.4, 1.2, 2.0, 1.0}

// mgdlPerMmol converts glucose from mmol/L to mg/dL.
const mgdlPerMmol = 18.016

// MultiSite returns four synthetic hospitals whose data differ as real
// centres' do, rows rows each, deterministic given seed. The label
// ("outcome", classes "0", "1") follows one logistic model everywhere,
//
//	P(y = 1 | z) = 1 / (1 + exp(−(w·z − 1))),  w = (1.4, 1.2, 2.0, 1.0)
//
// on the features standardized in the federation's units (z, see Site.Shift), so a
// model on harmonized features serves every site. The sites:
//
//	site-a  the reference population
//	site-b  an older, hypertensive population: z shifted by (+1.5, +1.5, +1, 0)
//	site-c  glucose in mmol/L (declared: Scale glucose 18.016), z shifted by (−0.5, 0, −0.5, 0)
//	site-d  does not measure bmi (absent), otherwise the reference population
//
// Normalizing each site on its own rows erases site-b's and site-c's
// shifts, which carry risk: their rows are then scored as if from the
// reference population. MultiSite panics unless rows ≥ 2.
func MultiSite(rows int, seed uint64) []Site {
	if rows < 2 {
		panic(fmt.Sprintf("data: MultiSite(%d rows): want at least 2", rows))
	}
	sites := []Site{
		{Shift: []float64{0, 0, 0, 0}},
		{Shift: []float64{1.5, 1.5, 1, 0}},
		{Shift: []float64{-0.5, 0, -0.5, 0}, Scale: map[string]float64{"glucose": mgdlPerMmol}},
		{Shift: []float64{0, 0, 0, 0}, Absent: []string{"bmi"}},
	}
	for s := range sites {
		sites[s].Data = multiSiteRows(rows, sites[s], seed, s)
	}
	return sites
}

// multiSiteRows draws one site's rows as the site holds them.
func multiSiteRows(rows int, site Site, seed uint64, s int) *Dataset {
	rng, _ := newRand("multisite/"+strconv.Itoa(s), seed)
	nf := len(multiSiteFeatures)
	d := &Dataset{
		Name:    "site-" + string(rune('a'+s)),
		X:       mat.NewDense(rows, nf, nil),
		Y:       make([]float64, rows),
		Classes: []string{"0", "1"},
		Label:   "outcome",
		Missing: MissingMean,
	}
	for _, f := range multiSiteFeatures {
		d.Features = append(d.Features, f.name)
	}
	for i := range rows {
		row := d.X.RawRowView(i)
		logit := -1.0
		for j, f := range multiSiteFeatures {
			z := site.Shift[j] + rng.NormFloat64()
			logit += multiSiteWeights[j] * z
			row[j] = f.mean + f.sd*z
			if k, ok := site.Scale[f.name]; ok {
				row[j] /= k
			}
		}
		if rng.Float64() < 1/(1+math.Exp(-logit)) {
			d.Y[i] = 1
		}
		for j, f := range multiSiteFeatures {
			for _, a := range site.Absent {
				if a == f.name {
					row[j] = math.NaN()
				}
			}
		}
	}
	return d
}

// ScaleColumns multiplies each named column by its factor, in place: a
// site's declared conversion of its units into the federation's ([Site]).
// It fails, changing nothing, if a column is not a feature, a factor is
// not a finite number > 0, or a product would be infinite.
func (d *Dataset) ScaleColumns(factors map[string]float64) error {
	cols := make(map[int]float64, len(factors))
	for name, k := range factors {
		j := -1
		for c, f := range d.Features {
			if f == name {
				j = c
			}
		}
		if j < 0 {
			return fmt.Errorf("scale columns of %q: %q is not a feature", d.Name, quote(name))
		}
		if !(k > 0) || math.IsInf(k, 0) {
			return fmt.Errorf("scale columns of %q: column %q: factor %v is not a finite number > 0", d.Name, quote(name), k)
		}
		for i := range d.Rows() {
			if math.IsInf(d.X.At(i, j)*k, 0) {
				return fmt.Errorf("scale columns of %q: column %q, row %d: scaled value is not finite", d.Name, quote(name), i)
			}
		}
		cols[j] = k
	}
	for j, k := range cols {
		for i := range d.Rows() {
			d.X.Set(i, j, d.X.At(i, j)*k)
		}
	}
	return nil
}
