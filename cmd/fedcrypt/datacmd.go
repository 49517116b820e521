package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/vault"
)

type dataEncryptResult struct {
	Input      string `json:"input"`
	Output     string `json:"output"`
	Recipients int    `json:"recipients"`
	Bytes      int64  `json:"bytes"`
}

func runDataEncrypt(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
	var rf recipientFlags
	rf.register(fs, true)
	var out string
	(*outFlag)(&out).register(fs, "output `file` (.age)")
	force := fs.Bool("force", false, "replace an existing output file")
	var jsonOut bool
	(*jsonFlag)(&jsonOut).register(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("data encrypt: want one input file, got %d", len(pos))
	}
	if out == "" {
		return usagef("data encrypt: -o OUT.age is required")
	}
	in := pos[0]
	keep := []input{{"input file", in}, {"passphrase file", rf.passFile}}
	for _, f := range rf.files {
		keep = append(keep, input{"recipients file", f})
	}
	if err := notAnInput("-o", out, keep...); err != nil {
		return err
	}
	if err := notExisting("data encrypt: -o", *force, out); err != nil {
		return err
	}
	rs, err := rf.parse(e)
	if err != nil {
		return err
	}
	var src io.Reader = e.stdin
	if in != "-" {
		f, err := os.Open(in)
		if err != nil {
			return fmt.Errorf("data encrypt: %w", err)
		}
		defer f.Close()
		src = f
	}
	dst, err := vault.Create(out, rs...)
	if err != nil {
		return fmt.Errorf("data encrypt: %w", err)
	}
	n, err := io.Copy(dst, src)
	if err != nil {
		dst.Abort()
		return fmt.Errorf("data encrypt: %w", err)
	}
	if err := dst.Close(); err != nil {
		return fmt.Errorf("data encrypt: %w", err)
	}
	res := dataEncryptResult{Input: in, Output: out, Recipients: len(rs), Bytes: n}
	if jsonOut {
		return writeJSON(e.stdout, res)
	}
	fmt.Fprintf(e.stdout, "encrypted %s (%d bytes) to %d recipient(s): %s\n", in, n, len(rs), out)
	return nil
}

func runDataDecrypt(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
	var kf keyFlags
	kf.register(fs)
	var out string
	(*outFlag)(&out).register(fs, "write the plaintext to `file` (needs --plaintext-file)")
	allowFile := fs.Bool("plaintext-file", false, "allow -o to write the decrypted data to disk in the clear")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("data decrypt: want one input file, got %d", len(pos))
	}
	if out != "" && out != "-" && !*allowFile {
		return usagef("data decrypt: -o %s would write patient data to disk in the clear: add --plaintext-file if that is intended, or omit -o for stdout", out)
	}
	id, err := kf.load(e)
	if err != nil {
		return err
	}
	if id == nil {
		return usagef("data decrypt: -i IDENTITY (or --passphrase-file for a passphrase-encrypted file) is required")
	}
	in := pos[0]
	if enc, err := vault.IsEncrypted(in); err != nil {
		return fmt.Errorf("data decrypt: %w", err)
	} else if !enc {
		return fmt.Errorf("data decrypt: %s is not an age file", in)
	}
	r, err := vault.Open(in, id)
	if err != nil {
		return fmt.Errorf("data decrypt: %w", err)
	}
	defer r.Close()
	if out == "" || out == "-" {
		if _, err := io.Copy(e.stdout, r); err != nil {
			return fmt.Errorf("data decrypt: %w", err)
		}
		return nil
	}
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("data decrypt: %w", err)
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(out)
		return fmt.Errorf("data decrypt: %w", err)
	}
	return nil
}

type inspectResult struct {
	data.Report
	Columns   int      `json:"columns"`
	Features  []string `json:"features"`
	Label     string   `json:"label"`
	Classes   []string `json:"classes"`
	Encrypted bool     `json:"encrypted"`
}

