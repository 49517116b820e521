package grpcnet

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestIssuedCertificatesNameTheirMember(t *testing.T) {
	pki := newTestPKI(t)
	for _, id := range []string{"h1", "St-Mary_2.icu"} {
		c, err := ParseCertificate(pki.member(t, id).Cert)
		if err != nil {
			t.Fatal(err)
		}
		got, err := MemberID(c)
		if err != nil || got != id {
			t.Fatalf("MemberID = %q, %v; want %q", got, err, id)
		}
		if len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
			t.Errorf("member certificate key usages %v, want client authentication only", c.ExtKeyUsage)
		}
	}
	srv, err := ParseCertificate(pki.server.Cert)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := MemberID(srv); err == nil {
		t.Error("the server certificate names a member")
	}
	if err := srv.VerifyHostname("127.0.0.1"); err != nil {
		t.Errorf("server certificate: %v", err)
	}
}

func TestLoadCA(t *testing.T) {
	pki := newTestPKI(t)
	key, err := pki.ca.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	ca, err := LoadCA(pki.ca.CertPEM(), key)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ca.CertPEM(), pki.ca.CertPEM()) {
		t.Fatal("loaded CA certificate differs")
	}
	// A certificate the loaded CA issues verifies against the original.
	cert, _, err := ca.Issue(Leaf{Member: "h1", NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := ParseCertificate(cert)
	if err := c.CheckSignatureFrom(pki.ca.cert); err != nil {
		t.Fatalf("certificate issued by the loaded CA: %v", err)
	}

	other := newTestPKI(t)
	otherKey, _ := other.ca.KeyPEM()
	member := pki.member(t, "h1")
	cases := []struct {
		name      string
		cert, key []byte
		want      string
	}{
		{"key of another CA", pki.ca.CertPEM(), otherKey, "does not match"},
		{"member certificate", member.Cert, member.Key, "not a CA"},
		{"no certificate", []byte("junk"), key, "no PEM CERTIFICATE"},
		{"no key", pki.ca.CertPEM(), []byte("junk"), "no PEM PRIVATE KEY"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadCA(tc.cert, tc.key)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("LoadCA: %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
	if _, _, err := pki.ca.Issue(Leaf{Member: "h1", NotBefore: time.Now(), NotAfter: time.Now().Add(-time.Hour)}); err == nil {
		t.Error("issued a certificate with an empty validity period")
	}
}

// FuzzParseCertificate checks that arbitrary PEM never panics the parser or
// MemberID, and that a parsed certificate re-encodes to itself.
func FuzzParseCertificate(f *testing.F) {
	pki := newTestPKI(f)
	f.Add(pki.member(f, "h1").Cert)
	f.Add(pki.server.Cert)
	f.Add(pki.ca.CertPEM())
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCertificate(b)
		if err != nil {
			return
		}
		MemberID(c)
		again, err := ParseCertificate(certPEM(c.Raw))
		if err != nil || !bytes.Equal(again.Raw, c.Raw) {
			t.Fatalf("re-encoded certificate does not parse to itself: %v", err)
		}
	})
}

func TestSignFromAMembersOwnKey(t *testing.T) {
	pki := newTestPKI(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, tc := range []struct {
		name   string
		hosts  []string
		usages []x509.ExtKeyUsage
		verify string
	}{
		{"no hosts", nil, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, ""},
		{"hosts", []string{"h1.example.org", "10.0.0.7"}, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}, "h1.example.org"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := pki.ca.Sign(Leaf{Member: "h1", Hosts: tc.hosts, NotBefore: now.Add(-time.Minute), NotAfter: now.Add(time.Hour)}, key.Public())
			if err != nil {
				t.Fatal(err)
			}
			c, err := ParseCertificate(b)
			if err != nil {
				t.Fatal(err)
			}
			if !key.PublicKey.Equal(c.PublicKey) {
				t.Error("certificate does not carry the member's key")
			}
			if id, err := MemberID(c); err != nil || id != "h1" {
				t.Errorf("MemberID = %q, %v", id, err)
			}
			if !slices.Equal(c.ExtKeyUsage, tc.usages) {
				t.Errorf("key usages %v, want %v", c.ExtKeyUsage, tc.usages)
			}
			if tc.verify != "" {
				if err := c.VerifyHostname(tc.verify); err != nil {
					t.Error(err)
				}
			}
		})
	}
}
