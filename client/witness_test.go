package client_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/fedcrypt/fedcrypt/audit"
	"github.com/fedcrypt/fedcrypt/client"
	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/fedavg"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/model"
	"github.com/fedcrypt/fedcrypt/protocol"
	"github.com/fedcrypt/fedcrypt/stats"
	"github.com/fedcrypt/fedcrypt/transport"
	"github.com/fedcrypt/fedcrypt/vault"
)

// federationOf returns a small federation of three hospitals, with every
// party's keys, and h1's rows.
func federationOf(t *testing.T) (*federation.Config, map[string]*vault.Identity, *data.Dataset) {
	t.Helper()
	keys := map[string]*vault.Identity{}
	party := func(id string) federation.Party {
		k, err := vault.GenerateIdentity()
		if err != nil {
			t.Fatal(err)
		}
		keys[id] = k
		return federation.Party{ID: id, Recipient: k.Recipient().String(), SigningKey: vault.FormatSigningKey(k.SigningPublicKey())}
	}
	ds := data.Synthetic(60, 4, 2, 7)
	mcfg, _ := model.ParseSpec("logreg", 4, 2)
	fed := &federation.Config{
		Version: federation.Version, Name: "witness", Aggregator: party("aggregator"),
		Threshold: 2, MinContributors: 2, MaxDecryptions: 3,
		HE:    federation.HE{UpdateBound: 1},
		DP:    federation.DP{Epsilon: 1, Delta: 1e-5, Accountant: "rdp", ClipNorm: 1, SampleRate: 0.3},
		Model: mcfg,
		Data:  federation.DataSpec{Options: ds.Options(), Schema: ds.Schema(), Normalize: "zscore", Stats: stats.Default(ds.Schema(), nil)},
		Training: federation.Training{Rounds: 5, LocalSteps: 1, Local: model.OptimizerConfig{Name: "sgd", LR: 0.5},
			Server: fedavg.Config{Name: "fedavg"}, Weighting: "equal"},
		Auditors: []federation.Party{party("auditor")},
	}
	for i := range 3 {
		fed.Members = append(fed.Members, federation.Member{Party: party(fmt.Sprintf("h%d", i+1)), Contributor: true, KeyHolder: true})
	}
	if err := fed.Validate(); err != nil {
		t.Fatal(err)
	}
	return fed, keys, ds
}

// aggregatorSide plays the aggregator by hand: it signs result and
// end-of-run messages with its real key and sends them to h1.
type aggregatorSide struct {
	t    *testing.T
	fed  *federation.Config
	key  *vault.Identity
	hub  transport.Hub
	done chan error // h1's Run
}

// join starts h1 with state in stateDir and waits for its hello.
func join(t *testing.T, fed *federation.Config, keys map[string]*vault.Identity, ds *data.Dataset, stateDir string) *aggregatorSide {
	t.Helper()
	c, err := client.New(client.Config{Federation: fed, Member: "h1", Identity: keys["h1"], Data: ds, StateDir: stateDir})
	if err != nil {
		t.Fatal(err)
	}
	net := transport.NewNetwork(16)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	a := &aggregatorSide{t: t, fed: fed, key: keys[fed.Aggregator.ID], hub: net.Hub(), done: make(chan error, 1)}
	go func() {
		a.done <- c.Run(ctx, func(ctx context.Context) (transport.Conn, error) { return net.Dial(ctx, "h1") })
	}()
	t.Cleanup(func() { cancel(); net.Close() })
	for {
		in, err := a.hub.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if in.Kind == transport.Message {
			break // the hello
		}
	}
	// The statistics phase's result, which gives h1 the federation's
	// transform: totals of an empty release.
	l, err := fed.StatsLayout()
	if err != nil {
		t.Fatal(err)
	}
	a.send(protocol.KindStatsResult, 0, protocol.StatsResult{Totals: make([]float64, l.Len()), NoiseStdDev: 1, Contributors: []string{"h1", "h2"}}.Marshal())
	return a
}

