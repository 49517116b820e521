package grpcnet

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"strings"
	"time"
)

// memberURIPrefix starts the URI SAN that names a member in its client
// certificate: "fedcrypt://member/<id>".
const memberURIPrefix = "fedcrypt://member/"

// CA is a federation's certificate authority: it issues the aggregator's
// server certificate and one client certificate per member. It is safe for
// concurrent use.
type CA struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// NewCA creates a self-signed CA named name, valid from notBefore to
// notAfter, with a fresh ECDSA P-256 key from crypto/rand.
func NewCA(name string, notBefore, notAfter time.Time) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("grpcnet: CA key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"fedcrypt federation"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("grpcnet: CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("grpcnet: CA certificate: %w", err)
	}
	return &CA{cert: cert, key: key}, nil
}

// LoadCA reads a CA from its PEM certificate and PEM (PKCS #8) private key.
func LoadCA(certPEM, keyPEM []byte) (*CA, error) {
	cert, err := ParseCertificate(certPEM)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	if !cert.IsCA {
		return nil, errors.New("CA certificate: not a CA (basic constraints)")
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("CA key: %w", err)
	}
	if !publicKeysEqual(cert.PublicKey, key.Public()) {
		return nil, errors.New("CA key: does not match the CA certificate")
	}
	return &CA{cert: cert, key: key}, nil
}

// CertPEM returns the CA's certificate, PEM-encoded: what every party
// trusts.
func (ca *CA) CertPEM() []byte { return certPEM(ca.cert.Raw) }

// KeyPEM returns the CA's private key, PEM-encoded PKCS #8. It is secret:
// callers keep it encrypted at rest.
func (ca *CA) KeyPEM() ([]byte, error) { return keyPEM(ca.key) }

// Leaf describes a certificate to issue.
type Leaf struct {
	// Member is the member id a client certificate names; empty for the
	// aggregator's server certificate.
	Member string
	// Hosts are the DNS names and IP addresses the certificate is valid
	// for: the aggregator's, or a member's that also serves TLS.
	Hosts               []string
	NotBefore, NotAfter time.Time
}

// Issue creates a key pair and a certificate for l signed by the CA, and
// returns both PEM-encoded (see [CA.Sign] for what the certificate holds).
func (ca *CA) Issue(l Leaf) (cert, key []byte, err error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("grpcnet: certificate key: %w", err)
	}
	if cert, err = ca.Sign(l, priv.Public()); err != nil {
		return nil, nil, err
	}
	if key, err = keyPEM(priv); err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

// Sign creates a certificate for l and the public key pub (a member's own
// key, from its certificate request) signed by the CA, PEM-encoded. A
// member's certificate has the member id as its common name and as the URI
// SAN fedcrypt://member/<id>, and authenticates TLS clients; when l names
// hosts, they are its DNS and IP SANs and it authenticates TLS servers
// too. A server certificate (no member) names its hosts and may only
// authenticate TLS servers.
func (ca *CA) Sign(l Leaf, pub crypto.PublicKey) ([]byte, error) {
	if !l.NotAfter.After(l.NotBefore) {
		return nil, fmt.Errorf("grpcnet: certificate validity %s to %s is empty", l.NotBefore.Format(time.RFC3339), l.NotAfter.Format(time.RFC3339))
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		NotBefore:    l.NotBefore,
		NotAfter:     l.NotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	for _, h := range l.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	if l.Member != "" {
		u, err := url.Parse(memberURIPrefix + url.PathEscape(l.Member))
		if err != nil {
			return nil, fmt.Errorf("grpcnet: member %q: %w", l.Member, err)
		}
		tmpl.Subject = pkix.Name{CommonName: l.Member}
		tmpl.URIs = []*url.URL{u}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		if len(l.Hosts) > 0 {
			tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
		}
	} else {
		if len(l.Hosts) == 0 {
			return nil, errors.New("grpcnet: server certificate: no host names or addresses")
		}
		tmpl.Subject = pkix.Name{CommonName: l.Hosts[0]}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		return nil, fmt.Errorf("grpcnet: certificate: %w", err)
	}
	return certPEM(der), nil
}

// Certificate returns the CA's certificate.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// MemberID returns the member a client certificate names: the id in its
// single fedcrypt://member/ URI SAN, which must equal its common name.
func MemberID(cert *x509.Certificate) (string, error) {
	var ids []string
	for _, u := range cert.URIs {
		if s := u.String(); strings.HasPrefix(s, memberURIPrefix) {
			id, err := url.PathUnescape(strings.TrimPrefix(s, memberURIPrefix))
			if err != nil {
				return "", fmt.Errorf("certificate %q: member URI %q: %w", cert.Subject.CommonName, s, err)
			}
			ids = append(ids, id)
		}
	}
	switch {
	case len(ids) == 0:
		return "", fmt.Errorf("certificate %q names no member (no %s URI)", cert.Subject.CommonName, memberURIPrefix)
	case len(ids) > 1:
		return "", fmt.Errorf("certificate %q names %d members", cert.Subject.CommonName, len(ids))
	case ids[0] != cert.Subject.CommonName:
		return "", fmt.Errorf("certificate names member %q in its URI but %q as its common name", ids[0], cert.Subject.CommonName)
	}
	return ids[0], nil
}

// ParseCertificate reads the first PEM CERTIFICATE block of b.
func ParseCertificate(b []byte) (*x509.Certificate, error) {
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return nil, errors.New("no PEM CERTIFICATE block")
		}
		if block.Type == "CERTIFICATE" {
			return x509.ParseCertificate(block.Bytes)
		}
	}
}

// parseKey reads a PEM PRIVATE KEY (PKCS #8) block holding a signing key.
func parseKey(b []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New("no PEM PRIVATE KEY block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		// The parser's error never holds key bytes, but keep it short.
		return nil, errors.New("PKCS #8 private key does not parse")
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("private key of type %T cannot sign", k)
	}
	return s, nil
}

// keyPair builds a TLS certificate from PEM, checking that the key matches.
func keyPair(cert, key []byte) (tls.Certificate, error) {
	c, err := ParseCertificate(cert)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certificate: %w", err)
	}
	k, err := parseKey(key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("key: %w", err)
	}
	if !publicKeysEqual(c.PublicKey, k.Public()) {
		return tls.Certificate{}, fmt.Errorf("key does not match certificate %q", c.Subject.CommonName)
	}
	return tls.Certificate{Certificate: [][]byte{c.Raw}, PrivateKey: k, Leaf: c}, nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	e, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && e.Equal(b)
}

func certPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func keyPEM(k crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("grpcnet: encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic("grpcnet: crypto/rand failed: " + err.Error())
	}
	return n
}