func runDataInspect(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
	var df dataFlags
	df.register(fs, "")
	var jsonOut bool
	(*jsonFlag)(&jsonOut).register(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("data inspect: unexpected argument %q (the data set is --data)", pos[0])
	}
	ds, rep, err := df.load(e)
	if err != nil {
		return err
	}
	res := inspectResult{Report: *rep, Columns: len(ds.Features), Features: ds.Features, Label: ds.Label, Classes: ds.Classes}
	if _, _, embedded := data.Embedded(df.Source); !embedded {
		if res.Encrypted, err = vault.IsEncrypted(df.Source); err != nil {
			return err
		}
	}
	if jsonOut {
		return writeJSON(e.stdout, res)
	}
	w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "source\t%s (age-encrypted: %v)\n", rep.Source, res.Encrypted)
	fmt.Fprintf(w, "rows\t%d kept of %d read (%d without a label, %d dropped for missing cells)\n", rep.Rows, rep.RowsRead, rep.RowsMissingLabel, rep.RowsDropped)
	fmt.Fprintf(w, "features\t%d\n", len(ds.Features))
	if rep.Units > 0 {
		fmt.Fprintf(w, "patients\t%d (privacy unit %q)\n", rep.Units, ds.PrivacyUnit)
	}
	fmt.Fprintf(w, "label\t%s\n", ds.Label)
	for _, c := range ds.Classes {
		fmt.Fprintf(w, "  class %s\t%d rows\n", c, rep.ClassCounts[c])
	}
	cols := slices.Sorted(maps.Keys(rep.Missing))
	fmt.Fprintf(w, "missing cells\t%d column(s)\n", len(cols))
	for _, c := range cols {
		fmt.Fprintf(w, "  %s\t%d\n", c, rep.Missing[c])
	}
	if len(rep.Constant) > 0 {
		fmt.Fprintf(w, "constant columns\t%s\n", strings.Join(rep.Constant, ", "))
	}
	if len(rep.Dropped) > 0 {
		fmt.Fprintf(w, "dropped columns\t%s\n", strings.Join(rep.Dropped, ", "))
	}
	return w.Flush()
}

type splitHospital struct {
	File        string         `json:"file"`
	Recipients  []string       `json:"recipients"`
	Rows        int            `json:"rows"`
	Units       int            `json:"units,omitempty"`
	ClassCounts map[string]int `json:"class_counts"`
}

type splitResult struct {
	Source    string          `json:"source"`
	Partition string          `json:"partition"`
	Seed      uint64          `json:"seed"`
	Hospitals []splitHospital `json:"hospitals"`
}

