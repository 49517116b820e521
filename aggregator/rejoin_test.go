package aggregator_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"testing"

	"github.com/fedcrypt/fedcrypt/aggregator"
	"github.com/fedcrypt/fedcrypt/protocol"
	"github.com/fedcrypt/fedcrypt/transport"
)

// cut is a fault in one message of round 1: the first member to receive a
// request of kind (up false), or to send a message of kind (up true), loses
// it with its connection, and dials again. A quiet cut leaves the old
// connection to be replaced by the new one, so the aggregator never sees
// the member leave (as over gRPC when the member is back before its old
// stream is seen to end); a loud one closes it first.
type cut struct {
	kind   string
	up     bool
	quiet  bool
	victim string // "" for whoever meets the message first

	once sync.Once
	mu   sync.Mutex
	hit  string // the member it struck
	lost []byte // the message lost, when the member sent it
}

func (c *cut) strikes(id string, raw []byte) bool {
	e, err := protocol.ParseEnvelope(raw)
	if err != nil || e.Kind != c.kind || e.Round != 1 || (c.victim != "" && id != c.victim) {
		return false
	}
	struck := false
	c.once.Do(func() {
		struck = true
		c.mu.Lock()
		c.hit = id
		if c.up {
			c.lost = raw
		}
		c.mu.Unlock()
	})
	return struck
}

func (c *cut) wrap(id string, conn transport.Conn) transport.Conn {
	return &cutConn{Conn: conn, c: c, id: id}
}

type cutConn struct {
	transport.Conn
	c      *cut
	id     string
	mu     sync.Mutex
	broken bool
}

func (cc *cutConn) isBroken() bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.broken
}

func (cc *cutConn) breakOff() {
	cc.mu.Lock()
	cc.broken = true
	cc.mu.Unlock()
	if !cc.c.quiet {
		cc.Conn.Close()
	}
}

func (cc *cutConn) Send(ctx context.Context, raw []byte) error {
	if cc.isBroken() {
		return transport.ErrClosed
	}
	if cc.c.up && cc.c.strikes(cc.id, raw) {
		cc.breakOff() // lost on the way: the member sent it
		return nil
	}
	return cc.Conn.Send(ctx, raw)
}

func (cc *cutConn) Recv(ctx context.Context) ([]byte, error) {
	if cc.isBroken() {
		return nil, transport.ErrClosed
	}
	raw, err := cc.Conn.Recv(ctx)
	if err == nil && !cc.c.up && cc.c.strikes(cc.id, raw) {
		cc.breakOff()
		return nil, transport.ErrClosed
	}
	return raw, err
}

func (cc *cutConn) Close() error {
	if cc.isBroken() && cc.c.quiet {
		return nil
	}
	return cc.Conn.Close()
}

// TestMemberBackMidRoundTakesPart cuts one member's connection in round 1
// where a message of each phase passes, and has the member dial again, as
// a crashed and restarted process or a lost network would. Every member's
// upload is needed (min-contributors is all of them), so the round
// completes only if the member gets back what it lost: the announcement, a
// commitment, or a decryption request, sent again by the aggregator; and a
// lost answer is sent again as it was, never a second one (one upload per
// round attempt, one endorsement per commitment, one share per request).
// No round is retried and no second range of the key's budget is spent.
func TestMemberBackMidRoundTakesPart(t *testing.T) {
	cases := []struct {
		name string
		cut  *cut
		grpc bool
	}{
		{"announcement lost", &cut{kind: protocol.KindRound, victim: "h2"}, false},
		{"announcement lost over gRPC", &cut{kind: protocol.KindRound, victim: "h2"}, true},
		{"announcement lost, departure unseen", &cut{kind: protocol.KindRound, victim: "h2", quiet: true}, false},
		{"upload lost", &cut{kind: protocol.KindUpload, up: true, victim: "h2"}, false},
		{"upload lost, departure unseen", &cut{kind: protocol.KindUpload, up: true, victim: "h2", quiet: true}, false},
		{"endorsement lost, departure unseen", &cut{kind: protocol.KindEndorse, up: true, quiet: true}, false},
		{"decryption request lost, departure unseen", &cut{kind: protocol.KindDecrypt, quiet: true}, false},
		{"decryption share lost, departure unseen", &cut{kind: protocol.KindShare, up: true, quiet: true}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, 3, 2, 3)
			f.grpc, f.reconnect, f.wrap = tc.grpc, true, tc.cut.wrap
			var mu sync.Mutex
			commits := map[uint64]map[string]bool{} // distinct commitments by round
			f.hubTamper = func(f *fixture, to string, raw []byte) []byte {
				if e, err := protocol.ParseEnvelope(raw); err == nil && e.Kind == protocol.KindCommit {
					mu.Lock()
					if commits[e.Round] == nil {
						commits[e.Round] = map[string]bool{}
					}
					d := sha256.Sum256(e.Body)
					commits[e.Round][string(d[:])] = true
					mu.Unlock()
				}
				return raw
			}
			reps := f.run()
			c := tc.cut
			if c.hit == "" {
				t.Fatal("the fault never struck")
			}
			for _, r := range reps {
				if !r.Completed || r.Attempt != 1 || len(r.Included) != 3 {
					t.Fatalf("round %d attempt %d: completed %v with %v (%s); want every round completed at once by all three",
						r.Number, r.Attempt, r.Completed, r.Included, r.Reason)
				}
				if n := len(commits[r.Number]); n != 1 {
					t.Errorf("round %d: %d commitments, want 1 (one range of the key's budget)", r.Number, n)
				}
			}
			if completedRounds(reps) != 2 {
				t.Fatalf("%d rounds completed, want 2", completedRounds(reps))
			}
			r1 := reps[0]
			if c.lost != nil {
				wantSameAnswer(t, r1, c)
			}
			// The member's ledger was charged as every other's: it did
			// not train twice for one round.
			last := reps[len(reps)-1]
			other := "h1"
			if c.hit == "h1" {
				other = "h3"
			}
			got, want := last.Claims[c.hit], last.Claims[other]
			if got.LedgerVersion != want.LedgerVersion || got.DP.Epsilon != want.DP.Epsilon {
				t.Errorf("%s's last claim: ledger version %d, ε %v; %s's: %d, %v", c.hit, got.LedgerVersion, got.DP.Epsilon,
					other, want.LedgerVersion, want.DP.Epsilon)
			}
		})
	}
}

// wantSameAnswer checks that what round 1 used of the member is the
// message it lost, sent again: its upload's signed claim, or its decryption
// share.
func wantSameAnswer(t *testing.T, r1 *aggregator.Round, c *cut) {
	t.Helper()
	e, err := protocol.ParseEnvelope(c.lost)
	if err != nil {
		t.Fatal(err)
	}
	switch e.Kind {
	case protocol.KindUpload:
		u, err := protocol.ParseUpload(e.Body)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(r1.SignedClaims[c.hit], u.Claim) {
			t.Errorf("round 1 summed another upload of %s than the one it lost", c.hit)
		}
	case protocol.KindShare:
		s, err := protocol.ParseShare(e.Body)
		if err != nil {
			t.Fatal(err)
		}
		d := sha256.Sum256(s.Share)
		if got := r1.ShareDigests[c.hit]; got != hex.EncodeToString(d[:]) {
			t.Errorf("round 1 combined another share of %s (%.16s…) than the one it lost", c.hit, got)
		}
	}
}
