package audit_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedcrypt/fedcrypt/audit"
	"github.com/fedcrypt/fedcrypt/client"
	"github.com/fedcrypt/fedcrypt/sim"
	"github.com/fedcrypt/fedcrypt/vault"
)

// witnesses opens every hospital's witness of the run in dir with the
// researcher's identity, to which the run's outputs are sealed.
func witnesses(t testing.TB, dir string) []audit.Witness {
	t.Helper()
	researcher, _ := researcherKeys(t, dir)
	ws, err := client.LoadWitness(filepath.Join(dir, sim.DirHospitals), loadFed(t, dir), researcher)
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

// verifyWitnessed verifies the log in dir against ws and returns the
// failure, if any.
func verifyWitnessed(t testing.TB, dir string, ws []audit.Witness) (*audit.Run, *audit.Failure) {
	t.Helper()
	run, err := audit.VerifyFile(filepath.Join(dir, sim.FileAudit), loadFed(t, dir), audit.Options{Witnesses: ws})
	var f *audit.Failure
	if err != nil && !errors.As(err, &f) {
		t.Fatal(err)
	}
	return run, f
}

func TestWitnessesOfSimulationsVerify(t *testing.T) {
	cases := []struct {
		name   string
		rounds int
		mutate func(*sim.Config)
	}{
		{"3 rounds", 3, nil},
		// Seed 5 abandons an attempt (a key holder of the decryption set
		// drops out as the request arrives, and a round has one decryption
		// attempt) and hospitals drop out: some heads are of abandoned
		// rounds, and not every hospital holds every head.
		{"abandoned attempts", 4, func(c *sim.Config) { seed := uint64(5); c.Seed, c.Dropout, c.MaxDecryptions = &seed, 0.2, 1 }},
		// The end entry follows the evaluation's.
		{"private evaluation", 2, func(c *sim.Config) { c.EvalEpsilon = 0.5 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := simRun(t, c.rounds, c.mutate)
			ws := witnesses(t, dir)
			run, f := verifyWitnessed(t, dir, ws)
			if f != nil || !run.Verified {
				t.Fatalf("witnessed run: %v", f)
			}
			if len(run.Witnesses) != 3 {
				t.Fatalf("witnesses of %d hospitals checked, want 3: %+v", len(run.Witnesses), run.Witnesses)
			}
			abandoned := 0
			for _, w := range ws {
				if w.Head.Type == audit.TypeRoundAbandoned {
					abandoned++
				}
			}
			if c.name == "abandoned attempts" && abandoned == 0 {
				t.Fatal("no head of an abandoned round: the case tests nothing")
			}
			for _, w := range run.Witnesses {
				// Every hospital is online at the end and holds its head.
				if w.Entry != run.Entries || w.Heads < 2 {
					t.Errorf("%s: %d heads, the latest at entry %d of %d", w.Hospital, w.Heads, w.Entry, run.Entries)
				}
			}
		})
	}
}

// TestWitnessesCatchTheAggregatorRewritingItsLog forges logs as the
// aggregator could, keeping the entries before the change and signing
// every one after it with its own key: each log is a valid chain, and only
// the hospitals' witnesses show it is not the log they saw.
// Entries: 1 setup, 2 statistics, 3..5 rounds 1..3, 6 end.
func TestWitnessesCatchTheAggregatorRewritingItsLog(t *testing.T) {
	base := simRun(t, 3, nil)
	keys := partyKeys(t, base)
	ws := witnesses(t, base)
	e := readEntries(t, filepath.Join(base, sim.FileAudit))
	r2 := e[3]
	r2.Body = bytes.Replace(r2.Body, []byte(`"bytes_up":`), []byte(`"bytes_up":1`), 1)
	cases := []struct {
		name   string
		keep   int // entries kept as written
		then   []audit.Entry
		entry  int
		reason string
	}{
		{"round 2 rewritten", 3, []audit.Entry{r2, e[4], e[5]}, 4, `hospital "h1" round 2: entry 4 is not the one the aggregator signed`},
		{"cut off after round 2", 4, nil, 5, `witness of hospital "h1" round 3: head of entry 5, the log ends at entry 4`},
		{"cut off after round 2 and closed", 4, []audit.Entry{e[5]}, 5, `hospital "h1" round 3: entry 5 is not the one`},
		{"end entry rewritten", 5, []audit.Entry{e[5]}, 6, `hospital "h1" round 3: entry 6 is not the one`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyRun(t, base)
			forge(t, dir, keys, c.keep, c.then)
			if c.then != nil {
				if _, f := verifyWitnessed(t, dir, nil); f != nil {
					t.Fatalf("the forged log does not verify without witnesses (%v): the case tests nothing", f)
				}
			}
			run, f := verifyWitnessed(t, dir, ws)
			if f == nil || f.Entry != c.entry || !strings.Contains(f.Reason, c.reason) {
				t.Fatalf("got %v, want entry %d: …%s…", f, c.entry, c.reason)
			}
			if run.Verified || len(run.Witnesses) != 0 {
				t.Fatalf("verified %v, witnesses %+v", run.Verified, run.Witnesses)
			}
		})
	}
}

