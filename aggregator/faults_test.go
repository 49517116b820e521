package aggregator_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedcrypt/fedcrypt/aggregator"
	"github.com/fedcrypt/fedcrypt/client"
	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/fedavg"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/model"
	"github.com/fedcrypt/fedcrypt/protocol"
	"github.com/fedcrypt/fedcrypt/stats"
	"github.com/fedcrypt/fedcrypt/transport"
	"github.com/fedcrypt/fedcrypt/transport/grpcnet"
	"github.com/fedcrypt/fedcrypt/vault"
)

// fixture is a small federation of real clients and a real aggregator over
// the in-memory transport, with hooks to tamper with what one party sends.
type fixture struct {
	t       *testing.T
	fed     *federation.Config
	aggKey  *vault.Identity
	keys    map[string]*vault.Identity
	parts   map[string]*data.Dataset
	net     *transport.Network
	mu      sync.Mutex
	conns   map[string]*tamperConn
	reports []*aggregator.Round
	// tamper rewrites what member id sends (nil: unchanged); hubTamper what
	// the aggregator sends to a member.
	tamper    map[string]func(f *fixture, raw []byte) [][]byte
	hubTamper func(f *fixture, to string, raw []byte) []byte
	// round and nonce of the round under way, as the members saw it.
	round    uint64
	nonce    []byte
	outsider string
	out      string            // the aggregator's output directory; a temporary one if empty
	state    map[string]string // members' state directories; none (memory) if absent
	// grpc runs the federation over gRPC with mutual TLS on loopback
	// instead of the in-memory network; hub is the aggregator's end of
	// whichever transport runs.
	grpc bool
	hub  transport.Hub
	pki  *testPKI
	// wrap, when set, wraps every connection a member dials; reconnect
	// has a member whose connection closed dial again, as client join
	// does.
	wrap      func(id string, c transport.Conn) transport.Conn
	reconnect bool
}

