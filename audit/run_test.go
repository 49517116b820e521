package audit_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fedcrypt/fedcrypt/aggregator"
	"github.com/fedcrypt/fedcrypt/audit"
	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/protocol"
	"github.com/fedcrypt/fedcrypt/sim"
	"github.com/fedcrypt/fedcrypt/vault"
)

// simRun runs a seeded simulation writing its artefacts to a fresh
// directory, and returns the directory.
func simRun(t testing.TB, rounds int, mutate func(*sim.Config)) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "run")
	if err := simRunIn(dir, rounds, mutate); err != nil {
		t.Fatal(err)
	}
	return dir
}

func simRunIn(dir string, rounds int, mutate func(*sim.Config)) error {
	csv, opt, _ := data.Embedded("wdbc")
	ds, _, err := data.Load(bytes.NewReader(csv), "wdbc", opt)
	if err != nil {
		return err
	}
	cfg := sim.Defaults()
	seed := uint64(7)
	cfg.Seed, cfg.Rounds, cfg.OutDir = &seed, rounds, dir
	cfg.Bounds, _ = data.EmbeddedBounds("wdbc") // as fedcrypt sim declares them
	if mutate != nil {
		mutate(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	_, err = sim.Run(ctx, ds, cfg)
	return err
}

// copyRun copies a run directory, so each case tampers with its own.
func copyRun(t testing.TB, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "run")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

func loadFed(t testing.TB, dir string) *federation.Config {
	t.Helper()
	fed, err := federation.Load(filepath.Join(dir, sim.FileConfig))
	if err != nil {
		t.Fatal(err)
	}
	return fed
}

// researcherKeys returns the run's researcher identity, to which its
// outputs are sealed, and the aggregator's public key, which signs them.
func researcherKeys(t testing.TB, dir string) (*vault.Identity, ed25519.PublicKey) {
	t.Helper()
	researcher, err := vault.ReadIdentityFile(filepath.Join(dir, sim.FileResearcher), nil)
	if err != nil {
		t.Fatal(err)
	}
	aggPub, err := loadFed(t, dir).Aggregator.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return researcher, aggPub
}

// partyKeys opens the run's sealed key file with the researcher's identity:
// every party's identity, the test keys used to forge signed entries.
func partyKeys(t testing.TB, dir string) map[string]*vault.Identity {
	t.Helper()
	researcher, aggPub := researcherKeys(t, dir)
	raw, err := vault.Unseal(filepath.Join(dir, sim.FileKeys), sim.SealKindKeys, aggPub, researcher)
	if err != nil {
		t.Fatal(err)
	}
	var texts map[string]string
	if err := json.Unmarshal(raw, &texts); err != nil {
		t.Fatal(err)
	}
	ids := map[string]*vault.Identity{"researcher": researcher}
	for id, text := range texts {
		if ids[id], err = vault.ParseIdentity(strings.NewReader(text)); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

// anchor opens the sealed checkpoint and returns its audit head.
func anchor(t testing.TB, dir string) *audit.Anchor {
	t.Helper()
	researcher, aggPub := researcherKeys(t, dir)
	raw, err := vault.Unseal(filepath.Join(dir, sim.FileCheckpoint), aggregator.SealKindCheckpoint, aggPub, researcher)
	if err != nil {
		t.Fatal(err)
	}
	var cp aggregator.Checkpoint
	if err := json.Unmarshal(raw, &cp); err != nil {
		t.Fatal(err)
	}
	a := &audit.Anchor{Round: cp.Round}
	copy(a.Head[:], cp.AuditHead)
	return a
}

func readEntries(t testing.TB, path string) []audit.Entry {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []audit.Entry
	for _, line := range bytes.Split(bytes.TrimSpace(raw), []byte("\n")) {
		var e audit.Entry
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// rewrite writes entries as a fresh log signed and chained by the
// aggregator's key: what an aggregator rewriting history could produce.
func rewrite(t testing.TB, dir string, keys map[string]*vault.Identity, entries []audit.Entry) {
	t.Helper()
	forge(t, dir, keys, 0, entries)
}

// forge keeps the first keep entries of dir's log as written and appends
// then, signed and chained with the aggregator's key.
func forge(t testing.TB, dir string, keys map[string]*vault.Identity, keep int, then []audit.Entry) {
	t.Helper()
	path := filepath.Join(dir, sim.FileAudit)
	fed := loadFed(t, dir)
	key := keys[fed.Aggregator.ID].SigningKey()
	var l *audit.Log
	var err error
	if keep == 0 {
		os.Remove(path)
		l, err = audit.Create(path, fed.Hash(), fed.Aggregator.ID, key)
	} else {
		writeLines(t, path, lines(t, path)[:keep])
		l, err = audit.Resume(path, fed.Hash(), [32]byte{}, fed.Aggregator.ID, key)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, e := range then {
		if _, err := l.Append(e.Type, e.Body); err != nil {
			t.Fatal(err)
		}
	}
}

// forgeClaim changes hospital's claim in a round entry's body and re-signs
// the claim with the hospital's own key.
func forgeClaim(t testing.TB, e *audit.Entry, hospital *vault.Identity, from string, change func(*protocol.Claim)) {
	t.Helper()
	editClaim(t, e, from, func(u map[string]any, signed []byte) []byte {
		env, err := protocol.ParseEnvelope(signed)
		if err != nil {
			t.Fatal(err)
		}
		c, err := protocol.ParseClaim(env.Body)
		if err != nil {
			t.Fatal(err)
		}
		change(&c)
		env.Body = c.Marshal()
		env.Sign(hospital.SigningKey())
		if _, ok := u["facts"]; ok {
			u["facts"] = audit.FactsOf(c) // a forger keeps the decoded copy consistent
		}
		out, _ := env.MarshalBinary()
		return out
	})
}

// editClaim replaces the signed claim of from's upload in a round entry's
// body with what edit makes of it; edit may change the upload's other
// fields too.
func editClaim(t testing.TB, e *audit.Entry, from string, edit func(upload map[string]any, signed []byte) []byte) {
	t.Helper()
	var body map[string]json.RawMessage
	if err := json.Unmarshal(e.Body, &body); err != nil {
		t.Fatal(err)
	}
	var ups []map[string]any
	if err := json.Unmarshal(body["uploads"], &ups); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, u := range ups {
		if u["from"] != from {
			continue
		}
		found = true
		raw, _ := json.Marshal(u["claim"])
		var signed []byte
		json.Unmarshal(raw, &signed)
		u["claim"] = edit(u, signed)
	}
	if !found {
		t.Fatalf("no upload from %s in entry %d", from, e.Seq+1)
	}
	body["uploads"], _ = json.Marshal(ups)
	e.Body, _ = json.Marshal(body)
}

func lines(t testing.TB, path string) []string {
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.SplitAfter(strings.TrimSuffix(string(raw), "\n"), "\n")
}

func writeLines(t testing.TB, path string, l []string) {
	s := strings.Join(l, "")
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}
