package grpcnet

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/fedcrypt/fedcrypt/transport"
)

// wantEvent receives the next hub event and checks its kind and member.
func wantEvent(t *testing.T, ctx context.Context, s *Server, kind transport.EventKind, from string) transport.Incoming {
	t.Helper()
	in, err := s.Recv(ctx)
	if err != nil {
		t.Fatalf("hub Recv: %v (want event %d from %q)", err, kind, from)
	}
	if in.Kind != kind || in.From != from {
		t.Fatalf("hub event %d from %q, want %d from %q", in.Kind, in.From, kind, from)
	}
	return in
}

func TestMessagesBothWaysOverMutualTLS(t *testing.T) {
	ctx := testContext(t)
	pki := newTestPKI(t)
	s, addr := startServer(t, ServerConfig{Credentials: pki.server, Members: []string{"h1", "h2"}})
	c, err := Dial(ctx, DialConfig{Addr: addr, Member: "h1", Credentials: pki.member(t, "h1")})
	if err != nil {
		t.Fatal(err)
	}
	wantEvent(t, ctx, s, transport.Joined, "h1")

	up := bytes.Repeat([]byte("upload "), 10)
	if err := c.Send(ctx, up); err != nil {
		t.Fatal(err)
	}
	in := wantEvent(t, ctx, s, transport.Message, "h1")
	if !bytes.Equal(in.Data, up) {
		t.Fatalf("hub got %d bytes, want the %d sent", len(in.Data), len(up))
	}

	// Several chunks each way, with a size that is not a multiple of one.
	big := make([]byte, 3*ChunkBytes+12345)
	for i := range big {
		big[i] = byte(i * 7)
	}
	if err := s.Send(ctx, "h1", big); err != nil {
		t.Fatal(err)
	}
	got, err := c.Recv(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, big) {
		t.Fatalf("member got %d bytes, differing from the %d sent", len(got), len(big))
	}
	if err := c.Send(ctx, big); err != nil {
		t.Fatal(err)
	}
	if in := wantEvent(t, ctx, s, transport.Message, "h1"); !bytes.Equal(in.Data, big) {
		t.Fatalf("hub got %d bytes, differing from the %d sent", len(in.Data), len(big))
	}

	if err := s.Send(ctx, "h2", []byte("x")); !errors.Is(err, transport.ErrNotConnected) {
		t.Fatalf("send to a member that is not connected: %v", err)
	}
	c.Close()
	wantEvent(t, ctx, s, transport.Left, "h1")
	if err := s.Send(ctx, "h1", []byte("x")); !errors.Is(err, transport.ErrNotConnected) {
		t.Fatalf("send after the member left: %v", err)
	}
	if _, err := c.Recv(ctx); !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("Recv on a closed connection: %v", err)
	}
}

func TestRefusedConnections(t *testing.T) {
	pki := newTestPKI(t)
	other := newTestPKI(t) // another federation's CA
	now := time.Now()
	serverAsClient := Credentials{CA: pki.server.CA, Cert: pki.server.Cert, Key: pki.server.Key}
	foreign := other.member(t, "h1")
	foreign.CA = pki.ca.CertPEM() // trusts the right aggregator, but is not from its CA
	cases := []struct {
		name   string
		member string
		creds  Credentials
		reason string
	}{
		{"certificate from another CA", "h1", foreign, RefusedUnknownCA},
		{"expired certificate", "h1", pki.memberValid(t, "h1", now.Add(-48*time.Hour), now.Add(-24*time.Hour)), RefusedExpired},
		{"certificate not yet valid", "h1", pki.memberValid(t, "h1", now.Add(24*time.Hour), now.Add(48*time.Hour)), RefusedExpired},
		{"certificate of a non-member", "h9", pki.member(t, "h9"), RefusedNotMember},
		{"server certificate as client certificate", "h1", serverAsClient, RefusedBadCert},
		{"valid certificate claiming another member", "h2", pki.member(t, "h1"), RefusedMismatch},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t)
			m := NewMetrics()
			s, addr := startServer(t, ServerConfig{Credentials: pki.server, Members: []string{"h1", "h2"}, Metrics: m})
			// A refusal is not retried, however long retries may last: a
			// minute of attempts every few milliseconds would be thousands.
			// (A write racing the server's TLS alert fails as a broken
			// pipe, retried like any unreachable aggregator; a later
			// attempt reads the alert.)
			c, err := Dial(ctx, DialConfig{Addr: addr, Member: tc.member, Credentials: tc.creds, RetryFor: time.Minute,
				MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
			if err == nil {
				c.Close()
				t.Fatal("connection accepted")
			}
			attempts := -1
			if i := strings.Index(err.Error(), "(attempt "); i >= 0 {
				fmt.Sscanf(err.Error()[i:], "(attempt %d)", &attempts)
			}
			if attempts < 1 || attempts > 20 {
				t.Errorf("refusal retried: %v", err)
			}
			if got := refusals(t, m, tc.reason); got < 1 || got > float64(attempts) {
				t.Errorf("refusals{reason=%q} = %v after %d attempts (dial error: %v)", tc.reason, got, attempts, err)
			}
			// The refused party never joined: the next event is a real
			// member's.
			ok, err := Dial(ctx, DialConfig{Addr: addr, Member: "h2", Credentials: pki.member(t, "h2")})
			if err != nil {
				t.Fatal(err)
			}
			defer ok.Close()
			wantEvent(t, ctx, s, transport.Joined, "h2")
		})
	}
}

