package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/fedcrypt/fedcrypt/federation"
)

// lineage checks the lineage a setup entry records against the config's:
// a version that replaces another says so in its log.
func (v *verifier) lineage(got *federation.Lineage) error {
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(v.fed.Lineage)
	if !bytes.Equal(g, w) {
		return fmt.Errorf("lineage %s, the config's is %s", g, w)
	}
	v.run.Lineage = v.fed.Lineage
	return nil
}

// CheckLineage checks that run, verified under fed ([VerifyRun]), is a run
// of the federation's version that follows the one prevRun was verified
// under (prev):
//
//   - fed follows prev ([federation.CheckSuccessor]): its lineage names
//     prev, the members added and removed; the name, the DP budget and
//     continuing members' keys are unchanged;
//   - with encryption, every key epoch of run comes after every key epoch
//     of prevRun, and no collective key of prevRun is used again, so the
//     threshold shares of members no longer in the federation open none of
//     this version's uploads;
//   - every member that contributed in both runs carried its ledger over:
//     its first claim in run comes from a later ledger version than its
//     last in prevRun, and claims at least the ε it had then.
//
// The error, which wraps [ErrBadLog], names the first problem.
func CheckLineage(prev *federation.Config, prevRun *Run, fed *federation.Config, run *Run) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrBadLog, fmt.Sprintf(format, a...))
	}
	if err := federation.CheckSuccessor(prev, fed); err != nil {
		return bad("%v", err)
	}
	if fed.HE.Enabled && prev.HE.Enabled {
		var last uint64
		var keys []string
		for _, e := range prevRun.Epochs {
			last = max(last, e.Epoch)
			keys = append(keys, e.CollectiveKey)
		}
		for _, e := range run.Epochs {
			switch {
			case e.Epoch <= last:
				return bad("key epoch %d of revision %d is not after epoch %d of revision %d: a change of members makes a new key epoch", e.Epoch, fed.Revision(), last, prev.Revision())
			case slices.Contains(keys, e.CollectiveKey):
				return bad("key epoch %d of revision %d uses a collective key of revision %d again", e.Epoch, fed.Revision(), prev.Revision())
			}
		}
	}
	if !fed.DP.Enabled {
		return nil
	}
	for _, h := range run.Hospitals {
		if len(h.Spends) == 0 {
			continue
		}
		i := slices.IndexFunc(prevRun.Hospitals, func(p *Hospital) bool { return p.ID == h.ID })
		if i < 0 || len(prevRun.Hospitals[i].Spends) == 0 {
			continue
		}
		before, after := prevRun.Hospitals[i].Spends[len(prevRun.Hospitals[i].Spends)-1], h.Spends[0]
		switch {
		case after.LedgerVersion <= before.LedgerVersion:
			return bad("member %q: its first claim of revision %d is from ledger version %d, its last of revision %d from version %d: its ledger did not carry over", h.ID, fed.Revision(), after.LedgerVersion, prev.Revision(), before.LedgerVersion)
		case after.Claimed < before.Claimed:
			return bad("member %q: claims ε %.4g after its first round of revision %d, below the ε %.4g it had claimed in revision %d: its ledger did not carry over", h.ID, after.Claimed, fed.Revision(), before.Claimed, prev.Revision())
		}
	}
	return nil
}
