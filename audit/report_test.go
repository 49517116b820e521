package audit_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/fedcrypt/fedcrypt/audit"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/sim"
	"github.com/fedcrypt/fedcrypt/vault"
)

// report verifies a run and builds its report with the run's metrics.
func report(t *testing.T, dir string, opt audit.Options) *audit.Report {
	t.Helper()
	run, err := audit.VerifyFile(filepath.Join(dir, sim.FileAudit), loadFed(t, dir), opt)
	var f *audit.Failure
	if err != nil && !errors.As(err, &f) {
		t.Fatal(err)
	}
	rf, err := os.Open(filepath.Join(dir, sim.FileRounds))
	if err != nil {
		t.Fatal(err)
	}
	defer rf.Close()
	m, err := audit.ReadMetrics(rf, sim.FileRounds)
	if err != nil {
		t.Fatal(err)
	}
	return &audit.Report{Source: dir, Run: run, Failure: f, Metrics: m}
}

// wellFormedSVG checks that each plot is one well-formed XML document
// rooted at <svg> that draws something.
func wellFormedSVG(t *testing.T, name string, svg []byte) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(svg))
	paths, root := 0, ""
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("plot %s: not well-formed SVG: %v", name, err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if root == "" {
				root = se.Name.Local
			}
			if se.Name.Local == "path" {
				paths++
			}
		}
	}
	if root != "svg" || paths < 10 {
		t.Fatalf("plot %s: root <%s>, %d paths", name, root, paths)
	}
}

func TestReportHTML(t *testing.T) {
	dir := simRun(t, 3, nil)
	rep := report(t, dir, audit.Options{Anchor: anchor(t, dir)})
	plots, err := rep.Plots()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range plots {
		names = append(names, p.Name)
		wellFormedSVG(t, p.Name, p.SVG)
	}
	if strings.Join(names, ",") != "epsilon,metrics,participation,statistics" {
		t.Fatalf("plots %v", names)
	}
	var b bytes.Buffer
	if err := rep.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	fed := loadFed(t, dir)
	for _, want := range []string{
		// verdict: anchored at the last round's entry, but no hospital's
		// witness given, so not VERIFIED outright
		`<div class="banner note" id="verdict">Chain and signatures verified`, "not witnessed by the hospitals", "entry 5",
		"each released the statistics of its rows once", "counted in the ε above", // the statistics phase
		"one record (add/remove one row)", "rdp", "δ = 1e-05", // the guarantee
		`<figure id="plot-epsilon">`, `<figure id="plot-metrics">`, `<figure id="plot-participation">`, `<figure id="plot-statistics">`,
		"CKKS preset</dt><dd>" + fed.HE.Preset, "128-bit", // preset and security level
		"threshold T</dt><dd>2 ", "min contributors</dt><dd>3 ",
		fed.Hash().String(), rep.Run.Head, rep.Run.Rounds[2].ModelDigest, // commitments
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "UNPROTECTED") {
		t.Error("a protected run flagged unprotected")
	}
	if strings.Contains(page, "Private evaluation") {
		t.Error("a run without a private evaluation shows one")
	}
	// Self-contained: nothing is fetched.
	if m := regexp.MustCompile(`(?i)(src|href)\s*=\s*"(https?:)?//|@import|url\(`).FindString(page); m != "" {
		t.Errorf("page references an external resource: %q", m)
	}
}

func TestReportFlagsUnprotectedAndFailedRuns(t *testing.T) {
	dir := simRun(t, 2, func(c *sim.Config) { c.DP = false })
	var b bytes.Buffer
	if err := report(t, dir, audit.Options{}).WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	un := strings.Index(page, "UNPROTECTED RUN: no differential privacy")
	fig := strings.Index(page, "<figure")
	if un < 0 || fig < 0 || un > fig {
		t.Fatalf("unprotected banner at %d, first figure at %d", un, fig)
	}
	if !strings.Contains(page, "VERIFICATION FAILED at entry 1") || strings.Contains(page, "plot-epsilon") {
		t.Error("a run without DP: verdict or ε plot wrong")
	}
}

