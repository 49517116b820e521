package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fedcrypt/fedcrypt/audit"
	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/protocol"
	"github.com/fedcrypt/fedcrypt/sim"
)

// TestVerifyPrivateEvaluation checks that a run with a private evaluation
// verifies with each release counted in its hospital's recomputed ε.
func TestVerifyPrivateEvaluation(t *testing.T) {
	csv, opts, _ := data.Embedded("wdbc")
	ds, _, err := data.Load(bytes.NewReader(csv), "wdbc", opts)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "run")
	seed := uint64(3)
	cfg := sim.Defaults()
	cfg.Rounds, cfg.EvalEpsilon, cfg.Seed, cfg.OutDir = 2, 0.5, &seed, dir
	if _, err := sim.Run(context.Background(), ds, cfg); err != nil {
		t.Fatal(err)
	}
	fed, err := federation.Load(filepath.Join(dir, sim.FileConfig))
	if err != nil {
		t.Fatal(err)
	}
	run, err := audit.VerifyFile(filepath.Join(dir, sim.FileAudit), fed, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range run.Hospitals {
		last := h.Spends[len(h.Spends)-1]
		if last.Round != 3 || last.SampleRate != 1 || last.Steps != 1 {
			t.Fatalf("hospital %s: last spend %+v, want the evaluation release (round 3, q 1, one step)", h.ID, last)
		}
	}
	if ev := run.Evaluation; ev == nil || ev.Totals == nil || len(ev.Sealed) != 3 || ev.Sites != nil {
		t.Fatalf("evaluation %+v: want the totals and three sealed site releases, unopened", run.Evaluation)
	}

	// An aggregator that understates the totals' noise, or a hospital that
	// keeps its own release from the auditors, is caught.
	keys := partyKeys(t, dir)
	entries := readEntries(t, filepath.Join(dir, sim.FileAudit))
	at := len(entries) - 2
	if entries[at].Type != audit.TypeEvaluation {
		t.Fatalf("entry %d is a %s entry", at+1, entries[at].Type)
	}
	for name, c := range map[string]struct {
		change func(*audit.Entry)
		want   string
	}{
		"noise understated": {func(e *audit.Entry) {
			var b map[string]any
			json.Unmarshal(e.Body, &b)
			b["noise_std_dev"] = b["noise_std_dev"].(float64) / 2
			e.Body, _ = json.Marshal(b)
		}, "noise of each total"},
		"no site release": {func(e *audit.Entry) {
			forgeClaim(t, e, keys["h2"], "h2", func(c *protocol.Claim) { c.Site = nil })
		}, "h2's claim seals no site release"},
	} {
		t.Run(name, func(t *testing.T) {
			forged := copyRun(t, dir)
			e := slices.Clone(entries)
			c.change(&e[at])
			rewrite(t, forged, keys, e)
			_, err := audit.VerifyFile(filepath.Join(forged, sim.FileAudit), fed, audit.Options{})
			var f *audit.Failure
			if !errors.As(err, &f) || f.Entry != at+1 || !strings.Contains(f.Reason, c.want) {
				t.Fatalf("got %v, want entry %d failing with %q", err, at+1, c.want)
			}
		})
	}
}
