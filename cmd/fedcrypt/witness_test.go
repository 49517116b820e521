package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedcrypt/fedcrypt/audit"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/sim"
	"github.com/fedcrypt/fedcrypt/vault"
)

// simKey opens a sim run's sealed key file with its researcher key and
// returns party id's identity.
func simKey(t *testing.T, run, id string) *vault.Identity {
	t.Helper()
	researcher, err := vault.ReadIdentityFile(filepath.Join(run, sim.FileResearcher), nil)
	if err != nil {
		t.Fatal(err)
	}
	fed, err := federation.Load(filepath.Join(run, sim.FileConfig))
	if err != nil {
		t.Fatal(err)
	}
	aggPub, err := fed.Aggregator.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := vault.Unseal(filepath.Join(run, sim.FileKeys), sim.SealKindKeys, aggPub, researcher)
	if err != nil {
		t.Fatal(err)
	}
	var texts map[string]string
	if err := json.Unmarshal(raw, &texts); err != nil {
		t.Fatal(err)
	}
	k, err := vault.ParseIdentity(strings.NewReader(texts[id]))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestAuditVerifyWitnesses(t *testing.T) {
	t.Parallel()
	run := simRun(t)
	ctx := t.Context()
	researcher := filepath.Join(run, "researcher.key")
	hospitals := filepath.Join(run, "hospitals")
	r := runIn(t, ctx, "audit", "verify", run, "-i", researcher, "--witness", hospitals)
	if r.code != 0 || !strings.Contains(r.stdout, "anchored at entry 4, witnessed by h1, h2, h3") {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	var out struct {
		Verified  bool                 `json:"verified"`
		Witnesses []audit.WitnessFacts `json:"witnesses"`
	}
	decodeJSON(t, runIn(t, ctx, "audit", "verify", run, "-i", researcher, "--witness", hospitals, "--json"), &out)
	if !out.Verified || len(out.Witnesses) != 3 || out.Witnesses[2].Hospital != "h3" || out.Witnesses[2].Entry != 5 {
		t.Fatalf("--json: %+v", out)
	}
	if r := runIn(t, ctx, "audit", "verify", run); !strings.Contains(r.stdout, "NOT witnessed") {
		t.Errorf("a verification without witnesses does not say so: %q", r.stdout)
	}

	// A hospital checks the log with its own witness and identity.
	dir := t.TempDir()
	h2key := filepath.Join(dir, "h2.key")
	if err := vault.WriteIdentityFile(h2key, simKey(t, run, "h2"), nil, 0); err != nil {
		t.Fatal(err)
	}
	h2witness, _ := filepath.Glob(filepath.Join(hospitals, "h2.witness-*.age"))
	if len(h2witness) != 1 {
		t.Fatalf("h2's witness files: %q", h2witness)
	}
	r = runIn(t, ctx, "audit", "verify", run, "--witness", h2witness[0], "--witness-identity", h2key)
	if r.code != 0 || !strings.Contains(r.stdout, "witnessed by h2") {
		t.Fatalf("h2's own witness: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	r = runIn(t, ctx, "report", run, "-o", filepath.Join(dir, "r.md"), "--format", "md", "-i", researcher, "--witness", hospitals)
	md, _ := os.ReadFile(filepath.Join(dir, "r.md"))
	if r.code != 0 || !strings.Contains(string(md), "Witnessed by h1 (3 heads") {
		t.Fatalf("report: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestAuditVerifyWitnessesCatchARewrittenLog has the aggregator rewrite
// round 2's entry and sign the rest of the log again with its own key: a
// valid chain, which only the hospitals' witnesses refute.
func TestAuditVerifyWitnessesCatchARewrittenLog(t *testing.T) {
	t.Parallel()
	run := simRunCopy(t)
	path := filepath.Join(run, "audit.jsonl")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Entries: 1 setup, 2 statistics, 3 round 1, 4 round 2, 5 end.
	lines := bytes.SplitAfter(raw, []byte("\n"))
	var rest []audit.Entry
	for _, l := range lines[3:5] {
		var e audit.Entry
		if err := json.Unmarshal(l, &e); err != nil {
			t.Fatal(err)
		}
		rest = append(rest, e)
	}
	rest[0].Body = bytes.Replace(rest[0].Body, []byte(`"bytes_up":`), []byte(`"bytes_up":1`), 1)
	if err := os.WriteFile(path, bytes.Join(lines[:3], nil), 0o600); err != nil {
		t.Fatal(err)
	}
	fed, err := federation.Load(filepath.Join(run, "federation.json"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.Resume(path, fed.Hash(), [32]byte{}, fed.Aggregator.ID, simKey(t, run, fed.Aggregator.ID).SigningKey())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range rest {
		if _, err := l.Append(e.Type, e.Body); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()

	if r := runIn(t, t.Context(), "audit", "verify", run); r.code != 0 {
		t.Fatalf("the rewritten log does not verify on its own (%s): the test tests nothing", r.stderr)
	}
	researcher := filepath.Join(run, "researcher.key")
	r := runIn(t, t.Context(), "audit", "verify", run, "--witness", filepath.Join(run, "hospitals"), "--witness-identity", researcher)
	wantVerdictFailure(t, r, "entry 4:", `witness of hospital "h1" round 2`, "rewritten")
}

// TestAuditVerifyWitnessIdentityRepeatable checks two hospitals' witnesses,
// each opened by its own hospital's key: every --witness-identity is
// tried, not only the last.
func TestAuditVerifyWitnessIdentityRepeatable(t *testing.T) {
	t.Parallel()
	run := simRun(t)
	dir := t.TempDir()
	var args []string
	for _, h := range []string{"h1", "h2"} {
		key := filepath.Join(dir, h+".key")
		if err := vault.WriteIdentityFile(key, simKey(t, run, h), nil, 0); err != nil {
			t.Fatal(err)
		}
		w, _ := filepath.Glob(filepath.Join(run, "hospitals", h+".witness-*.age"))
		if len(w) != 1 {
			t.Fatalf("%s's witness files: %q", h, w)
		}
		args = append(args, "--witness", w[0], "--witness-identity", key)
	}
	r := runIn(t, t.Context(), append([]string{"audit", "verify", run}, args...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "witnessed by h1, h2") {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	// h2's key alone does not open h1's witness.
	r = runIn(t, t.Context(), "audit", "verify", run, args[0], args[1], args[4], args[5], args[6], args[7])
	wantOneLineError(t, r, "--witness")
}
