package data

import (
	"bytes"
	_ "embed"
	"fmt"
	"slices"
)

var (
	//go:embed embedded/wdbc.csv
	wdbcCSV []byte
	//go:embed embedded/digits.csv
	digitsCSV []byte
	//go:embed embedded/ATTRIBUTION.md
	attribution string
)

type embeddedSet struct {
	csv      []byte
	defaults Options
}

var embeddedSets = map[string]embeddedSet{
	// Breast Cancer Wisconsin (Diagnostic): 569 rows, 30 features, 212 malignant.
	"wdbc": {wdbcCSV, Options{Label: "diagnosis", Positive: "M"}},
	// Optical Recognition of Handwritten Digits (8×8): 1797 rows, 64 features, 10 classes.
	"digits": {digitsCSV, Options{Label: "digit"}},
}

// Embedded returns a copy of the embedded CSV called name ("wdbc" or
// "digits", see [EmbeddedNames]) and the Options that load it: label
// "diagnosis" with positive class "M" for wdbc, label "digit" for digits.
func Embedded(name string) (csv []byte, defaults Options, ok bool) {
	s, ok := embeddedSets[name]
	if !ok {
		return nil, Options{}, false
	}
	return bytes.Clone(s.csv), s.defaults, true
}

// EmbeddedNames returns the names of the embedded data sets, sorted.
func EmbeddedNames() []string {
	names := make([]string, 0, len(embeddedSets))
	for n := range embeddedSets {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// LoadEmbedded loads the embedded data set called name. Fields of opt left
// empty take the set's defaults: an empty Label takes the default label
// and, with it, the default positive class.
func LoadEmbedded(name string, opt Options) (*Dataset, *Report, error) {
	s, ok := embeddedSets[name]
	if !ok {
		return nil, nil, fmt.Errorf("no embedded data set %q (have %q)", name, EmbeddedNames())
	}
	if opt.Label == "" {
		opt.Label, opt.Positive = s.defaults.Label, s.defaults.Positive
	}
	if opt.Missing == "" {
		opt.Missing = s.defaults.Missing
	}
	d, rep, err := Load(bytes.NewReader(s.csv), name+".csv", opt)
	if err != nil {
		return nil, nil, err
	}
	d.Name = name
	return d, rep, nil
}

// Attribution returns the source and licence of the embedded data sets
// (Markdown), to be shown wherever they are redistributed or published.
func Attribution() string { return attribution }

// embeddedBounds are the declared ranges of the embedded sets' features:
// public knowledge, published with the data, never computed here. A
// federation on an embedded set clamps to them and normalizes with them.
//
//   - wdbc: the minimum and maximum of each feature as published in the
//     data set's description (scikit-learn's copy of the UCI
//     documentation, "Summary Statistics"), to its rounding;
//   - digits: every pixel is an integer count from 0 to 16 (the UCI
//     documentation of the 8×8 set).
var embeddedBounds = map[string]map[string][2]float64{
	"wdbc": {
		"radius_mean":             {6.981, 28.11},
		"texture_mean":            {9.71, 39.28},
		"perimeter_mean":          {43.79, 188.5},
		"area_mean":               {143.5, 2501.0},
		"smoothness_mean":         {0.053, 0.163},
		"compactness_mean":        {0.019, 0.345},
		"concavity_mean":          {0.0, 0.427},
		"concave_points_mean":     {0.0, 0.201},
		"symmetry_mean":           {0.106, 0.304},
		"fractal_dimension_mean":  {0.05, 0.097},
		"radius_se":               {0.112, 2.873},
		"texture_se":              {0.36, 4.885},
		"perimeter_se":            {0.757, 21.98},
		"area_se":                 {6.802, 542.2},
		"smoothness_se":           {0.002, 0.031},
		"compactness_se":          {0.002, 0.135},
		"concavity_se":            {0.0, 0.396},
		"concave_points_se":       {0.0, 0.053},
		"symmetry_se":             {0.008, 0.079},
		"fractal_dimension_se":    {0.001, 0.03},
		"radius_worst":            {7.93, 36.04},
		"texture_worst":           {12.02, 49.54},
		"perimeter_worst":         {50.41, 251.2},
		"area_worst":              {185.2, 4254.0},
		"smoothness_worst":        {0.071, 0.223},
		"compactness_worst":       {0.027, 1.058},
		"concavity_worst":         {0.0, 1.252},
		"concave_points_worst":    {0.0, 0.291},
		"symmetry_worst":          {0.156, 0.664},
		"fractal_dimension_worst": {0.055, 0.208},
	},
	"digits": digitsBounds(),
}

func digitsBounds() map[string][2]float64 {
	b := map[string][2]float64{}
	for i := range 64 {
		b[fmt.Sprintf("px%d", i)] = [2]float64{0, 16}
	}
	return b
}

// EmbeddedBounds returns the declared ranges [lo, hi] of the embedded data
// set called name's features, by feature name, and false for another name.
// They are public: published with the data set.
func EmbeddedBounds(name string) (map[string][2]float64, bool) {
	b, ok := embeddedBounds[name]
	if !ok {
		return nil, false
	}
	out := make(map[string][2]float64, len(b))
	for k, v := range b {
		out[k] = v
	}
	return out, true
}