func newFixture(t *testing.T, members, threshold, minContributors int) *fixture {
	f := &fixture{t: t, keys: map[string]*vault.Identity{}, parts: map[string]*data.Dataset{},
		conns: map[string]*tamperConn{}, tamper: map[string]func(*fixture, []byte) [][]byte{}}
	ds := data.Synthetic(40*members, 4, 2, 7)
	parts, err := data.Partition(ds, members, data.Scheme{Kind: "iid"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	party := func(id string) federation.Party {
		k, err := vault.GenerateIdentity()
		if err != nil {
			t.Fatal(err)
		}
		f.keys[id] = k
		return federation.Party{ID: id, Recipient: k.Recipient().String(), SigningKey: vault.FormatSigningKey(k.SigningPublicKey())}
	}
	mcfg, _ := model.ParseSpec("logreg", 4, 2)
	f.fed = &federation.Config{
		Version: federation.Version, Name: "faults", Aggregator: party("aggregator"),
		Threshold: threshold, MinContributors: minContributors, MaxDecryptions: 3,
		HE:    federation.HE{Enabled: true, Preset: "insecure-test-compact", UpdateBound: 1},
		DP:    federation.DP{Enabled: true, Epsilon: 2, Delta: 1e-5, Accountant: "rdp", ClipNorm: 1, SampleRate: 0.3},
		Model: mcfg,
		Data:  federation.DataSpec{Options: ds.Options(), Schema: ds.Schema(), Normalize: "zscore", Stats: stats.Default(ds.Schema(), nil)},
		Training: federation.Training{Rounds: 2, LocalSteps: 3, Local: model.OptimizerConfig{Name: "sgd", LR: 0.5},
			Server: fedavg.Config{Name: "fedavg"}, Weighting: "equal"},
	}
	f.aggKey = f.keys["aggregator"]
	for i := range members {
		id := fmt.Sprintf("h%d", i+1)
		f.fed.Members = append(f.fed.Members, federation.Member{Party: party(id), Contributor: true, KeyHolder: true})
		f.parts[id] = parts[i]
	}
	if err := f.fed.Validate(); err != nil {
		t.Fatal(err)
	}
	return f
}

// run runs the federation to its end and returns the aggregator's reports.
func (f *fixture) run() []*aggregator.Round {
	reps, err, _ := f.runErrs()
	if err != nil {
		f.t.Fatal(err)
	}
	return reps
}

// runIn runs the federation to its end with the aggregator writing to out.
func (f *fixture) runIn(out string) ([]*aggregator.Round, error) {
	f.out = out
	reps, err, _ := f.runErrs()
	return reps, err
}

// runErrs runs the federation to its end and returns the aggregator's
// reports, its error and each member's.
func (f *fixture) runErrs() ([]*aggregator.Round, error, map[string]error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f.net = transport.NewNetwork(256)
	defer f.net.Close()
	f.hub = f.net.Hub()
	if f.grpc {
		f.hub = f.serveGRPC()
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	errs := map[string]error{}
	for i, m := range f.fed.Members {
		c, err := client.New(client.Config{Federation: f.fed, Member: m.ID, Identity: f.keys[m.ID], Data: f.parts[m.ID],
			StateDir: f.state[m.ID], Rand: seeded(uint64(i) + 10), TrainRand: seeded(uint64(i) + 20)})
		if err != nil {
			f.t.Fatal(err)
		}
		wg.Go(func() {
			err := c.Run(ctx, func(ctx context.Context) (transport.Conn, error) { return f.dial(ctx, m.ID) })
			for f.reconnect && errors.Is(err, transport.ErrClosed) && ctx.Err() == nil {
				err = c.Run(ctx, func(ctx context.Context) (transport.Conn, error) { return f.dial(ctx, m.ID) })
			}
			mu.Lock()
			errs[m.ID] = err
			mu.Unlock()
		})
	}
	init := make([]float64, 5)
	out := f.out
	if out == "" {
		out = f.t.TempDir()
	}
	_, err := aggregator.Run(ctx, aggregator.Config{Federation: f.fed, Identity: f.aggKey, OutDir: out,
		InitialModel: init, Rand: seeded(1), Timeout: 5 * time.Second, // a refused uploader is waited for until then
		OnRound: func(r *aggregator.Round) { f.mu.Lock(); f.reports = append(f.reports, r); f.mu.Unlock() },
	}, &tamperHub{f.hub, f})
	if err != nil {
		cancel() // members still waiting for a run that ended
	}
	wg.Wait()
	return f.reports, err, errs
}

func (f *fixture) dial(ctx context.Context, id string) (transport.Conn, error) {
	var c transport.Conn
	var err error
	if f.grpc {
		c, err = grpcnet.Dial(ctx, grpcnet.DialConfig{Addr: f.pki.addr, Member: id, Credentials: f.pki.member(f.t, id)})
	} else {
		c, err = f.net.Dial(ctx, id)
	}
	if err != nil {
		return nil, err
	}
	tc := &tamperConn{Conn: c, f: f, id: id}
	f.mu.Lock()
	f.conns[id] = tc
	f.mu.Unlock()
	if f.wrap != nil {
		return f.wrap(id, tc), nil
	}
	return tc, nil
}

// inject sends raw on member id's connection, as if the member sent it.
func (f *fixture) inject(id string, raw []byte) {
	f.mu.Lock()
	c := f.conns[id]
	f.mu.Unlock()
	c.Conn.Send(context.Background(), raw)
}

// sign builds and signs an envelope from id bound to the round under way.
func (f *fixture) sign(id, kind string, body []byte) []byte {
	f.mu.Lock()
	e := &protocol.Envelope{Kind: kind, From: id, Config: f.fed.Hash(), Round: f.round, Nonce: f.nonce, Body: body}
	f.mu.Unlock()
	e.Sign(f.keys[id].SigningKey())
	raw, _ := e.MarshalBinary()
	return raw
}

type tamperConn struct {
	transport.Conn
	f  *fixture
	id string
}

func (c *tamperConn) Send(ctx context.Context, raw []byte) error {
	if fn := c.f.tamper[c.id]; fn != nil {
		for _, m := range fn(c.f, raw) {
			if err := c.Conn.Send(ctx, m); err != nil {
				return err
			}
		}
		return nil
	}
	return c.Conn.Send(ctx, raw)
}

func (c *tamperConn) Recv(ctx context.Context) ([]byte, error) {
	raw, err := c.Conn.Recv(ctx)
	if err == nil {
		if e, perr := protocol.ParseEnvelope(raw); perr == nil && e.Kind == protocol.KindRound {
			c.f.mu.Lock()
			c.f.round, c.f.nonce = e.Round, slices.Clone(e.Nonce)
			c.f.mu.Unlock()
		}
	}
	return raw, err
}

type tamperHub struct {
	transport.Hub
	f *fixture
}

func (h *tamperHub) Send(ctx context.Context, to string, raw []byte) error {
	if h.f.hubTamper != nil {
		raw = h.f.hubTamper(h.f, to, raw)
	}
	return h.Hub.Send(ctx, to, raw)
}

func kindOf(raw []byte) string {
	e, err := protocol.ParseEnvelope(raw)
	if err != nil {
		return ""
	}
	return e.Kind
}

// roundOf is the round an envelope is bound to.
func roundOf(raw []byte) uint64 {
	e, err := protocol.ParseEnvelope(raw)
	if err != nil {
		return 0
	}
	return e.Round
}

// rebuildUpload replaces an upload's payload, re-signing the claim and the
// envelope with the sender's own key: a well-signed upload carrying bytes
// that are not a valid ciphertext.
func (f *fixture) rebuildUpload(raw []byte, payload func([]byte) []byte) []byte {
	e, _ := protocol.ParseEnvelope(raw)
	u, _ := protocol.ParseUpload(e.Body)
	ce, _ := protocol.ParseEnvelope(u.Claim)
	claim, _ := protocol.ParseClaim(ce.Body)
	u.Payload = payload(u.Payload)
	claim.PayloadDigest = sha256.Sum256(u.Payload)
	ce.Body = claim.Marshal()
	ce.Sign(f.keys[e.From].SigningKey())
	u.Claim, _ = ce.MarshalBinary()
	e.Body = u.Marshal()
	e.Sign(f.keys[e.From].SigningKey())
	out, _ := e.MarshalBinary()
	return out
}

// wantRefused checks that in round r the aggregator refused a message from
// id for a reason containing want, and still completed the round.
func wantRefused(t *testing.T, reports []*aggregator.Round, r uint64, id, want string) {
	t.Helper()
	for _, rep := range reports {
		if rep.Number != r || !rep.Completed {
			continue
		}
		if reason, ok := rep.Refused[id]; !ok || !strings.Contains(reason, want) {
			t.Fatalf("round %d: refusal of %q is %q, want one mentioning %q (all: %v)", r, id, reason, want, rep.Refused)
		}
		return
	}
	t.Fatalf("round %d did not complete: %+v", r, reports)
}

func completedRounds(reports []*aggregator.Round) int {
	n := 0
	for _, r := range reports {
		if r.Completed {
			n++
		}
	}
	return n
}

func TestRefusesBadMessagesAndCarriesOn(t *testing.T) {
	t.Run("duplicate upload", func(t *testing.T) {
		f := newFixture(t, 3, 2, 2)
		f.tamper["h1"] = func(f *fixture, raw []byte) [][]byte {
			if kindOf(raw) == protocol.KindUpload {
				return [][]byte{raw, raw}
			}
			return [][]byte{raw}
		}
		reps := f.run()
		wantRefused(t, reps, 1, "h1", "duplicate")
		if completedRounds(reps) != 2 || len(reps[0].Included) != 3 {
			t.Fatalf("%d rounds completed, round 1 summed %v", completedRounds(reps), reps[0].Included)
		}
	})
	t.Run("upload replayed from an earlier round", func(t *testing.T) {
		f := newFixture(t, 3, 2, 2)
		var first []byte
		f.tamper["h2"] = func(f *fixture, raw []byte) [][]byte {
			if kindOf(raw) != protocol.KindUpload {
				return [][]byte{raw}
			}
			if first == nil {
				first = raw
				return [][]byte{raw}
			}
			return [][]byte{first, raw} // the stale one first, then the genuine one
		}
		reps := f.run()
		wantRefused(t, reps, 2, "h2", "stale nonce")
		if !slices.Contains(reps[len(reps)-1].Included, "h2") {
			t.Fatal("h2's genuine upload was not summed after its replay was refused")
		}
	})
	t.Run("upload not signed by its sender", func(t *testing.T) {
		f := newFixture(t, 3, 2, 2)
		mallory, _ := vault.GenerateIdentity()
		f.tamper["h3"] = func(f *fixture, raw []byte) [][]byte {
			if kindOf(raw) == protocol.KindUpload && roundOf(raw) == 1 {
				e, _ := protocol.ParseEnvelope(raw)
				e.Sign(mallory.SigningKey())
				raw, _ = e.MarshalBinary()
			}
			return [][]byte{raw}
		}
		reps := f.run()
		wantRefused(t, reps, 1, "h3", "signature does not verify")
		if slices.Contains(reps[0].Included, "h3") {
			t.Fatal("a forged upload was summed")
		}
	})
	t.Run("upload from a non-member", func(t *testing.T) {
		f := newFixture(t, 3, 2, 2)
		f.tamper["h1"] = func(f *fixture, raw []byte) [][]byte {
			if kindOf(raw) == protocol.KindUpload {
				// mallory, not in the config, connects and uploads too.
				mallory, _ := vault.GenerateIdentity()
				conn, err := f.net.Dial(context.Background(), "mallory")
				if err == nil {
					up, _ := protocol.ParseEnvelope(raw) // bound to h1's round and nonce
					e := &protocol.Envelope{Kind: protocol.KindUpload, From: "mallory", Config: f.fed.Hash(), Round: up.Round, Nonce: up.Nonce, Body: []byte("x")}
					e.Sign(mallory.SigningKey())
					b, _ := e.MarshalBinary()
					conn.Send(context.Background(), b)
				}
			}
			return [][]byte{raw}
		}
		reps := f.run()
		wantRefused(t, reps, 1, "mallory", "not a member")
	})
	t.Run("malformed ciphertext", func(t *testing.T) {
		f := newFixture(t, 3, 2, 2)
		f.tamper["h1"] = func(f *fixture, raw []byte) [][]byte {
			if kindOf(raw) == protocol.KindUpload && roundOf(raw) == 1 {
				raw = f.rebuildUpload(raw, func(p []byte) []byte {
					bad := slices.Clone(p)
					for i := len(bad) / 2; i < len(bad); i++ {
						bad[i] = 0xff // coefficients above their prime
					}
					return bad
				})
			}
			return [][]byte{raw}
		}
		reps := f.run()
		wantRefused(t, reps, 1, "h1", "malformed")
		if completedRounds(reps) != 2 {
			t.Fatalf("%d rounds completed", completedRounds(reps))
		}
	})
	t.Run("decryption share from outside the signed set", func(t *testing.T) {
		f := newFixture(t, 4, 2, 2)
		var once sync.Once
		f.hubTamper = func(f *fixture, to string, raw []byte) []byte {
			e, err := protocol.ParseEnvelope(raw)
			if err != nil || e.Kind != protocol.KindDecrypt || e.Round == 0 {
				return raw
			}
			req, _ := protocol.ParseDecryptRequest(e.Body)
			for _, m := range f.fed.Members {
				if !slices.Contains(req.Commit.Set, m.ID) {
					once.Do(func() {
						share := protocol.Share{Attempt: req.Attempt, Share: []byte("not a share")}.Marshal()
						f.inject(m.ID, f.sign(m.ID, protocol.KindShare, share))
						f.mu.Lock()
						f.outsider = m.ID
						f.mu.Unlock()
					})
					break
				}
			}
			return raw
		}
		reps := f.run()
		wantRefused(t, reps, 1, f.outsider, "outside the signed set")
	})
	t.Run("decryption set naming too few uploads", func(t *testing.T) {
		f := newFixture(t, 3, 2, 2)
		var victim string
		f.hubTamper = func(f *fixture, to string, raw []byte) []byte {
			e, err := protocol.ParseEnvelope(raw)
			if err != nil || e.Kind != protocol.KindDecrypt || e.Round != 1 || (victim != "" && to != victim) {
				return raw
			}
			victim = to
			req, _ := protocol.ParseDecryptRequest(e.Body)
			req.Commit.Sum.Uploads = req.Commit.Sum.Uploads[:1]
			e.Body = req.Marshal()
			e.Sign(f.aggKey.SigningKey())
			out, _ := e.MarshalBinary()
			return out
		}
		reps := f.run()
		wantRefused(t, reps, 1, victim, "fewer than min-contributors")
		if slices.Contains(reps[0].Set, victim) {
			t.Fatalf("the refusing key holder %s is in the set that decrypted", victim)
		}
	})
}

// seeded is a deterministic reader for reproducible fixtures.
func seeded(seed uint64) *chachaReader { return &chachaReader{rand.NewChaCha8(seedBytes(seed))} }

type chachaReader struct{ c *rand.ChaCha8 }

func (r *chachaReader) Read(p []byte) (int, error) { return r.c.Read(p) }

func seedBytes(seed uint64) [32]byte {
	var b [32]byte
	for i := range 8 {
		b[i] = byte(seed >> (8 * i))
	}
	return b
}

// testPKI is a federation CA with the aggregator's server certificate for
// loopback, and the address the aggregator listens on.
type testPKI struct {
	ca     *grpcnet.CA
	server grpcnet.Credentials
	addr   string
}

func (p *testPKI) member(t *testing.T, id string) grpcnet.Credentials {
	now := time.Now()
	cert, key, err := p.ca.Issue(grpcnet.Leaf{Member: id, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return grpcnet.Credentials{CA: p.ca.CertPEM(), Cert: cert, Key: key}
}

// serveGRPC starts the aggregator's gRPC server with mutual TLS on a
// loopback port until the test ends.
func (f *fixture) serveGRPC() transport.Hub {
	t := f.t
	now := time.Now()
	ca, err := grpcnet.NewCA("faults", now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := ca.Issue(grpcnet.Leaf{Hosts: []string{"127.0.0.1"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range f.fed.Members {
		ids = append(ids, m.ID)
	}
	f.pki = &testPKI{ca: ca, server: grpcnet.Credentials{CA: ca.CertPEM(), Cert: cert, Key: key}}
	s, err := grpcnet.NewServer(grpcnet.ServerConfig{Credentials: f.pki.server, Members: ids})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.pki.addr = l.Addr().String()
	go s.Serve(l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return s
}
