package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/vault"
)

// dataFlags are the flags of every command that reads a data set: an
// embedded set's name or a CSV path (age-encrypted with --identity), and how
// to read it.
type dataFlags struct {
	source   string
	keys     keyFlags
	label    string
	positive string
	drop     stringList
	missing  string
	unit     string
}

func (d *dataFlags) register(fs *flag.FlagSet, defaultSource string) {
	fs.StringVar(&d.source, "data", defaultSource, "data set: "+strings.Join(data.EmbeddedNames(), ", ")+" (embedded), or a CSV file (.age: decrypted in memory with --identity)")
	d.keys.register(fs)
	fs.StringVar(&d.label, "label", "", "label `column` (default: the embedded set's)")
	fs.StringVar(&d.positive, "positive", "", "positive class `value` of a binary label")
	fs.Var(&d.drop, "drop", "`columns` to drop (comma-separated or repeated), e.g. an id column")
	fs.StringVar(&d.missing, "missing", "mean", "missing values: mean or median (impute from training rows), or drop (the rows)")
	fs.StringVar(&d.unit, "privacy-unit", "", "`column` naming the patient: DP protects everything about one patient")
}

// options returns the loading options the flags give, starting from the
// embedded set's defaults when the source is one.
func (d *dataFlags) options(defaults data.Options) data.Options {
	o := defaults
	if d.label != "" {
		o.Label = d.label
		if d.positive == "" && d.label != defaults.Label {
			o.Positive = ""
		}
	}
	if d.positive != "" {
		o.Positive = d.positive
	}
	o.Drop = append(o.Drop, d.drop...)
	o.Missing = d.missing
	o.PrivacyUnit = d.unit
	return o
}

// load reads the data set the flags name. The plaintext of an encrypted
// file is never written anywhere: it is decrypted as a stream into memory.
func (d *dataFlags) load(e *env) (*data.Dataset, *data.Report, error) {
	if csv, defaults, ok := data.Embedded(d.source); ok {
		opt := d.options(defaults)
		if err := opt.Validate(); err != nil {
			return nil, nil, usageError{err.Error()}
		}
		return data.Load(bytes.NewReader(csv), d.source, opt)
	}
	if d.source == "" {
		return nil, nil, usagef("--data: no data set given")
	}
	if _, err := os.Stat(d.source); errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("--data %s: no such file (embedded sets: %s)", d.source, strings.Join(data.EmbeddedNames(), ", "))
	}
	opt := d.options(data.Options{})
	if opt.Label == "" {
		return nil, nil, usagef("--data %s: --label is required for a CSV file", d.source)
	}
	if err := opt.Validate(); err != nil {
		return nil, nil, usageError{err.Error()}
	}
	id, err := d.keys.load(e)
	if err != nil {
		return nil, nil, err
	}
	r, err := vault.Open(d.source, id)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	return data.Load(r, d.source, opt)
}
