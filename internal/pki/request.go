package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"

	"github.com/fedcrypt/fedcrypt/transport/grpcnet"
)

// Subject is whom a certificate names: a member (Member set) or the
// aggregator (Member empty), and the DNS names and IP addresses it is
// valid for.
type Subject struct {
	Member string
	Hosts  []string
}

// memberURI is the URI SAN that names a member, as [grpcnet.MemberID]
// reads it.
func memberURI(id string) (*url.URL, error) {
	return url.Parse("fedcrypt://member/" + url.PathEscape(id))
}

// NewRequest generates an ECDSA P-256 key with crypto/rand and a
// certificate signing request for s signed with it. It returns both
// PEM-encoded; the key (PKCS #8) is secret: write it with [WriteKey].
func NewRequest(s Subject) (csr, key []byte, err error) {
	if s.Member == "" && len(s.Hosts) == 0 {
		return nil, nil, errors.New("pki: a request names a member or, for the aggregator, its hosts")
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: key: %w", err)
	}
	tmpl := &x509.CertificateRequest{}
	if s.Member != "" {
		u, err := memberURI(s.Member)
		if err != nil {
			return nil, nil, fmt.Errorf("pki: member %q: %w", s.Member, err)
		}
		tmpl.Subject = pkix.Name{CommonName: s.Member}
		tmpl.URIs = []*url.URL{u}
	} else {
		tmpl.Subject = pkix.Name{CommonName: s.Hosts[0]}
	}
	for _, h := range s.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, priv)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: certificate request: %w", err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: encode key: %w", err)
	}
	key = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
	clear(kder)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), key, nil
}

// Request is a certificate signing request whose signature verified and
// whose names are well formed. Its fields are read-only.
type Request struct {
	Subject   Subject
	PublicKey crypto.PublicKey
}

// ParseRequest reads a PEM (or DER) certificate signing request, checks
// its signature, and returns whom it names. A member's request has a
// single fedcrypt://member/ URI SAN equal to its common name; the
// aggregator's has none and its common name is one of its hosts. E-mail
// SANs and any other URI are refused.
func ParseRequest(b []byte) (*Request, error) {
	der := b
	if block, _ := pem.Decode(b); block != nil {
		if block.Type != "CERTIFICATE REQUEST" && block.Type != "NEW CERTIFICATE REQUEST" {
			return nil, fmt.Errorf("PEM block %q, want CERTIFICATE REQUEST", block.Type)
		}
		der = block.Bytes
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, fmt.Errorf("not a PKCS #10 certificate request: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("request %q: signature does not verify: %w", csr.Subject.CommonName, err)
	}
	if err := checkKey(csr.PublicKey); err != nil {
		return nil, fmt.Errorf("request %q: %w", csr.Subject.CommonName, err)
	}
	cn := csr.Subject.CommonName
	if len(csr.EmailAddresses) > 0 {
		return nil, fmt.Errorf("request %q: unexpected e-mail SAN %q", cn, csr.EmailAddresses[0])
	}
	r := &Request{PublicKey: csr.PublicKey}
	for _, ip := range csr.IPAddresses {
		r.Subject.Hosts = append(r.Subject.Hosts, ip.String())
	}
	r.Subject.Hosts = append(r.Subject.Hosts, csr.DNSNames...)
	if len(csr.URIs) == 0 {
		if !slices.Contains(r.Subject.Hosts, cn) {
			return nil, fmt.Errorf("request %q names no member (no fedcrypt://member/ URI) and its common name is not one of its hosts %q", cn, r.Subject.Hosts)
		}
		return r, nil
	}
	for _, u := range csr.URIs {
		if !strings.HasPrefix(u.String(), "fedcrypt://member/") {
			return nil, fmt.Errorf("request %q: unexpected URI SAN %q", cn, u)
		}
	}
	id, err := grpcnet.MemberID(&x509.Certificate{Subject: csr.Subject, URIs: csr.URIs})
	if err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	if u, err := memberURI(id); err != nil || u.String() != csr.URIs[0].String() {
		return nil, fmt.Errorf("request %q: member URI %q is not in canonical form", cn, csr.URIs[0])
	}
	r.Subject.Member = id
	return r, nil
}

// checkKey accepts the public keys a TLS 1.3 certificate may carry at
// 128-bit strength or more.
func checkKey(k crypto.PublicKey) error {
	switch k := k.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() && k.Curve != elliptic.P521() {
			return fmt.Errorf("ECDSA key on curve %s, want P-256, P-384 or P-521", k.Curve.Params().Name)
		}
	case ed25519.PublicKey:
	case *rsa.PublicKey:
		if k.N.BitLen() < 3072 {
			return fmt.Errorf("RSA key of %d bits, want at least 3072", k.N.BitLen())
		}
	default:
		return fmt.Errorf("public key of type %T not accepted", k)
	}
	return nil
}

// Expect is what the CA accepts for one party: the hosts the project
// allows it, and the public key it pinned (nil: none pinned).
type Expect struct {
	Hosts     []string
	PublicKey crypto.PublicKey
}

// Check refuses a request that asks for a host e does not allow, or whose
// key differs from the pinned one. who names the party in errors.
func (r *Request) Check(who string, e Expect) error {
	for _, h := range r.Subject.Hosts {
		if !slices.Contains(e.Hosts, h) {
			if len(e.Hosts) == 0 {
				return fmt.Errorf("%s: request asks for host %q; the project allows it no host names", who, h)
			}
			return fmt.Errorf("%s: request asks for host %q; the project allows only %q", who, h, e.Hosts)
		}
	}
	if e.PublicKey != nil {
		pk, ok := r.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
		if !ok || !pk.Equal(e.PublicKey) {
			return fmt.Errorf("%s: request's key differs from the one the project pins", who)
		}
	}
	return nil
}
