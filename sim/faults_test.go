package sim

import (
	"context"
	"crypto/ed25519"
	"errors"
	"testing"

	"github.com/fedcrypt/fedcrypt/protocol"
	"github.com/fedcrypt/fedcrypt/transport"
)

// TestFaultsStrikeOncePerRound fails round 2 at each stage over the
// in-memory transport: the connection closes where the stage's message
// passes (the aggregator sees the member leave), and the same message of
// the same round passes on the next connection.
func TestFaultsStrikeOncePerRound(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	msg := func(kind string, round uint64) []byte {
		e := &protocol.Envelope{Kind: kind, From: "h1", Round: round}
		e.Sign(key)
		b, _ := e.MarshalBinary()
		return b
	}
	cases := []struct {
		at   Stage
		kind string
		up   bool // sent by the member, else by the aggregator
	}{
		{BeforeUpload, protocol.KindRound, false},
		{AfterUpload, protocol.KindUpload, true},
		{AtDecryption, protocol.KindDecrypt, false},
	}
	for _, c := range cases {
		t.Run(c.at.String(), func(t *testing.T) {
			ctx := context.Background()
			net := transport.NewNetwork(16)
			defer net.Close()
			hub := net.Hub()
			faults := NewFaults(func(round uint64) (Stage, bool) { return c.at, round == 2 })
			dial := func() transport.Conn {
				conn, err := net.Dial(ctx, "h1")
				if err != nil {
					t.Fatal(err)
				}
				if in, _ := hub.Recv(ctx); in.Kind != transport.Joined {
					t.Fatalf("hub got %v, want the member joining", in.Kind)
				}
				return faults.Conn(conn)
			}
			// pass sends the message of round r its way, and reports
			// whether the connection survived.
			pass := func(conn transport.Conn, r uint64) bool {
				m := msg(c.kind, r)
				if c.up {
					if err := conn.Send(ctx, m); err != nil {
						t.Fatal(err)
					}
					if in, _ := hub.Recv(ctx); in.Kind != transport.Message {
						t.Fatalf("round %d: the upload did not arrive (%v)", r, in.Kind)
					}
					_ = hub.Send(ctx, "h1", msg(protocol.KindResult, r))
				} else if err := hub.Send(ctx, "h1", m); err != nil {
					t.Fatal(err)
				}
				_, err := conn.Recv(ctx)
				if err == nil {
					return true
				}
				if !errors.Is(err, transport.ErrClosed) {
					t.Fatalf("round %d: %v, want a closed connection", r, err)
				}
				if in, _ := hub.Recv(ctx); in.Kind != transport.Left {
					t.Fatalf("round %d: hub got %v, want the member leaving", r, in.Kind)
				}
				return false
			}
			conn := dial()
			if !pass(conn, 1) {
				t.Fatal("round 1 failed")
			}
			if pass(conn, 2) {
				t.Fatal("round 2 did not fail")
			}
			if err := conn.Send(ctx, msg(protocol.KindHello, 2)); !errors.Is(err, transport.ErrClosed) {
				t.Fatalf("send on a dropped connection: %v", err)
			}
			conn = dial()
			if !pass(conn, 2) || !pass(conn, 3) {
				t.Fatal("round 2 failed twice, or round 3 failed")
			}
		})
	}
}

// TestDropoutsRejoin runs a federation whose hospitals drop out at every
// stage of a round and come back at once, as restarted processes, and
// which needs every hospital's update in every round. Each gets back what
// it lost of the round under way (the announcement, a commitment, a
// decryption request) and is waited for, so every round completes at its
// first attempt with every hospital's update, though hospitals went away.
func TestDropoutsRejoin(t *testing.T) {
	cfg := Defaults()
	cfg.Seed, cfg.Dropout, cfg.Rounds, cfg.Hospitals, cfg.MinContributors = seeded(7), 0.2, 4, 5, 5
	res := run(t, cfg)
	dropped := 0
	for _, r := range res.History {
		dropped += len(r.Dropped)
		if !r.Completed || r.Attempt != 1 || len(r.Contributors) != cfg.Hospitals {
			t.Fatalf("round %d attempt %d: completed %v by %v; want every round completed at once by all: %+v",
				r.Round, r.Attempt, r.Completed, r.Contributors, res.History)
		}
	}
	if res.Rounds != cfg.Rounds || dropped == 0 {
		t.Fatalf("%d rounds, %d hospitals went away: %+v", res.Rounds, dropped, res.History)
	}
}

// TestDropoutsRetry runs a federation allowed one decryption attempt per
// round: a key holder of the decryption set that drops out as the request
// arrives costs the round's attempt, which is abandoned, and its retry
// completes the run.
func TestDropoutsRetry(t *testing.T) {
	cfg := Defaults()
	cfg.Seed, cfg.Dropout, cfg.Rounds, cfg.Hospitals, cfg.MaxDecryptions = seeded(7), 0.2, 4, 5, 1
	res := run(t, cfg)
	retried := false
	for _, r := range res.History {
		retried = retried || r.Completed && r.Attempt > 1
	}
	if res.Rounds != cfg.Rounds || !retried {
		t.Fatalf("%d rounds, a retried round completed: %v: %+v", res.Rounds, retried, res.History)
	}
}
