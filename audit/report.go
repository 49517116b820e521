package audit

import (
	"encoding/csv"
	"errors"
	"fmt"
	"html/template"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/fedcrypt/fedcrypt/stats"
)

// Report is a compliance report on one run: what verification established,
// its verdict, and the run's public metrics.
type Report struct {
	Source  string   // the run directory or log the report is on
	Run     *Run     // from VerifyRun
	Failure *Failure // nil when the log verified
	// Note qualifies a verdict, e.g. that the log was not anchored.
	Note string
	// Metrics are the global model's evaluation per round, when the run
	// published them ([ReadMetrics]); nil otherwise.
	Metrics []Metrics
}

// Metrics is one round's evaluation of the global model on held-out rows.
type Metrics struct {
	Round     uint64
	Attempt   int
	Completed bool
	Accuracy  float64
	F1        float64
	AUC       float64
	// Brier and ECE (expected calibration error) are read when the file
	// has both columns, and Calibrated says so.
	Brier      float64
	ECE        float64
	Calibrated bool
}

// ReadMetrics reads a run's per-round metrics file (CSV with a header
// naming at least round, completed, accuracy and auc; attempt, f1, and
// brier with ece are read when present), as `fedcrypt sim --out` writes it. A row with an
// empty metric cell is a round that was not scored, and is left out.
func ReadMetrics(r io.Reader, source string) ([]Metrics, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = false
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: header: %w", source, err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(h)] = i
	}
	for _, need := range []string{"round", "completed", "accuracy", "auc"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("%s: no %q column", source, need)
		}
	}
	var out []Metrics
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", source, err)
		}
		var m Metrics
		field := func(name string) (string, bool) {
			i, ok := col[name]
			if !ok || i >= len(rec) {
				return "", false
			}
			return rec[i], true
		}
		bad := func(name string, err error) error {
			return fmt.Errorf("%s: line %d: %s: %w", source, line, name, err)
		}
		s, _ := field("round")
		if m.Round, err = strconv.ParseUint(s, 10, 64); err != nil {
			return nil, bad("round", err)
		}
		m.Attempt = 1
		if s, ok := field("attempt"); ok {
			if m.Attempt, err = strconv.Atoi(s); err != nil {
				return nil, bad("attempt", err)
			}
		}
		s, _ = field("completed")
		if m.Completed, err = strconv.ParseBool(s); err != nil {
			return nil, bad("completed", err)
		}
		scored := true
		_, hasBrier := col["brier"]
		_, hasECE := col["ece"]
		m.Calibrated = hasBrier && hasECE
		// A Brier score sums over the classes: up to 2.
		for _, f := range []struct {
			name string
			dst  *float64
			max  float64
		}{{"accuracy", &m.Accuracy, 1}, {"auc", &m.AUC, 1}, {"f1", &m.F1, 1}, {"brier", &m.Brier, 2}, {"ece", &m.ECE, 1}} {
			s, ok := field(f.name)
			if !ok {
				continue
			}
			if s == "" { // a round the run did not score
				scored = false
				continue
			}
			v, err := strconv.ParseFloat(s, 64)
			if err == nil && !(v >= 0 && v <= f.max) {
				err = fmt.Errorf("not in [0, %g]", f.max)
			}
			if err != nil {
				return nil, bad(f.name, err)
			}
			*f.dst = v
		}
		if scored {
			out = append(out, m)
		}
	}
}

// view is what the templates show, prepared from a Report.
type view struct {
	*Report
	Verified bool
	// Complete is set when the log is also anchored and witnessed: only
	// then is the verdict shown as a plain, green VERIFIED.
	Complete   bool
	Verdict    string
	Hospitals  []hospitalView
	Rounds     []roundView
	Plots      []plotView
	FinalModel string
	Completed  int
	Witnessed  string // which hospitals' witnesses were checked, in one line
	Statistics string // the statistics phase's release, in one paragraph
	Evaluation *evaluationView
}

// evaluationView is the private evaluation: what was released, in one
// paragraph, and its scores: the federation's, each site's when an
// auditor opened them, and their mean.
type evaluationView struct {
	Line   string
	Scores []scoreView
}

type scoreView struct {
	Who, Rows, Accuracy, Precision, Recall, F1, AUC string
}

type hospitalView struct {
	ID, Roles, Guarantee, Claimed, Recomputed, Cap string
	Rounds                                         int
}

type roundView struct {
	Round, Status, Contributors, Declined, Dropped, Set, Model string
	Uploads                                                    []UploadFacts
}

type plotView struct {
	Title, File string
	SVG         template.HTML
}