func TestOversizedMessageRefused(t *testing.T) {
	ctx := testContext(t)
	pki := newTestPKI(t)
	m := NewMetrics()
	const limit = 4096
	s, addr := startServer(t, ServerConfig{Credentials: pki.server, Members: []string{"h1"}, Metrics: m, MaxMessageBytes: limit})
	// The member's own limit is larger, so the message leaves it.
	c, err := Dial(ctx, DialConfig{Addr: addr, Member: "h1", Credentials: pki.member(t, "h1"), MaxMessageBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wantEvent(t, ctx, s, transport.Joined, "h1")
	if err := c.Send(ctx, make([]byte, limit)); err != nil {
		t.Fatal(err)
	}
	wantEvent(t, ctx, s, transport.Message, "h1")
	if err := c.Send(ctx, make([]byte, limit+1)); err != nil {
		t.Fatal(err)
	}
	wantEvent(t, ctx, s, transport.Left, "h1")
	if got := refusals(t, m, RefusedTooLarge); got != 1 {
		t.Errorf("refusals{reason=too-large} = %v, want 1", got)
	}
	_, err = c.Recv(ctx)
	if !errors.Is(err, transport.ErrClosed) || status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("member Recv after refusal: %v", err)
	}
	if err := s.Send(ctx, "h1", make([]byte, limit+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("hub sending above its limit: %v", err)
	}
	small, err := Dial(ctx, DialConfig{Addr: addr, Member: "h1", Credentials: pki.member(t, "h1"), MaxMessageBytes: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	if err := small.Send(ctx, make([]byte, 101)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("member sending above its limit: %v", err)
	}
}

func TestRedialReplacesSession(t *testing.T) {
	ctx := testContext(t)
	pki := newTestPKI(t)
	s, addr := startServer(t, ServerConfig{Credentials: pki.server, Members: []string{"h1"}})
	cfg := DialConfig{Addr: addr, Member: "h1", Credentials: pki.member(t, "h1")}
	old, err := Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	wantEvent(t, ctx, s, transport.Joined, "h1")
	fresh, err := Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	wantEvent(t, ctx, s, transport.Joined, "h1")
	if _, err := old.Recv(ctx); !errors.Is(err, transport.ErrClosed) || status.Code(err) != codes.Aborted {
		t.Fatalf("replaced session: Recv returned %v, want ErrClosed", err)
	}
	if err := s.Send(ctx, "h1", []byte("round")); err != nil {
		t.Fatal(err)
	}
	if got, err := fresh.Recv(ctx); err != nil || string(got) != "round" {
		t.Fatalf("new session got %q, %v", got, err)
	}
	fresh.Close()
	wantEvent(t, ctx, s, transport.Left, "h1")
	// The replaced session's end was not reported as the member leaving.
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if in, err := s.Recv(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("extra event %+v after the member left (err %v)", in, err)
	}
}

func TestDialRetriesUntilAggregatorListens(t *testing.T) {
	ctx := testContext(t)
	pki := newTestPKI(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dialed := make(chan error, 1)
	var c transport.Conn
	go func() {
		var err error
		c, err = Dial(ctx, DialConfig{Addr: addr, Member: "h1", Credentials: pki.member(t, "h1"),
			RetryFor: 30 * time.Second, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
		dialed <- err
	}()
	s, err := NewServer(ServerConfig{Credentials: pki.server, Members: []string{"h1"}})
	if err != nil {
		t.Fatal(err)
	}
	l, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port %s taken in between: %v", addr, err)
	}
	go s.Serve(l)
	defer s.Shutdown(context.Background())
	if err := <-dialed; err != nil {
		t.Fatalf("dial with retries: %v", err)
	}
	defer c.Close()
	wantEvent(t, ctx, s, transport.Joined, "h1")

	// Without retries, an address nobody listens on fails at once.
	if _, err := Dial(ctx, DialConfig{Addr: "127.0.0.1:1", Member: "h1", Credentials: pki.member(t, "h1")}); err == nil {
		t.Fatal("dial to a closed port succeeded")
	}
}

func TestShutdownEndsSessionsAndHealth(t *testing.T) {
	ctx := testContext(t)
	pki := newTestPKI(t)
	s, err := NewServer(ServerConfig{Credentials: pki.server, Members: []string{"h1"}})
	if err != nil {
		t.Fatal(err)
	}
	addr, served := serve(t, s)
	creds := pki.member(t, "h1")
	c, err := Dial(ctx, DialConfig{Addr: addr, Member: "h1", Credentials: creds})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wantEvent(t, ctx, s, transport.Joined, "h1")

	tc, err := clientTLS(creds, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(tc)))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	h, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{Service: ServiceName})
	if err != nil || h.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health before shutdown: %v, %v", h, err)
	}

	// What is queued before shutdown is delivered before the session ends.
	for _, m := range []string{"result", "done"} {
		if err := s.Send(ctx, "h1", []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.Shutdown(sctx); err != nil {
		t.Fatalf("graceful shutdown: %v", err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve after shutdown: %v", err)
	}
	for _, want := range []string{"result", "done"} {
		if got, err := c.Recv(ctx); err != nil || string(got) != want {
			t.Fatalf("member Recv after shutdown: %q, %v; want %q", got, err, want)
		}
	}
	if _, err := c.Recv(ctx); !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("member Recv after shutdown: %v", err)
	}
	if err := s.Send(ctx, "h1", []byte("late")); !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("Send after shutdown: %v", err)
	}
	for {
		// Left may or may not be queued before the hub closed; after it,
		// only ErrClosed.
		in, err := s.Recv(ctx)
		if errors.Is(err, transport.ErrClosed) {
			break
		}
		if err != nil || in.Kind != transport.Left {
			t.Fatalf("hub after shutdown: %+v, %v", in, err)
		}
	}
}

// TestHubSendsDoNotWaitForMemberRecv checks that a member busy elsewhere
// (not calling Recv) still takes in what the aggregator sends, so the
// aggregator never blocks on it while the member blocks on the aggregator.
func TestHubSendsDoNotWaitForMemberRecv(t *testing.T) {
	ctx := testContext(t)
	pki := newTestPKI(t)
	s, addr := startServer(t, ServerConfig{Credentials: pki.server, Members: []string{"h1"}, SendTimeout: 20 * time.Second})
	c, err := Dial(ctx, DialConfig{Addr: addr, Member: "h1", Credentials: pki.member(t, "h1")})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wantEvent(t, ctx, s, transport.Joined, "h1")
	const n, size = 64, 256 << 10 // far beyond the session queue and HTTP/2 windows
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for i := range n {
		msg := bytes.Repeat([]byte{byte(i)}, size)
		if err := s.Send(sctx, "h1", msg); err != nil {
			t.Fatalf("send %d of %d while the member is not reading: %v", i+1, n, err)
		}
	}
	for i := range n {
		got, err := c.Recv(ctx)
		if err != nil || len(got) != size || got[0] != byte(i) {
			t.Fatalf("message %d: %d bytes starting %v, %v", i, len(got), got[:min(1, len(got))], err)
		}
	}
}

// TestCloseDeliversWhatWasSent checks that a member that sends and closes
// at once (a process dropping its connection right after an upload) still
// delivers the message before the hub sees it leave.
func TestCloseDeliversWhatWasSent(t *testing.T) {
	ctx := testContext(t)
	pki := newTestPKI(t)
	s, addr := startServer(t, ServerConfig{Credentials: pki.server, Members: []string{"h1"}})
	for i := range 5 {
		c, err := Dial(ctx, DialConfig{Addr: addr, Member: "h1", Credentials: pki.member(t, "h1")})
		if err != nil {
			t.Fatal(err)
		}
		wantEvent(t, ctx, s, transport.Joined, "h1")
		upload := bytes.Repeat([]byte{byte(i)}, 2*ChunkBytes+1)
		if err := c.Send(ctx, upload); err != nil {
			t.Fatal(err)
		}
		c.Close()
		if in := wantEvent(t, ctx, s, transport.Message, "h1"); !bytes.Equal(in.Data, upload) {
			t.Fatalf("connection %d: got %d bytes, want the %d sent", i, len(in.Data), len(upload))
		}
		wantEvent(t, ctx, s, transport.Left, "h1")
	}
}

// TestConnectionWithoutCertificateIsRefused: a client with no certificate
// at all is refused, and the refusal is counted.
func TestConnectionWithoutCertificateIsRefused(t *testing.T) {
	pki := newTestPKI(t)
	m := NewMetrics()
	_, addr := startServer(t, ServerConfig{Credentials: pki.server, Members: []string{"h1"}, Metrics: m})
	conn, err := tls.Dial("tcp", addr, &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true, NextProtos: []string{"h2"}})
	if err == nil {
		// TLS 1.3: the server's verdict on the client arrives after the
		// client's side of the handshake.
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = conn.Read(make([]byte, 1))
		conn.Close()
	}
	if err == nil {
		t.Fatal("a client without a certificate was served")
	}
	deadline := time.Now().Add(10 * time.Second)
	for refusals(t, m, RefusedNoCert) < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("no refusal counted for a client without a certificate (client saw: %v)", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
