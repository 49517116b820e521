package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/vault"
)

// dataFlags are the flags of every command that reads a data set: an
// embedded set's name or a CSV path (age-encrypted with --identity), and how
// to read it.
//
// The exported fields are recorded in a simulation's run directory so that
// a resumed run loads the same data again.
type dataFlags struct {
	Source   string     `json:"source"`
	keys     keyFlags   // never recorded: key files are asked for again
	Label    string     `json:"label,omitempty"`
	Positive string     `json:"positive,omitempty"`
	Drop     stringList `json:"drop,omitempty"`
	Missing  string     `json:"missing,omitempty"`
	Unit     string     `json:"privacy_unit,omitempty"`
	// Text is the free-text column; only commands that featurize text register
	// a flag for it (train's --text).
	Text string `json:"text,omitempty"`
	// SiteColumn, in a site-native simulation, is the column whose values
	// name the hospitals (sim --partition column:NAME).
	SiteColumn string `json:"site_column,omitempty"`
}

func (d *dataFlags) register(fs *flag.FlagSet, defaultSource string) {
	fs.StringVar(&d.Source, "data", defaultSource, "data set: "+strings.Join(data.EmbeddedNames(), ", ")+" (embedded), or a CSV file (.age: decrypted in memory with --identity)")
	d.keys.register(fs)
	fs.StringVar(&d.Label, "label", "", "label `column` (default: the embedded set's)")
	fs.StringVar(&d.Positive, "positive", "", "positive class `value` of a binary label (default: an embedded set's, else the larger of the two values, in numeric order if both are numbers, else in byte order)")
	fs.Var(&d.Drop, "drop", "`columns` to drop (comma-separated or repeated), e.g. an id column")
	fs.StringVar(&d.Missing, "missing", "mean", "missing values: mean or median (impute from training rows), or drop (the rows); cells "+missingCellsHelp()+" (any case) are missing")
	fs.StringVar(&d.Unit, "privacy-unit", "", "`column` naming the patient: DP protects everything about one patient")
}

// options returns the loading options the flags give, starting from the
// embedded set's defaults when the source is one.
func (d *dataFlags) options(defaults data.Options) data.Options {
	o := defaults
	if d.Label != "" {
		o.Label = d.Label
		if d.Positive == "" && d.Label != defaults.Label {
			o.Positive = ""
		}
	}
	if d.Positive != "" {
		o.Positive = d.Positive
	}
	o.Drop = append(o.Drop, d.Drop...)
	o.Missing = d.Missing
	o.PrivacyUnit = d.Unit
	o.Text = d.Text
	return o
}

// load reads the data set the flags name. The plaintext of an encrypted
// file is never written anywhere: it is decrypted as a stream into memory.
func (d *dataFlags) load(e *env) (*data.Dataset, *data.Report, error) {
	if csv, defaults, ok := data.Embedded(d.Source); ok {
		opt := d.options(defaults)
		if err := opt.Validate(); err != nil {
			return nil, nil, usageError{err.Error()}
		}
		return data.Load(bytes.NewReader(csv), d.Source, opt)
	}
	if d.Source == "" {
		return nil, nil, usagef("--data: no data set given")
	}
	if _, err := os.Stat(d.Source); errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("--data %s: no such file (embedded sets: %s)", d.Source, strings.Join(data.EmbeddedNames(), ", "))
	}
	opt := d.options(data.Options{})
	if opt.Label == "" {
		return nil, nil, usagef("--data %s: --label is required for a CSV file", d.Source)
	}
	if err := opt.Validate(); err != nil {
		return nil, nil, usageError{err.Error()}
	}
	id, err := d.keys.load(e)
	if err != nil {
		return nil, nil, err
	}
	r, err := vault.Open(d.Source, id)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	return data.Load(r, d.Source, opt)
}

// missingCellsHelp lists the cells every column reads as missing, for --help.
func missingCellsHelp() string {
	var quoted []string
	for _, m := range data.MissingMarkers() {
		quoted = append(quoted, strconv.Quote(m))
	}
	return strings.Join(quoted, ", ")
}