// head signs the head of a log of entries entries ending with an entry of
// type typ for round, whose line is named by line.
func (a *aggregatorSide) head(typ string, round, entries uint64, line string) protocol.AuditHead {
	return a.headBy(a.key, typ, round, entries, line)
}

// headBy is head signed with key.
func (a *aggregatorSide) headBy(key *vault.Identity, typ string, round, entries uint64, line string) protocol.AuditHead {
	h := audit.Head{Config: a.fed.Hash(), Type: typ, Round: round, Entries: entries, Hash: sha256.Sum256([]byte(line))}
	return protocol.AuditHead{Entries: entries, Hash: h.Hash, Sig: audit.SignHead(key.SigningKey(), h)}
}

func (a *aggregatorSide) send(kind string, round uint64, body []byte) {
	e := &protocol.Envelope{Kind: kind, From: a.fed.Aggregator.ID, Config: a.fed.Hash(), Round: round, Nonce: []byte("nonce"), Body: body}
	e.Sign(a.key.SigningKey())
	raw, _ := e.MarshalBinary()
	if err := a.hub.Send(context.Background(), "h1", raw); err != nil {
		a.t.Fatal(err)
	}
}

// result sends round's result, completed or abandoned, with head.
func (a *aggregatorSide) result(round uint64, completed bool, head protocol.AuditHead) {
	a.send(protocol.KindResult, round, protocol.Result{Completed: completed, Included: []string{}, ModelDigest: []byte{}, Head: head}.Marshal())
}

func (a *aggregatorSide) end(round uint64, head protocol.AuditHead) {
	a.send(protocol.KindDone, round, protocol.Done{Round: round, Head: head}.Marshal())
}

// wait returns h1's Run error.
func (a *aggregatorSide) wait() error {
	select {
	case err := <-a.done:
		return err
	case <-time.After(30 * time.Second):
		a.t.Fatal("the client did not stop")
		return nil
	}
}

func TestClientKeepsSignedHeads(t *testing.T) {
	fed, keys, ds := federationOf(t)
	state := t.TempDir()
	a := join(t, fed, keys, ds, state)
	a.result(1, true, a.head(audit.TypeRound, 1, 2, "round 1"))
	a.result(2, false, a.head(audit.TypeRoundAbandoned, 2, 3, "round 2, attempt 1"))
	a.result(2, true, a.head(audit.TypeRound, 2, 4, "round 2, attempt 2"))
	a.end(2, a.head(audit.TypeEnd, 2, 5, "end"))
	if err := a.wait(); err != nil {
		t.Fatal(err)
	}
	for _, id := range []*vault.Identity{keys["h1"], keys["auditor"]} {
		ws, err := client.LoadWitness(state, fed, id)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, w := range ws {
			if err := audit.VerifyHead(fed, w.Head, w.Signature); err != nil || w.Hospital != "h1" {
				t.Errorf("head %+v of %q: %v", w.Head, w.Hospital, err)
			}
			got = append(got, fmt.Sprintf("%s %d@%d", w.Head.Type, w.Head.Round, w.Head.Entries))
		}
		if want := "round 1@2, round-abandoned 2@3, round 2@4, end 2@5"; strings.Join(got, ", ") != want {
			t.Errorf("witness %s, want %s", strings.Join(got, ", "), want)
		}
	}
	// The witness is sealed: neither plaintext on disk nor readable by
	// another member.
	if _, err := client.LoadWitness(state, fed, keys["h2"]); err == nil {
		t.Error("h2 opened h1's witness")
	}

	// Restarted on the same state, the hospital still holds its heads: it
	// refuses one that rewinds past them, and keeps the ones that follow.
	a = join(t, fed, keys, ds, state)
	a.result(2, true, a.head(audit.TypeRound, 2, 4, "round 2 rewritten"))
	if err := a.wait(); err == nil || !strings.Contains(err.Error(), "does not advance past entry 5") {
		t.Fatalf("after a restart, a rewound head: %v", err)
	}
	a = join(t, fed, keys, ds, state)
	a.result(3, true, a.head(audit.TypeRound, 3, 7, "round 3"))
	a.end(3, a.head(audit.TypeEnd, 3, 8, "end"))
	if err := a.wait(); err != nil {
		t.Fatal(err)
	}
	ws, err := client.LoadWitness(state, fed, keys["h1"])
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 6 || ws[5].Head.Entries != 8 {
		t.Fatalf("after a restart: %d heads, the latest %+v", len(ws), ws[len(ws)-1].Head)
	}
}

