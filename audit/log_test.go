package audit

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type party struct {
	pub  ed25519.PublicKey
	priv ed25519.PrivateKey
}

func newParty(seed byte) party {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, 32))
	return party{priv.Public().(ed25519.PublicKey), priv}
}

func keysOf(m map[string]party) KeyFunc {
	return func(id string) (ed25519.PublicKey, error) {
		p, ok := m[id]
		if !ok {
			return nil, fmt.Errorf("unknown writer")
		}
		return p.pub, nil
	}
}

// writeLog writes n entries and returns the path, the config hash and the head.
func writeLog(t *testing.T, n int) (string, [32]byte, [32]byte, map[string]party) {
	t.Helper()
	parties := map[string]party{"aggregator": newParty(1), "other": newParty(2)}
	cfg := sha256.Sum256([]byte("config"))
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := Create(path, cfg, "aggregator", parties["aggregator"].priv)
	if err != nil {
		t.Fatal(err)
	}
	var head [32]byte
	for i := range n {
		head, err = l.Append("round", map[string]any{"round": i, "contributors": []string{"h1", "h2"}})
		if err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	return path, cfg, head, parties
}

func TestVerifyAcceptsAnIntactLog(t *testing.T) {
	path, cfg, head, parties := writeLog(t, 4)
	entries, got, err := Verify(path, cfg, keysOf(parties))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 4 || got != head {
		t.Fatalf("%d entries, head %x; want 4 and %x", len(entries), got[:4], head[:4])
	}
}

func TestVerifyNamesTheTamperedEntry(t *testing.T) {
	cases := []struct {
		name   string
		tamper func(lines []string, parties map[string]party) []string
		entry  string
	}{
		{"byte changed", func(l []string, _ map[string]party) []string {
			l[2] = strings.Replace(l[2], `"round":2`, `"round":7`, 1)
			return l
		}, "entry 3"},
		{"entry deleted", func(l []string, _ map[string]party) []string { return append(l[:1], l[2:]...) }, "entry 2"},
		{"entries reordered", func(l []string, _ map[string]party) []string { l[1], l[2] = l[2], l[1]; return l }, "entry 2"},
		{"signature swapped", func(l []string, _ map[string]party) []string {
			sig := func(s string) string { return s[strings.Index(s, `"sig":`):] }
			l[3] = strings.Replace(l[3], sig(l[3]), sig(l[0]), 1)
			return l
		}, "entry 4"},
		{"writer changed", func(l []string, _ map[string]party) []string {
			l[0] = strings.Replace(l[0], `"writer":"aggregator"`, `"writer":"other"`, 1)
			return l
		}, "entry 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path, cfg, _, parties := writeLog(t, 4)
			raw, _ := os.ReadFile(path)
			lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
			lines = c.tamper(lines, parties)
			os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
			_, _, err := Verify(path, cfg, keysOf(parties))
			if !errors.Is(err, ErrBadLog) {
				t.Fatalf("tampered log verified: %v", err)
			}
			if !strings.Contains(err.Error(), c.entry+":") {
				t.Fatalf("error %q does not name %s", err, c.entry)
			}
		})
	}
}

func TestVerifyRejectsOtherFederation(t *testing.T) {
	path, _, _, parties := writeLog(t, 2)
	_, _, err := Verify(path, sha256.Sum256([]byte("another config")), keysOf(parties))
	if err == nil {
		t.Fatal("log verified against another federation's config hash")
	}
	// Nothing in the log was changed: the error says the config and the
	// log do not belong together, not that an entry was tampered with.
	if msg := err.Error(); !strings.Contains(msg, "entry 1: the log does not start from this federation config") || strings.Contains(msg, "changed, removed or reordered") {
		t.Errorf("error %q", msg)
	}
}