func (r *Report) view(plots []Plot) *view {
	v := &view{Report: r, Verified: r.Failure == nil && r.Run.Verified, Complete: r.Run.Anchored && len(r.Run.Witnesses) > 0}
	if v.Verified {
		v.Verdict = "VERIFIED: hash chain, every signature (keys from the federation config), every hospital's signed claims, and every hospital's ε recomputed within its cap"
		if !r.Run.Anchored || len(r.Run.Witnesses) == 0 {
			// The aggregator writes both the log and its checkpoint: without
			// the anchor and the hospitals' witnesses, a log it cut short or
			// rewrote could still pass.
			v.Verdict = "Chain and signatures verified: " + v.Verdict[len("VERIFIED: "):]
			if !r.Run.Anchored {
				v.Verdict += "; not anchored in the sealed checkpoint"
			}
			if len(r.Run.Witnesses) == 0 {
				v.Verdict += "; not witnessed by the hospitals"
			}
		}
		if r.Run.Anchored {
			v.Verdict += fmt.Sprintf("; complete up to the sealed checkpoint's head (entry %d)", r.Run.AnchorEntry)
		}
		if r.Run.Federation != "" {
			v.Verdict += fmt.Sprintf("; federation %q", r.Run.Federation)
		}
		if !r.Run.Started.IsZero() {
			v.Verdict += ", run of " + r.Run.Started.UTC().Format("2006-01-02 15:04 MST")
		}
		if r.Run.Software != "" {
			v.Verdict += ", written by " + r.Run.Software
		}
	} else if r.Failure != nil {
		v.Verdict = fmt.Sprintf("VERIFICATION FAILED at entry %d: %s", r.Failure.Entry, r.Failure.Reason)
	} else {
		v.Verdict = "NOT VERIFIED"
	}
	if v.Verified || len(r.Run.Witnesses) > 0 {
		v.Witnessed = witnessLine(r.Run.Witnesses)
	}
	v.Statistics = statisticsLine(r.Run)
	v.Evaluation = evaluationSection(r.Run)
	f := func(x float64) string {
		if math.IsInf(x, 1) {
			return "∞"
		}
		return strconv.FormatFloat(x, 'g', 4, 64)
	}
	for _, h := range r.Run.Hospitals {
		hv := hospitalView{ID: h.ID, Rounds: h.TrainingRounds(), Guarantee: r.Run.Guarantee(h), Claimed: "—", Recomputed: "—", Cap: "—"}
		var roles []string
		if h.Contributor {
			roles = append(roles, "contributor")
		}
		if h.KeyHolder {
			roles = append(roles, "key holder")
		}
		hv.Roles = strings.Join(roles, ", ")
		if r.Run.DP && h.Contributor {
			c, rc := h.Epsilon()
			hv.Claimed, hv.Recomputed, hv.Cap = f(c), f(rc), f(h.Cap)
		}
		if !h.Contributor {
			hv.Guarantee = "contributes no data"
		}
		v.Hospitals = append(v.Hospitals, hv)
	}
	list := func(s []string) string {
		if len(s) == 0 {
			return "—"
		}
		return strings.Join(s, ", ")
	}
	for _, rf := range r.Run.Rounds {
		rv := roundView{Round: fmt.Sprint(rf.Round), Contributors: list(rf.Contributors), Dropped: list(rf.Dropped),
			Set: list(rf.DecryptionSet), Model: rf.ModelDigest, Uploads: rf.Uploads, Status: "completed"}
		if rf.Attempt > 1 {
			rv.Round += fmt.Sprintf(" (attempt %d)", rf.Attempt)
		}
		if !rf.Completed {
			rv.Status = "abandoned: " + rf.Reason
		} else {
			v.Completed++
			v.FinalModel = rf.ModelDigest
		}
		var dec []string
		for id, why := range rf.Declined {
			dec = append(dec, id+" ("+why+")")
		}
		rv.Declined = list(dec)
		v.Rounds = append(v.Rounds, rv)
	}
	for _, p := range plots {
		v.Plots = append(v.Plots, plotView{Title: p.Title, SVG: template.HTML(p.SVG), File: p.Name})
	}
	return v
}

// witnessLine states in one line which hospitals' signed heads were
// checked against the log.
func witnessLine(ws []WitnessFacts) string {
	if len(ws) == 0 {
		return "Witnesses: none checked. Without the signed heads the hospitals keep, a log rewritten together with the aggregator's own checkpoint is not detected."
	}
	var parts []string
	for _, w := range ws {
		parts = append(parts, fmt.Sprintf("%s (%d heads, the latest at entry %d, round %d)", w.Hospital, w.Heads, w.Entry, w.Round))
	}
	return "Witnessed by " + strings.Join(parts, ", ") + ": every signed head they kept is in this log where the aggregator signed it."
}

// WriteHTML writes the report as one self-contained HTML page: inline CSS
// and the plots as inline SVG, nothing fetched from the network.
func (r *Report) WriteHTML(w io.Writer) error {
	plots, err := r.Plots()
	if err != nil {
		return err
	}
	return htmlTemplate.Execute(w, r.view(plots))
}

