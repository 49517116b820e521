package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fedcrypt/fedcrypt/transport/grpcnet"
	"github.com/fedcrypt/fedcrypt/vault"
)

// rawRequest builds a request by hand, for the shapes NewRequest never makes.
func rawRequest(t *testing.T, tmpl *x509.CertificateRequest) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func TestNewRequestRoundTrip(t *testing.T) {
	for _, s := range []Subject{{Member: "st-mary"}, {Member: "h1", Hosts: []string{"h1.example.org", "10.1.2.3"}}, {Hosts: []string{"agg.example.org", "127.0.0.1"}}} {
		csr, key, err := NewRequest(s)
		if err != nil {
			t.Fatal(err)
		}
		r, err := ParseRequest(csr)
		if err != nil {
			t.Fatalf("%+v: %v", s, err)
		}
		if r.Subject.Member != s.Member || len(r.Subject.Hosts) != len(s.Hosts) {
			t.Errorf("request names %+v, want %+v", r.Subject, s)
		}
		for _, h := range s.Hosts {
			if !strings.Contains(strings.Join(r.Subject.Hosts, " "), h) {
				t.Errorf("host %s missing from %v", h, r.Subject.Hosts)
			}
		}
		if strings.Contains(string(csr), string(key)) || !strings.Contains(string(key), "PRIVATE KEY") {
			t.Error("request and key are not separate PEM blocks")
		}
	}
}

func TestParseRequestRefuses(t *testing.T) {
	good, _, err := NewRequest(Subject{Member: "a"})
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(good)
	tampered := append([]byte(nil), block.Bytes...)
	tampered[len(tampered)-3] ^= 0x40 // inside the signature
	for _, tc := range []struct {
		name string
		csr  []byte
		want string
	}{
		{"bad signature", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: tampered}), "signature"},
		{"not a request", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), "want CERTIFICATE REQUEST"},
		{"e-mail SAN", rawRequest(t, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "a"}, URIs: []*url.URL{mustURL("fedcrypt://member/a")}, EmailAddresses: []string{"it@a.example"}}), "e-mail"},
		{"foreign URI", rawRequest(t, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "a"}, URIs: []*url.URL{mustURL("fedcrypt://member/a"), mustURL("https://evil.example")}}), "unexpected URI"},
		{"two members", rawRequest(t, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "a"}, URIs: []*url.URL{mustURL("fedcrypt://member/a"), mustURL("fedcrypt://member/b")}}), "2 members"},
		{"URI and CN differ", rawRequest(t, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "a"}, URIs: []*url.URL{mustURL("fedcrypt://member/b")}}), "common name"},
		{"no member, CN not a host", rawRequest(t, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "a"}, DNSNames: []string{"x.example"}}), "names no member"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRequest(tc.csr)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestCheckHostsAndPinnedKey(t *testing.T) {
	csr, _, err := NewRequest(Subject{Member: "a", Hosts: []string{"a.example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseRequest(csr)
	if err != nil {
		t.Fatal(err)
	}
	other, _, _ := NewRequest(Subject{Member: "a", Hosts: []string{"a.example.org"}})
	ro, _ := ParseRequest(other)
	for _, tc := range []struct {
		name string
		e    Expect
		want string
	}{
		{"allowed", Expect{Hosts: []string{"a.example.org", "b.example.org"}, PublicKey: r.PublicKey}, ""},
		{"no hosts allowed", Expect{}, "allows it no host"},
		{"other host", Expect{Hosts: []string{"b.example.org"}}, `"a.example.org"`},
		{"another key pinned", Expect{Hosts: []string{"a.example.org"}, PublicKey: ro.PublicKey}, "differs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := r.Check(`member "a"`, tc.e)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestCASealedAndSigning(t *testing.T) {
	dir := t.TempDir()
	owner, err := vault.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, err := InitCA(dir, "test CA", owner.Recipient(), now.Add(-time.Minute), now.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := InitCA(dir, "test CA", owner.Recipient(), now, now.Add(time.Hour)); err == nil || !strings.Contains(err.Error(), "refusing to replace") {
		t.Fatalf("second InitCA: %v", err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, CAKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "PRIVATE KEY") || !strings.HasPrefix(string(raw), "age-encryption.org/v1") {
		t.Fatal("the CA key is not age-encrypted at rest")
	}
	stranger, _ := vault.GenerateIdentity()
	if _, err := LoadCA(dir, stranger); err == nil {
		t.Fatal("another identity opened the CA key")
	}
	ca, err := LoadCA(dir, owner)
	if err != nil {
		t.Fatal(err)
	}
	csr, key, err := NewRequest(Subject{Member: "a"})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := ParseRequest(csr)
	if _, err := Sign(ca, r, now, now.Add(48*time.Hour)); err == nil || !strings.Contains(err.Error(), "outlives the CA") {
		t.Fatalf("certificate outliving the CA: %v", err)
	}
	certPEM, err := Sign(ca, r, now.Add(-time.Minute), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := grpcnet.ParseCertificate(certPEM)
	if err := VerifyMember(ca.Certificate(), cert, "a", now); err != nil {
		t.Fatalf("issued certificate: %v", err)
	}
	for _, tc := range []struct {
		name   string
		member string
		at     time.Time
		want   string
	}{
		{"another member", "b", now, `names member "a", not "b"`},
		{"expired", "a", now.Add(2 * time.Hour), "expired"},
		{"not yet valid", "a", now.Add(-time.Hour), "check the clock"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifyMember(ca.Certificate(), cert, tc.member, tc.at)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	foreign, _ := grpcnet.NewCA("foreign", now.Add(-time.Hour), now.Add(time.Hour))
	if err := VerifyMember(foreign.Certificate(), cert, "a", now); err == nil || !strings.Contains(err.Error(), "not issued by the federation CA") {
		t.Fatalf("foreign CA: %v", err)
	}
	// The issued certificate and the member's own key make a working pair.
	if _, err := tls.X509KeyPair(certPEM, key); err != nil {
		t.Fatal(err)
	}
}