func TestResumeDetectsTruncationAgainstAnchor(t *testing.T) {
	path, cfg, head, parties := writeLog(t, 3)
	raw, _ := os.ReadFile(path)
	lines := strings.SplitAfter(string(raw), "\n")
	os.WriteFile(path, []byte(strings.Join(lines[:2], "")), 0o600) // tail cut off
	if _, err := Resume(path, cfg, head, "aggregator", parties["aggregator"].priv); err == nil {
		t.Fatal("resumed a log whose tail was cut off")
	}
	os.WriteFile(path, raw, 0o600)
	l, err := Resume(path, cfg, head, "aggregator", parties["aggregator"].priv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append("resume", map[string]int{"round": 3}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	entries, _, err := Verify(path, cfg, keysOf(parties))
	if err != nil || len(entries) != 4 || entries[3].Type != "resume" {
		t.Fatalf("after resume: %d entries, %v", len(entries), err)
	}
}

// TestResumedHead: a resumed log names the head after its last abandoned
// round, or its last round up to the checkpoint's, with the entry count and
// hash that a head signed then carried.
func TestResumedHead(t *testing.T) {
	priv := newParty(1).priv
	cfg := sha256.Sum256([]byte("config"))
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := Create(path, cfg, "aggregator", priv)
	if err != nil {
		t.Fatal(err)
	}
	heads := map[string][32]byte{}
	for _, e := range []struct {
		name, typ string
		round     int
	}{{"setup", TypeSetup, 0}, {"r1", TypeRound, 1}, {"r2", TypeRound, 2}, {"a3", TypeRoundAbandoned, 3}, {"r3", TypeRound, 3}} {
		if heads[e.name], err = l.Append(e.typ, map[string]any{"round": e.round}); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	for _, c := range []struct {
		completed uint64
		want      Head
		ok        bool
	}{
		{3, Head{Config: cfg, Type: TypeRound, Round: 3, Entries: 5, Hash: heads["r3"]}, true},
		{2, Head{Config: cfg, Type: TypeRoundAbandoned, Round: 3, Entries: 4, Hash: heads["a3"]}, true},
	} {
		r, err := Resume(path, cfg, [32]byte{}, "aggregator", priv)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := r.ResumedHead(c.completed)
		r.Close()
		if ok != c.ok || got != c.want {
			t.Errorf("checkpoint after round %d: %+v %v, want %+v", c.completed, got, ok, c.want)
		}
	}
	fresh := filepath.Join(t.TempDir(), "audit.jsonl")
	l, _ = Create(fresh, cfg, "aggregator", priv)
	l.Append(TypeSetup, map[string]any{})
	l.Close()
	r, err := Resume(fresh, cfg, [32]byte{}, "aggregator", priv)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if h, ok := r.ResumedHead(0); ok {
		t.Errorf("a log without rounds names head %+v", h)
	}
}

func FuzzParseChain(f *testing.F) {
	dir := f.TempDir()
	priv := newParty(1).priv
	cfg := sha256.Sum256([]byte("config"))
	path := filepath.Join(dir, "seed.jsonl")
	l, _ := Create(path, cfg, "aggregator", priv)
	l.Append("setup", map[string]int{"threshold": 2})
	l.Append("round", map[string]int{"round": 1})
	l.Close()
	raw, _ := os.ReadFile(path)
	f.Add(raw)
	f.Add([]byte("{}\n"))
	f.Add([]byte("not json\n"))
	keys := keysOf(map[string]party{"aggregator": newParty(1)})
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, head, err := parseChain(bytes.NewReader(data), "fuzz", cfg, keys)
		if err != nil {
			return
		}
		// Whatever verifies is a chain: re-reading its entries' links from
		// the config hash must end at the reported head.
		if len(entries) == 0 && head != cfg {
			t.Fatal("empty log with a head other than the config hash")
		}
		for i, e := range entries {
			if e.Seq != uint64(i) {
				t.Fatalf("entry %d has seq %d", i, e.Seq)
			}
		}
	})
}