// WriteMarkdown writes the report as Markdown to w, and its plots as SVG
// files named stem-NAME.svg in dir, linked relative to the Markdown file
// (which belongs in dir).
func (r *Report) WriteMarkdown(w io.Writer, dir, stem string) error {
	plots, err := r.Plots()
	if err != nil {
		return err
	}
	v := r.view(plots)
	for i, p := range plots {
		name := stem + "-" + p.Name + ".svg"
		if err := os.WriteFile(filepath.Join(dir, name), append([]byte(`<?xml version="1.0"?>`+"\n"), p.SVG...), 0o644); err != nil {
			return fmt.Errorf("write plot: %w", err)
		}
		v.Plots[i].File = name
	}
	return markdownTemplate.Execute(w, v)
}

// statisticsLine says what the statistics phase released, "" if the log
// has none.
func statisticsLine(run *Run) string {
	st := run.Statistics
	if st == nil {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Before training, %s each released the statistics of its rows once (%d values: per class, counts, missing counts, clamped sums and sums of squares, histograms)", joinList(st.Contributors), st.Values)
	if run.DP {
		fmt.Fprintf(&b, ", each with its own Gaussian noise (noise multiplier %.4g at L2 sensitivity %.4g): (ε = %.3g, δ = %g)-DP for %s on its own, counted in the ε above", st.NoiseMultiplier, st.Sensitivity, st.Epsilon, run.Delta, run.Neighbouring())
	} else {
		b.WriteString(", WITHOUT noise (the run has no DP)")
	}
	fmt.Fprintf(&b, ". A quorum decrypted only their sum (entry %d), whose values each carry noise of standard deviation %.4g. "+
		"The federation's transform, the imputation and normalization every hospital applied, was computed from those totals alone", st.Entry, st.NoiseStdDev)
	if n := len(st.Notes); n > 0 {
		fmt.Fprintf(&b, "; for %d of %d features some figure fell back to the declared bounds or a default, the totals being too noisy there", n, len(st.Transform.Fill))
	}
	b.WriteString(".")
	return b.String()
}

// evaluationSection shows the private evaluation's release, nil when the
// log has none.
func evaluationSection(run *Run) *evaluationView {
	ev := run.Evaluation
	if ev == nil {
		return nil
	}
	v := &evaluationView{}
	if ev.Totals == nil {
		v.Line = "The private evaluation of the final model did not complete: nothing was released."
		return v
	}
	var b strings.Builder
	fmt.Fprintf(&b, "After training, %s each scored the final model on rows it had held out and never trained on, and released its confusion counts", joinList(slices.Sorted(slices.Values(ev.Contributors))))
	if ev.Bins > 0 {
		fmt.Fprintf(&b, " and histograms of the predicted probability in %d bins", ev.Bins)
	}
	if run.DP {
		fmt.Fprintf(&b, ", with Gaussian noise costing ε = %.3g on its own, counted in the ε above", ev.Epsilon)
	} else {
		b.WriteString(", WITHOUT noise (the run has no DP)")
	}
	fmt.Fprintf(&b, ". A quorum decrypted only their sum (entry %d), whose counts each carry noise of standard deviation %.4g; the scores below are read from those noisy counts. ", ev.Entry, ev.NoiseStdDev)
	switch {
	case len(ev.Sites) > 0:
		b.WriteString("Each hospital's own release, signed with its claim and sealed to the auditors, was opened for this report: the same release it added to the sum, with no further cost in ε.")
	case len(ev.Sealed) > 0:
		fmt.Fprintf(&b, "%d hospitals' own releases are in the log, sealed to the auditors: an auditor's identity opens them for a per-site table.", len(ev.Sealed))
	default:
		b.WriteString("No per-site release was sealed to an auditor.")
	}
	v.Line = b.String()
	score := func(who string, m stats.ScoreMetrics) scoreView {
		f := func(name string, x float64) string {
			if slices.Contains(m.Undefined, name) {
				return "—"
			}
			return fmt.Sprintf("%.3f", x)
		}
		return scoreView{Who: who, Rows: fmt.Sprintf("%.0f", m.Rows), Accuracy: f("accuracy", m.Accuracy), Precision: f("precision", m.Precision),
			Recall: f("recall", m.Recall), F1: f("f1", m.F1), AUC: f("auc", m.AUC)}
	}
	v.Scores = append(v.Scores, score("federation (noisy sum)", *ev.Totals))
	for _, s := range ev.Sites {
		v.Scores = append(v.Scores, score(s.ID, s.ScoreMetrics))
	}
	if m := ev.SiteMean; m != nil {
		auc := "—"
		if m.AUCSites > 0 {
			auc = fmt.Sprintf("%.3f (%d sites)", m.AUC, m.AUCSites)
		}
		v.Scores = append(v.Scores, scoreView{Who: fmt.Sprintf("mean of %d sites, each counted once", m.Sites), Rows: "—",
			Accuracy: fmt.Sprintf("%.3f", m.Accuracy), Precision: fmt.Sprintf("%.3f", m.Precision), Recall: fmt.Sprintf("%.3f", m.Recall),
			F1: fmt.Sprintf("%.3f", m.F1), AUC: auc})
	}
	return v
}
