package aggregator_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedcrypt/fedcrypt/audit"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/protocol"
	"github.com/fedcrypt/fedcrypt/vault"
)

// The tests in this file play a malicious aggregator against the two
// releases every hospital makes besides its updates: the statistics,
// whose totals give the federation's transform, and the private
// evaluation, whose per-site part is sealed to the auditors.

// An aggregator that sends one hospital other statistics totals than it
// logged makes that hospital train with another transform. It gains no
// privacy from it (the transform is computed from a DP release), and the
// hospital's signed claims name the transform it trained with, so the
// run's log fails verification at that hospital's first claim.
func TestAggregatorSendingOtherTotalsIsCaught(t *testing.T) {
	f := newFixture(t, 3, 2, 3)
	f.hubTamper = func(f *fixture, to string, raw []byte) []byte {
		e, err := protocol.ParseEnvelope(raw)
		if err != nil || e.Kind != protocol.KindStatsResult || to != "h2" {
			return raw
		}
		res, err := protocol.ParseStatsResult(e.Body)
		if err != nil {
			t.Errorf("stats result: %v", err)
			return raw
		}
		// Far from the logged totals, so that they give another transform
		// (totals within their noise fall back to the declared bounds).
		for i := range res.Totals {
			res.Totals[i] = 1000*res.Totals[i] + float64(i%7)*1e5
		}
		forged := &protocol.Envelope{Kind: e.Kind, From: e.From, Config: e.Config, Round: e.Round, Nonce: e.Nonce, Body: res.Marshal()}
		forged.Sign(f.aggKey.SigningKey())
		out, _ := forged.MarshalBinary()
		return out
	}
	out := t.TempDir()
	reps, err := f.runIn(out)
	if err != nil {
		t.Fatalf("the run: %v", err)
	}
	if completedRounds(reps) != 2 {
		t.Fatalf("%d of 2 rounds completed", completedRounds(reps))
	}
	_, err = audit.VerifyFile(filepath.Join(out, "audit.jsonl"), f.fed, audit.Options{})
	var failure *audit.Failure
	if !errors.As(err, &failure) || !strings.Contains(failure.Reason, "h2") || !strings.Contains(failure.Reason, "not the federation's") {
		t.Fatalf("verify: %v, want a failure naming h2's claim of another transform", err)
	}
	if strings.Contains(failure.Reason, "h1") || strings.Contains(failure.Reason, "h3") {
		t.Errorf("the failure names an honest hospital: %s", failure.Reason)
	}
}

// Each hospital's own evaluation release travels in its claim through the
// aggregator, sealed to the auditors: the aggregator, which relays and
// logs it, cannot open it; the auditor opens every site's.
func TestAggregatorCannotOpenTheSitesEvaluation(t *testing.T) {
	f := newFixture(t, 3, 2, 3)
	auditor, err := vault.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	f.fed.Auditors = []federation.Party{{ID: "auditor1", Recipient: auditor.Recipient().String()}}
	f.fed.Evaluation = federation.Evaluation{Enabled: true, Epsilon: 0.5, Holdout: 0.25, Bins: federation.DefaultEvalBins}
	if err := f.fed.Validate(); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if _, err := f.runIn(out); err != nil {
		t.Fatalf("the run: %v", err)
	}
	run, err := audit.VerifyFile(filepath.Join(out, "audit.jsonl"), f.fed, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ev := run.Evaluation
	if ev == nil || ev.Totals == nil || len(ev.Sealed) != 3 {
		t.Fatalf("evaluation %+v: want the totals and three sealed site releases", ev)
	}
	if err := ev.OpenSites(f.fed, f.aggKey); !errors.Is(err, vault.ErrNoIdentityMatch) {
		t.Fatalf("the aggregator's identity opened the site releases: %v", err)
	}
	if len(ev.Sites) != 0 {
		t.Fatalf("sites %+v read with the aggregator's identity", ev.Sites)
	}
	if err := ev.OpenSites(f.fed, auditor); err != nil {
		t.Fatal(err)
	}
	if len(ev.Sites) != 3 {
		t.Fatalf("the auditor opened %d sites, want 3", len(ev.Sites))
	}
}