func runDataSplit(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
	var df dataFlags
	df.register(fs, "")
	var hosp, hospFiles, auditors stringList
	fs.Var(&hosp, "r", "a hospital's age `recipient` (age1...); repeat once per hospital, in order")
	fs.Var(&hospFiles, "R", "a hospital's recipients `file` (its recipient.txt); repeat once per hospital, in order (instead of -r)")
	fs.Var(&auditors, "auditor", "age `recipient` added to every hospital's file (the coordinator or an auditor)")
	fs.StringVar(&df.Text, "text", "", "free-text `column`, kept as text in every hospital's file (a federation on it: init --text)")
	partition := fs.String("partition", "iid", "how rows are dealt: iid, dirichlet:ALPHA or quantity:ALPHA")
	seed := fs.Uint64("seed", 1, "seed of the partition")
	var out string
	(*outFlag)(&out).register(fs, "output `directory` (created if missing)")
	force := fs.Bool("force", false, "replace existing hospital files in the output directory")
	var jsonOut bool
	(*jsonFlag)(&jsonOut).register(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return usagef("data split: unexpected argument %q (the data set is --data)", pos[0])
	case out == "":
		return usagef("data split: -o DIR is required")
	case len(hosp) > 0 && len(hospFiles) > 0:
		return usagef("data split: give the hospitals with -r or with -R, not both")
	case len(hosp)+len(hospFiles) < 2:
		return usagef("data split: give at least two hospitals (one -r or -R each), got %d", len(hosp)+len(hospFiles))
	}
	scheme, err := data.ParseScheme(*partition)
	if err != nil {
		return usagef("--partition %s: %v", *partition, err)
	}
	var extra []vault.Recipient
	for _, a := range auditors {
		r, err := vault.ParseRecipient(a)
		if err != nil {
			return usageError{"--auditor: " + err.Error()}
		}
		extra = append(extra, r)
	}
	var perHospital [][]vault.Recipient
	for _, h := range hosp {
		r, err := vault.ParseRecipient(h)
		if err != nil {
			return usageError{"-r: " + err.Error()}
		}
		perHospital = append(perHospital, []vault.Recipient{r})
	}
	for _, path := range hospFiles {
		rf := recipientFlags{files: stringList{path}}
		rs, err := rf.parse(e)
		if err != nil {
			return err
		}
		perHospital = append(perHospital, rs)
	}
	files := make([]string, len(perHospital))
	for i := range files {
		files[i] = filepath.Join(out, fmt.Sprintf("hospital-%d.csv.age", i+1))
		if err := notAnInput("-o", files[i], input{"data set being split", df.Source}); err != nil {
			return err
		}
	}
	if err := notExisting("data split: -o "+out+":", *force, files...); err != nil {
		return err
	}
	ds, _, err := df.load(e)
	if err != nil {
		return err
	}
	parts, err := data.Partition(ds, len(perHospital), scheme, *seed)
	if err != nil {
		return fmt.Errorf("data split: %w", err)
	}
	if err := os.MkdirAll(out, 0o700); err != nil {
		return fmt.Errorf("data split: %w", err)
	}
	res := splitResult{Source: df.Source, Partition: scheme.String(), Seed: *seed}
	for i, part := range parts {
		rs := append(slices.Clone(perHospital[i]), extra...)
		path := files[i]
		f, err := vault.Create(path, rs...)
		if err != nil {
			return fmt.Errorf("data split: hospital %d: %w", i+1, err)
		}
		if err := part.WriteCSV(f); err != nil {
			f.Abort()
			return fmt.Errorf("data split: hospital %d: %w", i+1, err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("data split: hospital %d: %w", i+1, err)
		}
		h := splitHospital{File: path, Rows: part.Rows(), ClassCounts: map[string]int{}}
		if part.PrivacyUnit != "" {
			h.Units = part.NumUnits()
		}
		for _, r := range rs {
			h.Recipients = append(h.Recipients, r.String())
		}
		for c, n := range part.ClassCounts() {
			h.ClassCounts[part.Classes[c]] = n
		}
		res.Hospitals = append(res.Hospitals, h)
	}
	if jsonOut {
		return writeJSON(e.stdout, res)
	}
	w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "split %s (%s, seed %d):\n", res.Source, res.Partition, res.Seed)
	for _, h := range res.Hospitals {
		counts := make([]string, 0, len(ds.Classes))
		for _, c := range ds.Classes {
			counts = append(counts, fmt.Sprintf("%s=%d", c, h.ClassCounts[c]))
		}
		fmt.Fprintf(w, "  %s\t%d rows\t%s\tto %d recipient(s)\n", h.File, h.Rows, strings.Join(counts, " "), len(h.Recipients))
	}
	return w.Flush()
}

// notExisting refuses, unless force is set, to write over any of paths that
// exists: an encrypted file replaced by one encrypted to other recipients
// is lost for good. The error names the first existing file and the flag.
// what prefixes the error ("data encrypt: -o").
func notExisting(what string, force bool, paths ...string) error {
	if force {
		return nil
	}
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			return usagef("%s %s exists: refusing to replace it; add --force to overwrite", what, p)
		} else if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s %w", what, err)
		}
	}
	return nil
}
