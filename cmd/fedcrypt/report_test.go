package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReportHTMLAndMarkdown(t *testing.T) {
	t.Parallel()
	run := simRun(t)
	dir := t.TempDir()
	ctx := t.Context()
	r := runIn(t, ctx, "report", run, "-o", filepath.Join(dir, "r.html"), "-i", filepath.Join(run, "researcher.key"))
	if r.code != 0 || !strings.Contains(r.stdout, "wrote "+filepath.Join(dir, "r.html")) || !strings.Contains(r.stdout, "VERIFIED") {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	page, err := os.ReadFile(filepath.Join(dir, "r.html"))
	if err != nil {
		t.Fatal(err)
	}
	// Anchored, not witnessed: no green VERIFIED.
	for _, want := range []string{"<!DOCTYPE html>", "<style>", `<figure id="plot-epsilon">`, `<figure id="plot-metrics">`, "<svg",
		`<div class="banner note" id="verdict">Chain and signatures verified`} {
		if !strings.Contains(string(page), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	r = runIn(t, ctx, "report", run, "-o", filepath.Join(dir, "w.html"), "-i", filepath.Join(run, "researcher.key"), "--witness", filepath.Join(run, "hospitals"))
	if page, err := os.ReadFile(filepath.Join(dir, "w.html")); r.code != 0 || err != nil ||
		!strings.Contains(string(page), `<div class="banner ok" id="verdict">VERIFIED`) {
		t.Errorf("anchored and witnessed: exit %d, %v, stderr %q", r.code, err, r.stderr)
	}
	var out map[string]any
	md := filepath.Join(dir, "r.md")
	decodeJSON(t, runIn(t, ctx, "report", run, "--format", "md", "--out", md, "--json"), &out)
	if out["out"] != md || out["verified"] != true {
		t.Errorf("--json: %v", out)
	}
	page, err = os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	for _, plot := range []string{"r-epsilon.svg", "r-metrics.svg", "r-participation.svg"} {
		if _, err := os.Stat(filepath.Join(dir, plot)); err != nil || !strings.Contains(string(page), "("+plot+")") {
			t.Errorf("plot %s: %v", plot, err)
		}
	}
}

func TestReportOfATamperedLogSaysSo(t *testing.T) {
	t.Parallel()
	run := simRunCopy(t)
	path := filepath.Join(run, "audit.jsonl")
	raw, _ := os.ReadFile(path)
	l := strings.SplitAfter(string(raw), "\n")
	os.WriteFile(path, []byte(strings.Join(l[:3], "")), 0o600) // end entry cut off
	html := filepath.Join(t.TempDir(), "r.html")
	r := runIn(t, t.Context(), "report", run, "-o", html)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	page, _ := os.ReadFile(html)
	if !strings.Contains(string(page), "VERIFICATION FAILED at entry 4") {
		t.Error("the report of a cut log does not say verification failed")
	}
}

func TestReportWithoutMetricsFile(t *testing.T) {
	t.Parallel()
	run := simRunCopy(t)
	if err := os.Remove(filepath.Join(run, "rounds.csv")); err != nil {
		t.Fatal(err)
	}
	html := filepath.Join(t.TempDir(), "r.html")
	if r := runIn(t, t.Context(), "report", run, "-o", html); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	page, _ := os.ReadFile(html)
	if strings.Contains(string(page), "plot-metrics") || !strings.Contains(string(page), "no per-round evaluation") {
		t.Error("a run without metrics: the page draws or omits the wrong plots")
	}
	if !strings.Contains(string(page), "plot-epsilon") {
		t.Error("the ε plot is missing")
	}
}