func TestClientRefusesBadHeads(t *testing.T) {
	fed, keys, ds := federationOf(t)
	type step struct {
		round     uint64
		typ       string
		entries   uint64
		line      string
		signer    string // "" = the aggregator
		noHead    bool
		completed bool
	}
	r := func(round, entries uint64, line string) step {
		return step{round: round, typ: audit.TypeRound, entries: entries, line: line, completed: true}
	}
	cases := []struct {
		name  string
		steps []step
		want  string
	}{
		{"signed by a hospital", []step{{round: 1, typ: audit.TypeRound, entries: 2, line: "r1", signer: "h2", completed: true}},
			`aggregator "aggregator" round 1: audit head signature does not verify`},
		{"no head", []step{{round: 1, typ: audit.TypeRound, noHead: true, completed: true}},
			`aggregator "aggregator" round 1: no signed audit head`},
		{"a completed round again", []step{r(1, 2, "r1"), r(2, 3, "r2"), r(2, 4, "r2 rewritten")},
			`aggregator "aggregator" round 2: round 2 completed at entry 3`},
		{"entries rewound", []step{r(1, 2, "r1"), r(2, 3, "r2"), r(3, 3, "r3")},
			`aggregator "aggregator" round 3: signed head of entry 3 does not advance past entry 3`},
		{"rounds rewound", []step{r(1, 2, "r1"), r(3, 3, "r3"), r(2, 4, "r2")},
			`aggregator "aggregator" round 2: signed head of round 2 after one of round 3`},
		{"abandoned after completed", []step{r(1, 2, "r1"), {round: 1, typ: audit.TypeRoundAbandoned, entries: 3, line: "r1 abandoned"}},
			`aggregator "aggregator" round 1: round 1 completed at entry 2`},
		{"end before a completed round", []step{r(1, 2, "r1"), r(2, 3, "r2"), {round: 1, typ: audit.TypeEnd, entries: 4, line: "end"}},
			`aggregator "aggregator" round 1: signed end of the run after round 1, when round 2 completed`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := join(t, fed, keys, ds, t.TempDir())
			for _, s := range c.steps {
				var h protocol.AuditHead
				if !s.noHead {
					signer := a.key
					if s.signer != "" {
						signer = keys[s.signer]
					}
					h = a.headBy(signer, s.typ, s.round, s.entries, s.line)
				}
				if s.typ == audit.TypeEnd {
					a.end(s.round, h)
				} else {
					a.result(s.round, s.completed, h)
				}
			}
			err := a.wait()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want …%s…", err, c.want)
			}
		})
	}
}

// announce starts round for h1 with prev, and returns the kind of h1's
// answer (an upload or a decline), or "" when h1 stopped instead.
func (a *aggregatorSide) announce(round uint64, prev protocol.PrevHead) string {
	m, err := model.New(a.fed.Model, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		a.t.Fatal(err)
	}
	a.send(protocol.KindRound, round, protocol.RoundStart{Model: make([]float64, m.NumParams()), Prev: prev}.Marshal())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		in, err := a.hub.Recv(ctx)
		if err != nil {
			a.t.Fatal(err)
		}
		switch in.Kind {
		case transport.Left:
			return ""
		case transport.Message:
			env, err := protocol.ParseEnvelope(in.Data)
			if err != nil {
				a.t.Fatal(err)
			}
			return env.Kind
		}
	}
}

