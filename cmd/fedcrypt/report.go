package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/fedcrypt/fedcrypt/audit"
	"github.com/fedcrypt/fedcrypt/sim"
)

func runReport(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
	var vf verifyFlags
	vf.register(fs)
	var out string
	(*outFlag)(&out).register(fs, "write the report to `file` (default report.html, or report.md with --format md)")
	format := fs.String("format", "html", "html or md")
	metrics := fs.String("metrics", "", "per-round metrics CSV `file` (default: rounds.csv beside the log, when present)")
	var jsonOut bool
	(*jsonFlag)(&jsonOut).register(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("report: want one LOG or DIR argument, got %d", len(pos))
	}
	if *format != "html" && *format != "md" {
		return usagef("--format %q: want html or md", *format)
	}
	if out == "" {
		out = "report." + *format
	}
	t, err := vf.resolve(e, pos[0])
	if err != nil {
		return err
	}
	run, failure, err := t.verify(vf.allowUnprotected)
	if err != nil {
		return err
	}
	rep := &audit.Report{Source: pos[0], Run: run, Failure: failure, Note: t.warning}
	mpath := *metrics
	if mpath == "" {
		mpath = filepath.Join(t.dir, sim.FileRounds)
	}
	switch f, err := os.Open(mpath); {
	case err == nil:
		rep.Metrics, err = audit.ReadMetrics(f, mpath)
		f.Close()
		if err != nil {
			return err
		}
	case *metrics != "" || !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("metrics: %w", err)
	}
	// The report never replaces what it reports on, nor any other file of
	// the run.
	keep := []input{{"audit log", t.log}, {"federation config", t.config}, {"sealed checkpoint", t.checkpoint},
		{"metrics file", mpath}, {"identity file", vf.keys.identity}}
	for _, w := range vf.witnesses {
		keep = append(keep, input{"witness file", w})
	}
	for _, k := range vf.witnessIdentity {
		keep = append(keep, input{"identity file", k})
	}
	for _, name := range []string{sim.FileAudit, sim.FileConfig, sim.FileCheckpoint, sim.FileModel, sim.FileRounds,
		sim.FileResult, sim.FileKeys, sim.FileResearcher, sim.FileRecord} {
		keep = append(keep, input{"run's " + name, filepath.Join(t.dir, name)})
	}
	if err := notAnInput("-o", out, keep...); err != nil {
		return err
	}
	if err := onlyAReport(out); err != nil {
		return err
	}
	var b bytes.Buffer
	if *format == "md" {
		stem := strings.TrimSuffix(filepath.Base(out), filepath.Ext(out))
		err = rep.WriteMarkdown(&b, filepath.Dir(out), stem)
	} else {
		err = rep.WriteHTML(&b)
	}
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := os.WriteFile(out, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	verdict := verdictLine(t, run, failure)
	if jsonOut {
		return writeJSON(e.stdout, map[string]any{"out": out, "format": *format, "verified": failure == nil,
			"verdict": verdict, "unprotected": run.Unprotected, "witnesses": witnessesJSON(run), "bytes": b.Len()})
	}
	fmt.Fprintf(e.stdout, "wrote %s (%d bytes)\n%s\n", out, b.Len(), verdict)
	return nil
}

// onlyAReport refuses an -o that exists and is not an earlier report: the
// run's directory holds ledgers, key-holder state and data sets that a
// report must never replace, whatever their names.
func onlyAReport(out string) error {
	f, err := os.Open(out)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return usagef("-o %s: %v", out, err)
	}
	defer f.Close()
	head := make([]byte, 64)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	if bytes.HasPrefix(head, []byte("<!DOCTYPE html>")) || bytes.HasPrefix(head, []byte("# Compliance report")) {
		return nil
	}
	return usagef("-o %s: the file exists and is not a report; give a new file name", out)
}