func TestReportMarkdownWritesPlotFiles(t *testing.T) {
	dir := simRun(t, 2, nil)
	out := t.TempDir()
	var b bytes.Buffer
	if err := report(t, dir, audit.Options{}).WriteMarkdown(&b, out, "report"); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, name := range []string{"epsilon", "metrics", "participation", "statistics"} {
		file := "report-" + name + ".svg"
		if !strings.Contains(md, "]("+file+")") {
			t.Errorf("markdown does not link %s", file)
		}
		svg, err := os.ReadFile(filepath.Join(out, file))
		if err != nil {
			t.Fatal(err)
		}
		wellFormedSVG(t, name, svg)
	}
	fedName := loadFed(t, dir).Name
	if !strings.Contains(md, "| h1 | contributor, key holder |") || !strings.Contains(md, "**Chain and signatures verified") ||
		!strings.Contains(md, "not anchored in the sealed checkpoint") || !strings.Contains(md, fmt.Sprintf("federation %q, run of ", fedName)) {
		t.Errorf("markdown:\n%s", md)
	}
	// The key's decryption budget: the statistics' sum and two rounds of
	// one ciphertext each.
	fed := loadFed(t, dir)
	p, err := fed.CKKS()
	if err != nil {
		t.Fatal(err)
	}
	l, err := fed.StatsLayout()
	if err != nil {
		t.Fatal(err)
	}
	used := 2 + p.Ciphertexts(l.Len())
	want := fmt.Sprintf("- key epoch 1 (setup): %d of %d ciphertext decryptions used; %.1f bits of statistical security left",
		used, fed.DecryptionBudget(), p.SecurityBits(uint64(used)))
	if !strings.Contains(md, want) {
		t.Errorf("markdown lacks %q:\n%s", want, md)
	}
}

func TestReadMetrics(t *testing.T) {
	const header = "round,attempt,completed,contributors,dropped,train_loss,accuracy,f1,auc,epsilon,bytes_up,seconds\n"
	good := header + "1,1,true,3,0,0.5,0.75,0.69,0.82,0.57,188784,0.12\n2,2,false,1,2,0,0,0,0,0.8,0,0.01\n" +
		"3,1,true,3,0,,,,,0.85,188784,\n" // not scored: left out
	m, err := audit.ReadMetrics(strings.NewReader(good), "rounds.csv")
	if err != nil {
		t.Fatal(err)
	}
	want := []audit.Metrics{{Round: 1, Attempt: 1, Completed: true, Accuracy: 0.75, F1: 0.69, AUC: 0.82}, {Round: 2, Attempt: 2}}
	if len(m) != 2 || m[0] != want[0] || m[1] != want[1] {
		t.Fatalf("got %+v, want %+v", m, want)
	}
	calibrated := "round,completed,accuracy,auc,brier,ece\n1,true,0.75,0.82,1.25,0.125\n"
	m, err = audit.ReadMetrics(strings.NewReader(calibrated), "rounds.csv")
	if err != nil {
		t.Fatal(err)
	}
	wantCal := audit.Metrics{Round: 1, Attempt: 1, Completed: true, Accuracy: 0.75, AUC: 0.82, Brier: 1.25, ECE: 0.125, Calibrated: true}
	if len(m) != 1 || m[0] != wantCal {
		t.Fatalf("got %+v, want %+v", m, wantCal)
	}
	for _, c := range []struct{ name, in, frag string }{
		{"empty", "", "header"},
		{"brier above 2", "round,completed,accuracy,auc,brier,ece\n1,true,0.75,0.82,2.5,0.1\n", "line 2: brier"},
		{"ece above 1", "round,completed,accuracy,auc,brier,ece\n1,true,0.75,0.82,0.5,1.1\n", "line 2: ece"},
		{"no auc column", "round,completed,accuracy\n1,true,0.5\n", `"auc"`},
		{"accuracy above 1", header + "1,1,true,3,0,0.5,1.5,0.69,0.82,0.57,1,0.1\n", "line 2: accuracy"},
		{"bad round", header + "x,1,true,3,0,0.5,0.5,0.69,0.82,0.57,1,0.1\n", "line 2: round"},
		{"short row", header + "1,1\n", "line 2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := audit.ReadMetrics(strings.NewReader(c.in), "rounds.csv")
			if err == nil || !strings.Contains(err.Error(), c.frag) || !strings.HasPrefix(err.Error(), "rounds.csv") {
				t.Fatalf("error %v, want one naming rounds.csv and %q", err, c.frag)
			}
		})
	}
}