// TestClientRequiresTheHeadOfItsLastRound: a hospital that uploaded in a
// round takes part in a later one only holding a signed head for it, from
// the round's result or from the next announcement; an aggregator that
// withholds both is left.
func TestClientRequiresTheHeadOfItsLastRound(t *testing.T) {
	fed, keys, ds := federationOf(t)
	t.Run("withheld", func(t *testing.T) {
		a := join(t, fed, keys, ds, t.TempDir())
		if k := a.announce(1, protocol.PrevHead{}); k != protocol.KindUpload {
			t.Fatalf("round 1: h1 answered %q", k)
		}
		a.announce(2, protocol.PrevHead{})
		if err := a.wait(); err == nil || !strings.Contains(err.Error(), "head withheld") || !strings.Contains(err.Error(), "round 1") {
			t.Fatalf("round 2 announced without round 1's head: %v", err)
		}
	})
	t.Run("carried by the announcement", func(t *testing.T) {
		state := t.TempDir()
		a := join(t, fed, keys, ds, state)
		a.announce(1, protocol.PrevHead{})
		h1 := a.head(audit.TypeRound, 1, 2, "round 1")
		if k := a.announce(2, protocol.PrevHead{Completed: true, Round: 1, Head: h1}); k != protocol.KindUpload {
			t.Fatalf("round 2 with round 1's head: h1 answered %q", k)
		}
		// The same head again, after the result brought it, is no news.
		a.result(2, true, a.head(audit.TypeRound, 2, 3, "round 2"))
		if k := a.announce(3, protocol.PrevHead{Completed: true, Round: 2, Head: a.head(audit.TypeRound, 2, 3, "round 2")}); k != protocol.KindUpload {
			t.Fatalf("round 3: h1 answered %q", k)
		}
		a.end(2, a.head(audit.TypeEnd, 2, 4, "end"))
		if err := a.wait(); err != nil {
			t.Fatal(err)
		}
		w, err := client.LoadWitness(state, fed, keys["h1"])
		if err != nil {
			t.Fatal(err)
		}
		if len(w) != 3 || w[0].Head.Round != 1 || w[0].Head.Entries != 2 {
			t.Fatalf("witnesses kept: %+v", w)
		}
	})
	t.Run("after a restart", func(t *testing.T) {
		// The ledger remembers the rounds a hospital trained in.
		fed := *fed
		fed.DP.Enabled = true
		if err := fed.Validate(); err != nil {
			t.Fatal(err)
		}
		state := t.TempDir()
		a := join(t, &fed, keys, ds, state)
		a.announce(1, protocol.PrevHead{})
		// h1 leaves on a forged result, holding no head for round 1.
		a.result(1, true, a.headBy(keys["h2"], audit.TypeRound, 1, 2, "round 1"))
		if err := a.wait(); err == nil {
			t.Fatal("forged result accepted")
		}
		b := join(t, &fed, keys, ds, state)
		b.announce(2, protocol.PrevHead{})
		if err := b.wait(); err == nil || !strings.Contains(err.Error(), "head withheld") {
			t.Fatalf("round 2 after a restart, without round 1's head: %v", err)
		}
	})
	t.Run("forged", func(t *testing.T) {
		a := join(t, fed, keys, ds, t.TempDir())
		a.announce(1, protocol.PrevHead{})
		forged := a.headBy(keys["h2"], audit.TypeRound, 1, 2, "round 1")
		a.announce(2, protocol.PrevHead{Completed: true, Round: 1, Head: forged})
		if err := a.wait(); err == nil || !strings.Contains(err.Error(), "signature") {
			t.Fatalf("forged head in an announcement: %v", err)
		}
	})
}
