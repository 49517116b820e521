package grpcnet

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// Credentials are one party's TLS material, PEM-encoded: the federation CA's
// certificate it trusts, and its own certificate and private key.
type Credentials struct {
	CA   []byte
	Cert []byte
	Key  []byte
}

func (c Credentials) pool() (*x509.CertPool, error) {
	ca, err := ParseCertificate(c.CA)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	if !ca.IsCA {
		return nil, errors.New("CA certificate: not a CA (basic constraints)")
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool, nil
}

// Reasons a connection or message is refused, the values of the refusals
// metric's reason label.
const (
	RefusedUnknownCA   = "unknown-ca"        // client certificate not issued by the federation CA
	RefusedExpired     = "expired"           // client certificate outside its validity period
	RefusedBadCert     = "bad-certificate"   // any other certificate failure
	RefusedNoCert      = "no-certificate"    // a client that presented no certificate
	RefusedNotMember   = "not-member"        // certificate names no member of the federation
	RefusedMismatch    = "identity-mismatch" // the member claimed differs from the certificate's
	RefusedTooLarge    = "too-large"         // an envelope above the size limit
	RefusedBadFraming  = "bad-framing"       // frames that do not make an envelope
	RefusedSlowReceive = "slow-receiver"     // a member that did not read a message in time
	RefusedRemoved     = "removed-member"    // certificate of a member an earlier version of the federation had
	RefusedUnpinned    = "unpinned-key"      // certificate whose key is not the one the config pins for the member
)

// serverTLS returns the aggregator's TLS 1.3 configuration: it requires a
// client certificate, verifies it against the federation CA itself (so a
// refusal is classified, logged and counted) and accepts only certificates
// naming a member in members that allowed accepts (a former member's, or
// one whose key is not pinned, is refused). Session tickets are off, so every connection
// presents and verifies its certificate afresh.
func serverTLS(c Credentials, members map[string]bool, allowed func(id string, leaf *x509.Certificate) (string, error), now func() time.Time, refuse func(reason, member string, err error)) (*tls.Config, error) {
	pool, err := c.pool()
	if err != nil {
		return nil, err
	}
	cert, err := keyPair(c.Cert, c.Key)
	if err != nil {
		return nil, fmt.Errorf("server %w", err)
	}
	verify := func(addr string, cs tls.ConnectionState) error {
		refuse := func(reason, member string, err error) { refuse(reason, member, fmt.Errorf("from %s: %w", addr, err)) }
		if len(cs.PeerCertificates) == 0 {
			refuse(RefusedNoCert, "", errors.New("no client certificate"))
			return errors.New("no client certificate")
		}
		leaf := cs.PeerCertificates[0]
		inter := x509.NewCertPool()
		for _, c := range cs.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		_, err := leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, CurrentTime: now(),
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
		if err != nil {
			reason := RefusedBadCert
			var ua x509.UnknownAuthorityError
			var inv x509.CertificateInvalidError
			switch {
			case errors.As(err, &ua):
				reason = RefusedUnknownCA
			case errors.As(err, &inv) && inv.Reason == x509.Expired:
				reason = RefusedExpired
			}
			refuse(reason, leaf.Subject.CommonName, err)
			return err
		}
		id, err := MemberID(leaf)
		if err != nil {
			refuse(RefusedNotMember, leaf.Subject.CommonName, err)
			return err
		}
		if reason, err := allowed(id, leaf); err != nil {
			refuse(reason, id, err)
			return err
		}
		if !members[id] {
			err := fmt.Errorf("certificate names %q, not a member of the federation", id)
			refuse(RefusedNotMember, id, err)
			return err
		}
		return nil
	}
	// A certificate is requested rather than required, so that a client
	// without one completes the handshake far enough to reach verify, and
	// is refused there, logged and counted with its address.
	base := &tls.Config{
		MinVersion:             tls.VersionTLS13,
		Certificates:           []tls.Certificate{cert},
		ClientAuth:             tls.RequestClientCert,
		SessionTicketsDisabled: true,
	}
	base.VerifyConnection = func(cs tls.ConnectionState) error { return verify("an unknown address", cs) }
	base.GetConfigForClient = func(hi *tls.ClientHelloInfo) (*tls.Config, error) {
		c := base.Clone()
		c.GetConfigForClient = nil
		addr := "an unknown address"
		if hi.Conn != nil {
			addr = hi.Conn.RemoteAddr().String()
		}
		c.VerifyConnection = func(cs tls.ConnectionState) error { return verify(addr, cs) }
		return c, nil
	}
	return base, nil
}

// ClientConfig returns the TLS configuration a member dials the aggregator
// with (see [Dial]): for checks that need a real handshake without a
// session, such as a site's preflight.
func ClientConfig(c Credentials, serverName string) (*tls.Config, error) {
	return clientTLS(c, serverName)
}

// clientTLS returns a member's TLS 1.3 configuration: its certificate, and
// the federation CA as the only root for the aggregator's certificate, which
// must be valid for serverName.
func clientTLS(c Credentials, serverName string) (*tls.Config, error) {
	pool, err := c.pool()
	if err != nil {
		return nil, err
	}
	cert, err := keyPair(c.Cert, c.Key)
	if err != nil {
		return nil, fmt.Errorf("client %w", err)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		ServerName:   serverName,
	}, nil
}