// FuzzReadMetrics: never panics; what it reads writes back as a file it
// reads the same.
func FuzzReadMetrics(f *testing.F) {
	raw, err := os.ReadFile(filepath.Join("testdata", "rounds.csv"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	f.Add([]byte("round,completed,accuracy,auc\n1,true,0.5,0.5\n"))
	f.Add([]byte("round,completed,accuracy,auc,brier,ece\n1,true,0.5,0.5,0.25,0.05\n"))
	f.Add([]byte("round,completed,accuracy,auc\n1,true,NaN,0.5\n"))
	f.Add([]byte("\"round\",completed\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := audit.ReadMetrics(bytes.NewReader(in), "fuzz")
		if err != nil {
			return
		}
		calibrated := len(m) > 0 && m[0].Calibrated
		var b strings.Builder
		b.WriteString("round,attempt,completed,accuracy,f1,auc")
		if calibrated {
			b.WriteString(",brier,ece")
		}
		b.WriteString("\n")
		for _, r := range m {
			if !(r.Accuracy >= 0 && r.Accuracy <= 1 && r.AUC >= 0 && r.AUC <= 1 && r.F1 >= 0 && r.F1 <= 1 &&
				r.Brier >= 0 && r.Brier <= 2 && r.ECE >= 0 && r.ECE <= 1) {
				t.Fatalf("metric out of range: %+v", r)
			}
			row := []string{u(r.Round), i(r.Attempt), bl(r.Completed), fl(r.Accuracy), fl(r.F1), fl(r.AUC)}
			if calibrated {
				row = append(row, fl(r.Brier), fl(r.ECE))
			}
			b.WriteString(strings.Join(row, ",") + "\n")
		}
		again, err := audit.ReadMetrics(strings.NewReader(b.String()), "again")
		if err != nil || len(again) != len(m) {
			t.Fatalf("re-read: %v", err)
		}
		for k := range m {
			if again[k] != m[k] {
				t.Fatalf("row %d: %+v, then %+v", k, m[k], again[k])
			}
		}
	})
}

func u(v uint64) string   { return strconv.FormatUint(v, 10) }
func i(v int) string      { return strconv.Itoa(v) }
func bl(v bool) string    { return strconv.FormatBool(v) }
func fl(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func ExampleReport_WriteHTML() {
	// A simulated federation, verified, then reported.
	tmp, err := os.MkdirTemp("", "audit-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "run")
	if err := simRunIn(dir, 3, nil); err != nil {
		fmt.Println(err)
		return
	}
	fed, err := federation.Load(filepath.Join(dir, sim.FileConfig))
	if err != nil {
		fmt.Println(err)
		return
	}
	run, err := audit.VerifyFile(filepath.Join(dir, sim.FileAudit), fed, audit.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	rounds, err := os.Open(filepath.Join(dir, sim.FileRounds))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rounds.Close()
	metrics, err := audit.ReadMetrics(rounds, sim.FileRounds)
	if err != nil {
		fmt.Println(err)
		return
	}
	rep := &audit.Report{Source: dir, Run: run, Metrics: metrics}
	var page bytes.Buffer
	if err := rep.WriteHTML(&page); err != nil {
		fmt.Println(err)
		return
	}
	for _, m := range regexp.MustCompile(`<figure id="(plot-[a-z]+)">\s*<svg`).FindAllStringSubmatch(page.String(), -1) {
		fmt.Println(m[1])
	}
	guarantee, _, _ := strings.Cut(run.Guarantee(run.Hospitals[0]), " for ")
	fmt.Println(guarantee)
	// Output:
	// plot-epsilon
	// plot-metrics
	// plot-participation
	// plot-statistics
	// (ε = 1, δ = 1e-05)-differential privacy
}

// The private evaluation's section says what was released and shows the
// federation's scores; each site's row appears only once an auditor's
// identity opened the sealed releases.
func TestReportPrivateEvaluation(t *testing.T) {
	dir := simRun(t, 2, func(c *sim.Config) { c.Epsilon, c.EvalEpsilon = 3, 1 })
	rep := report(t, dir, audit.Options{})
	if rep.Run.Evaluation == nil || len(rep.Run.Evaluation.Sites) != 0 {
		t.Fatalf("evaluation %+v", rep.Run.Evaluation)
	}
	// page is the report's evaluation section.
	page := func() string {
		var b bytes.Buffer
		if err := rep.WriteHTML(&b); err != nil {
			t.Fatal(err)
		}
		s, _, _ := strings.Cut(b.String(), "<h2>Figures</h2>")
		_, s, _ = strings.Cut(s, "<h2>Private evaluation</h2>")
		return s
	}
	sealed := page()
	for _, want := range []string{"h1; h2; h3 each scored", "held out and never trained on", "histograms of the predicted probability in 10 bins",
		"3 hospitals&#39; own releases are in the log, sealed to the auditors", "<td>federation (noisy sum)</td>"} {
		if !strings.Contains(sealed, want) {
			t.Errorf("sealed: page lacks %q", want)
		}
	}
	if strings.Contains(sealed, "<td>h1</td>") {
		t.Error("a site's row shown before an auditor opened the releases")
	}
	researcher, err := vault.ReadIdentityFile(filepath.Join(dir, sim.FileResearcher), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Run.Evaluation.OpenSites(loadFed(t, dir), researcher); err != nil {
		t.Fatal(err)
	}
	opened := page()
	for _, want := range []string{"<td>h1</td>", "<td>h2</td>", "<td>h3</td>", "mean of 3 sites, each counted once", "was opened for this report"} {
		if !strings.Contains(opened, want) {
			t.Errorf("opened: page lacks %q", want)
		}
	}
	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md, t.TempDir(), "report"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "## Private evaluation") || !strings.Contains(md.String(), "| h2 |") {
		t.Errorf("markdown lacks the evaluation section or a site's row:\n%s", md.String())
	}
}
