package audit_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/fedcrypt/fedcrypt/audit"
	"github.com/fedcrypt/fedcrypt/federation"
)

// TestCheckLineage: a run of the next version passes when its key epochs
// come after the previous run's and continuing members' claims carry
// their ledgers over; each break is named.
func TestCheckLineage(t *testing.T) {
	prev := loadFed(t, simRun(t, 1, nil))
	next := *prev
	next.Members = prev.Members[:len(prev.Members)-1] // the last member is removed
	next.MinContributors = 2
	next.Lineage = federation.NextLineage(prev, &next)
	if err := next.Validate(); err != nil {
		t.Fatal(err)
	}
	id := prev.Members[0].ID
	runs := func() (*audit.Run, *audit.Run) {
		before := &audit.Run{Epochs: []audit.Epoch{{Epoch: 1, CollectiveKey: "k1"}, {Epoch: 2, CollectiveKey: "k2"}},
			Hospitals: []*audit.Hospital{{ID: id, Spends: []audit.Spend{{Claimed: 0.3, LedgerVersion: 2}, {Claimed: 0.5, LedgerVersion: 3}}}}}
		after := &audit.Run{Epochs: []audit.Epoch{{Epoch: 3, CollectiveKey: "k3"}},
			Hospitals: []*audit.Hospital{{ID: id, Spends: []audit.Spend{{Claimed: 0.7, LedgerVersion: 4}}}}}
		return before, after
	}
	before, after := runs()
	if err := audit.CheckLineage(prev, before, &next, after); err != nil {
		t.Fatalf("the next version's run: %v", err)
	}
	cases := map[string]struct {
		change func(before, after *audit.Run)
		want   string
	}{
		"an epoch not after":    {func(_, a *audit.Run) { a.Epochs[0].Epoch = 2 }, "not after epoch 2"},
		"a key used again":      {func(_, a *audit.Run) { a.Epochs[0].CollectiveKey = "k1" }, "collective key of revision 1 again"},
		"a fresh ledger":        {func(_, a *audit.Run) { a.Hospitals[0].Spends[0].LedgerVersion = 1 }, "did not carry over"},
		"spend forgotten":       {func(_, a *audit.Run) { a.Hospitals[0].Spends[0].Claimed = 0.2 }, "below the ε 0.5"},
		"not the next revision": {func(_, _ *audit.Run) { next.Lineage.Revision = 3 }, "revision 3"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			before, after := runs()
			rev := next.Lineage.Revision
			defer func() { next.Lineage.Revision = rev }()
			tc.change(before, after)
			err := audit.CheckLineage(prev, before, &next, after)
			if !errors.Is(err, audit.ErrBadLog) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a failure naming %q", err, tc.want)
			}
		})
	}
}
