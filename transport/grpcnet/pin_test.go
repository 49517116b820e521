package grpcnet

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/fedcrypt/fedcrypt/transport"
)

// TestOnlyListedCertificatesConnect: with a config's list of allowed
// certificates, a former member's certificate (issued by the federation's
// own CA, still valid) is refused by name, and a member's certificate
// whose key is not the pinned one is refused; both are counted. The pinned
// certificate, and a member without a pin, connect.
func TestOnlyListedCertificatesConnect(t *testing.T) {
	pki := newTestPKI(t)
	pinned := pki.member(t, "h2")
	cert, err := ParseCertificate(pinned.Cert)
	if err != nil {
		t.Fatal(err)
	}
	pin, err := KeyPin(cert.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if pin != sha256Hex(cert.RawSubjectPublicKeyInfo) {
		t.Fatalf("KeyPin %s is not the SHA-256 of the certificate's SubjectPublicKeyInfo", pin)
	}
	cfg := func(m *Metrics) ServerConfig {
		return ServerConfig{Credentials: pki.server, Members: []string{"h2", "h3"}, Removed: []string{"h1"},
			Pins: map[string]string{"h2": pin}, Metrics: m}
	}
	refused := []struct {
		name, member string
		creds        Credentials
		reason       string
	}{
		{"a removed member's certificate", "h1", pki.member(t, "h1"), RefusedRemoved},
		{"a member's certificate with another key", "h2", pki.member(t, "h2"), RefusedUnpinned},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t)
			m := NewMetrics()
			_, addr := startServer(t, cfg(m))
			c, err := Dial(ctx, DialConfig{Addr: addr, Member: tc.member, Credentials: tc.creds, RetryFor: time.Minute,
				MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
			if err == nil {
				c.Close()
				t.Fatal("connection accepted")
			}
			if got := refusals(t, m, tc.reason); got < 1 {
				t.Errorf("refusals{reason=%q} = %v (dial error: %v)", tc.reason, got, err)
			}
			if got := refusals(t, m, RefusedNotMember); got != 0 {
				t.Errorf("refusals{reason=%q} = %v, want the refusal counted only as %q", RefusedNotMember, got, tc.reason)
			}
		})
	}
	t.Run("the pinned certificate and an unpinned member", func(t *testing.T) {
		ctx := testContext(t)
		m := NewMetrics()
		s, addr := startServer(t, cfg(m))
		for _, c := range []struct {
			id    string
			creds Credentials
		}{{"h2", pinned}, {"h3", pki.member(t, "h3")}} {
			conn, err := Dial(ctx, DialConfig{Addr: addr, Member: c.id, Credentials: c.creds})
			if err != nil {
				t.Fatalf("%s: %v", c.id, err)
			}
			defer conn.Close()
			wantEvent(t, ctx, s, transport.Joined, c.id)
		}
	})
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
