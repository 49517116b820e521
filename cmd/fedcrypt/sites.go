package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/sim"
	"github.com/fedcrypt/fedcrypt/vault"
)

// siteNative says whether the flags name a site-native data set: several
// files (--data a.csv,b.csv) or one split by a column (--partition
// column:NAME).
func (d *dataFlags) siteNative() bool {
	return d.SiteColumn != "" || strings.Contains(d.Source, ",")
}

// loadSites reads one data set per hospital: each file of --data, or each
// value of the site column, under one schema (data.SiteOptions: every
// feature any site has, a site lacking one reading it as missing, and
// every class any site has). Encrypted files are decrypted into memory.
func (d *dataFlags) loadSites(e *env) ([]sim.Site, []*data.Report, error) {
	var names []string
	var files [][]byte
	var defaults data.Options
	read := func(source string) ([]byte, error) {
		if csv, def, ok := data.Embedded(source); ok {
			defaults = def
			return csv, nil
		}
		if _, err := os.Stat(source); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("--data %s: no such file (embedded sets: %s)", source, strings.Join(data.EmbeddedNames(), ", "))
		}
		id, err := d.keys.load(e)
		if err != nil {
			return nil, err
		}
		r, err := vault.Open(source, id)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		return io.ReadAll(io.LimitReader(r, maxSiteFile+1))
	}
	if d.SiteColumn != "" {
		if strings.Contains(d.Source, ",") {
			return nil, nil, usagef("--partition column:%s splits one --data file, not %q", d.SiteColumn, d.Source)
		}
		b, err := read(d.Source)
		if err != nil {
			return nil, nil, err
		}
		if names, files, err = data.SplitByColumn(bytes.NewReader(b), d.Source, d.SiteColumn); err != nil {
			return nil, nil, err
		}
	} else {
		for _, src := range strings.Split(d.Source, ",") {
			src = strings.TrimSpace(src)
			b, err := read(src)
			if err != nil {
				return nil, nil, err
			}
			if len(b) > maxSiteFile {
				return nil, nil, fmt.Errorf("--data %s: larger than %d bytes", src, maxSiteFile)
			}
			name := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(src), ".age"), ".csv")
			for slices.Contains(names, name) {
				name += "'"
			}
			names, files = append(names, name), append(files, b)
		}
	}
	if len(files) < 2 {
		return nil, nil, usagef("--data: a site-native federation needs at least 2 sites, got %d", len(files))
	}
	opt := d.options(defaults)
	if opt.Label == "" {
		return nil, nil, usagef("--data %s: --label is required for CSV files", d.Source)
	}
	opt, err := data.SiteOptions(opt, names, files)
	if err != nil {
		return nil, nil, err
	}
	var sites []sim.Site
	var reports []*data.Report
	for i, f := range files {
		ds, rep, err := data.Load(bytes.NewReader(f), names[i], opt)
		if err != nil {
			return nil, nil, fmt.Errorf("site %s: %w", names[i], err)
		}
		sites, reports = append(sites, sim.Site{Name: names[i], Data: ds}), append(reports, rep)
	}
	return sites, reports, nil
}

// maxSiteFile bounds one site's file, read into memory.
const maxSiteFile = 1 << 30

// loadSimSites loads a site-native simulation's sites and makes cfg one
// hospital per site; fs, when given, has the parsed flags (an explicit
// --hospitals must match). It returns the sites, all their rows together,
// which the header, the bounds and the settings checks read, and the
// sites' loading reports together, which the data block says.
func loadSimSites(e *env, df *dataFlags, cfg *sim.Config, fs *flag.FlagSet) ([]sim.Site, *data.Dataset, *data.Report, error) {
	sites, reports, err := df.loadSites(e)
	if err != nil {
		return nil, nil, nil, err
	}
	if fs != nil {
		set := false
		fs.Visit(func(f *flag.Flag) { set = set || f.Name == "hospitals" })
		if set && cfg.Hospitals != len(sites) {
			return nil, nil, nil, usagef("--hospitals %d: the data name %d sites, one hospital each", cfg.Hospitals, len(sites))
		}
		cfg.Hospitals = len(sites)
		if err := cfg.Validate(); err != nil {
			return nil, nil, nil, usageError{err.Error()}
		}
	}
	parts := make([]*data.Dataset, len(sites))
	for i, s := range sites {
		parts[i] = s.Data
		if a := reports[i].Absent; len(a) > 0 {
			fmt.Fprintf(e.stderr, "site %s lacks %s: the federation imputes them in its %d rows\n", s.Name, strings.Join(a, ", "), s.Data.Rows())
		}
	}
	name := fmt.Sprintf("%d sites (%s)", len(sites), df.Source)
	all, err := data.Concat(name, parts...)
	if err != nil {
		return nil, nil, nil, err
	}
	return sites, all, sitesReport(name, reports), nil
}

// sitesReport is the loading reports of sites together, named name: rows
// and rows left out summed, missing cells summed per column (a column a
// site lacks counts every row of that site), and every column some site
// dropped or found identifier-like.
func sitesReport(name string, reports []*data.Report) *data.Report {
	out := &data.Report{Source: name, Missing: map[string]int{}, ClassCounts: map[string]int{}}
	for _, r := range reports {
		out.RowsRead += r.RowsRead
		out.Rows += r.Rows
		out.RowsMissingLabel += r.RowsMissingLabel
		out.RowsDropped += r.RowsDropped
		for c, n := range r.Missing {
			out.Missing[c] += n
		}
		for c, n := range r.ClassCounts {
			out.ClassCounts[c] += n
		}
		for _, c := range r.Dropped {
			if !slices.Contains(out.Dropped, c) {
				out.Dropped = append(out.Dropped, c)
			}
		}
		for _, c := range r.Identifiers {
			if !slices.Contains(out.Identifiers, c) {
				out.Identifiers = append(out.Identifiers, c)
			}
		}
	}
	return out
}

// partitionAndSeed applies --partition (a scheme, or column:NAME for
// site-native data) and --seed to cfg and df, as sim and stats read them.
func partitionAndSeed(cfg *sim.Config, df *dataFlags, partition, seed string) error {
	if col, ok := strings.CutPrefix(partition, "column:"); ok {
		if col == "" {
			return usagef("--partition column:NAME: no column named")
		}
		df.SiteColumn = col
	} else {
		var err error
		if cfg.Partition, err = data.ParseScheme(partition); err != nil {
			return usageError{err.Error()}
		}
	}
	if seed != "" {
		var s uint64
		if _, err := fmt.Sscan(seed, &s); err != nil {
			return usagef("--seed %q: not a non-negative integer", seed)
		}
		cfg.Seed = &s
	}
	return nil
}

// loadSimData loads what a simulation runs on: site-native sites (and all
// their rows together), or one data set; and its loading report (the
// sites' together). fs is as for loadSimSites.
func loadSimData(e *env, df *dataFlags, cfg *sim.Config, fs *flag.FlagSet) ([]sim.Site, *data.Dataset, *data.Report, error) {
	if df.siteNative() {
		return loadSimSites(e, df, cfg, fs)
	}
	ds, rep, err := df.load(e)
	return nil, ds, rep, err
}
