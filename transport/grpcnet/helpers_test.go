package grpcnet

import (
	"context"
	"net"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// testPKI is a federation CA with a server certificate for 127.0.0.1.
type testPKI struct {
	ca     *CA
	server Credentials
}

func newTestPKI(t testing.TB) *testPKI {
	t.Helper()
	now := time.Now()
	ca, err := NewCA("test federation", now.Add(-time.Hour), now.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := ca.Issue(Leaf{Hosts: []string{"127.0.0.1", "localhost"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return &testPKI{ca: ca, server: Credentials{CA: ca.CertPEM(), Cert: cert, Key: key}}
}

// member issues a member certificate valid now.
func (p *testPKI) member(t testing.TB, id string) Credentials {
	t.Helper()
	now := time.Now()
	return p.memberValid(t, id, now.Add(-time.Hour), now.Add(24*time.Hour))
}

func (p *testPKI) memberValid(t testing.TB, id string, from, to time.Time) Credentials {
	t.Helper()
	cert, key, err := p.ca.Issue(Leaf{Member: id, NotBefore: from, NotAfter: to})
	if err != nil {
		t.Fatal(err)
	}
	return Credentials{CA: p.ca.CertPEM(), Cert: cert, Key: key}
}

// startServer serves cfg on a loopback port until the test ends.
func startServer(t testing.TB, cfg ServerConfig) (*Server, string) {
	t.Helper()
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	addr, served := serve(t, s)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s, addr
}

// serve starts s on a loopback port; served reports Serve's result.
func serve(t testing.TB, s *Server) (addr string, served <-chan error) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan error, 1)
	go func() { ch <- s.Serve(l) }()
	return l.Addr().String(), ch
}

// refusals returns how many refusals metrics counted for reason.
func refusals(t testing.TB, m *Metrics, reason string) float64 {
	t.Helper()
	var out dto.Metric
	if err := m.refusals.WithLabelValues(reason).Write(&out); err != nil {
		t.Fatal(err)
	}
	return out.GetCounter().GetValue()
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}