func TestForgedWitnessesAreRefused(t *testing.T) {
	base := simRun(t, 2, nil)
	other := simRun(t, 2, func(c *sim.Config) { s := uint64(8); c.Seed = &s }) // another federation: its own keys (from its seed) and config
	keys := partyKeys(t, base)
	ws := witnesses(t, base)
	fed := loadFed(t, base)
	// Entries: 1 setup, 2 statistics, 3 round 1, 4 round 2, 5 end.
	at := func(hospital string, entries uint64) audit.Witness {
		for _, w := range ws {
			if w.Hospital == hospital && w.Head.Entries == entries {
				return w
			}
		}
		t.Fatalf("%s holds no head of entry %d", hospital, entries)
		return audit.Witness{}
	}
	resign := func(w audit.Witness, key *vault.Identity) audit.Witness {
		w.Signature = audit.SignHead(key.SigningKey(), w.Head)
		return w
	}
	cases := []struct {
		name   string
		w      func() audit.Witness
		entry  int
		reason string
	}{
		{"signature altered", func() audit.Witness {
			w := at("h2", 4)
			w.Signature = bytes.Clone(w.Signature)
			w.Signature[5] ^= 1
			return w
		}, 4, `witness of hospital "h2" round 2: audit head signature does not verify`},
		{"head altered", func() audit.Witness {
			w := at("h2", 4)
			w.Head.Round = 1
			return w
		}, 4, "does not verify"},
		{"signed by a hospital", func() audit.Witness { return resign(at("h3", 3), keys["h3"]) }, 3, "does not verify"},
		{"entry signature passed off as a head's", func() audit.Witness {
			w := at("h1", 3)
			e := readEntries(t, filepath.Join(base, sim.FileAudit))[2]
			sig, err := base64.StdEncoding.DecodeString(e.Sig)
			if err != nil {
				t.Fatal(err)
			}
			w.Signature = sig
			return w
		}, 3, "does not verify"},
		{"another federation's", func() audit.Witness { return witnesses(t, other)[0] }, 3, "of another federation"},
		{"not a member", func() audit.Witness {
			w := at("h1", 4)
			w.Hospital = "h9"
			return w
		}, 4, `"h9": not a member`},
		// The aggregator signs a different head for h3 than for the
		// others: it equivocated, and comparing the witnesses shows it.
		{"equivocation", func() audit.Witness {
			w := at("h3", 4)
			w.Hospital = "h3"
			w.Head.Hash[0] ^= 1
			return resign(w, keys[fed.Aggregator.ID])
		}, 4, "equivocated"},
		// h3 is told round 2 completed at the entry the others know as
		// the end.
		{"a completed round at two entries", func() audit.Witness {
			w := at("h3", 5)
			w.Head.Type = audit.TypeRound
			return resign(w, keys[fed.Aggregator.ID])
		}, 5, "round 2 completed at entries 4 and 5"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := c.w()
			var rest []audit.Witness
			for _, x := range ws {
				if x.Hospital != w.Hospital || x.Head.Entries != w.Head.Entries {
					rest = append(rest, x)
				}
			}
			_, f := verifyWitnessed(t, base, append(rest, w))
			if f == nil || f.Entry != c.entry || !strings.Contains(f.Reason, c.reason) {
				t.Fatalf("got %v, want entry %d: …%s…", f, c.entry, c.reason)
			}
		})
	}
}

func TestLoadWitnessChecksTheFile(t *testing.T) {
	base := simRun(t, 2, nil)
	other := simRun(t, 2, func(c *sim.Config) { s := uint64(8); c.Seed = &s }) // another federation: its keys come from its seed
	fed := loadFed(t, base)
	researcher, _ := researcherKeys(t, base)
	hospitals := filepath.Join(base, sim.DirHospitals)
	name := func(dir, member string) string {
		m, err := filepath.Glob(filepath.Join(dir, sim.DirHospitals, member+".witness-*.age"))
		if err != nil || len(m) != 1 {
			t.Fatalf("witness files of %s in %s: %v %v", member, dir, m, err)
		}
		return m[0]
	}
	if ws, err := client.LoadWitness(name(base, "h2"), fed, researcher); err != nil || len(ws) != 3 || ws[0].Hospital != "h2" {
		t.Fatalf("one hospital's file: %d heads, %v", len(ws), err)
	}
	// h1's file under h2's name: sealed by h1, not h2.
	swapped := copyRun(t, base)
	h1, h2 := name(swapped, "h1"), name(swapped, "h2")
	if err := os.Rename(h1, h2); err != nil {
		t.Fatal(err)
	}
	if _, err := client.LoadWitness(h2, fed, researcher); !errors.Is(err, vault.ErrBadSignature) {
		t.Errorf("h1's witness under h2's name: %v", err)
	}
	// Another federation's witnesses are not this one's.
	if _, err := client.LoadWitness(filepath.Join(other, sim.DirHospitals), fed, researcher); err == nil || !strings.Contains(err.Error(), "no witness of federation") {
		t.Errorf("another federation's hospitals: %v", err)
	}
	stranger, err := vault.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.LoadWitness(hospitals, fed, stranger); !errors.Is(err, vault.ErrNoIdentityMatch) {
		t.Errorf("opened with a stranger's identity: %v", err)
	}
}

func TestReportSaysWhoWitnessed(t *testing.T) {
	dir := simRun(t, 2, nil)
	for _, c := range []struct {
		ws   []audit.Witness
		want string
	}{
		{witnesses(t, dir), "Witnessed by h1 (3 heads, the latest at entry 5, round 2), h2 (3 heads"},
		{nil, "Witnesses: none checked"},
	} {
		rep := report(t, dir, audit.Options{Witnesses: c.ws})
		var h, md bytes.Buffer
		if err := rep.WriteHTML(&h); err != nil {
			t.Fatal(err)
		}
		if err := rep.WriteMarkdown(&md, t.TempDir(), "report"); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(h.String(), c.want) || !strings.Contains(md.String(), c.want) {
			t.Errorf("report does not say %q", c.want)
		}
	}
}
