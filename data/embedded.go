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
