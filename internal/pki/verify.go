package pki

import (
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/fedcrypt/fedcrypt/transport/grpcnet"
)

// VerifyMember checks, as the aggregator will, that cert was issued by the
// CA ca for TLS client authentication, is valid at now, and names member.
// Its error says which and what to do.
func VerifyMember(ca, cert *x509.Certificate, member string, now time.Time) error {
	if !ca.IsCA {
		return errors.New("the CA certificate is not a CA (basic constraints); ask the coordinator for the federation's ca.crt")
	}
	switch {
	case now.Before(cert.NotBefore):
		return fmt.Errorf("certificate not valid before %s (this machine's clock reads %s): check the clock", cert.NotBefore.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	case now.After(cert.NotAfter):
		return fmt.Errorf("certificate expired on %s: send your tls.csr to the coordinator for a new one (fedcrypt ca sign)", cert.NotAfter.UTC().Format(time.RFC3339))
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	_, err := cert.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	var ua x509.UnknownAuthorityError
	var inv x509.CertificateInvalidError
	switch {
	case errors.As(err, &ua):
		return fmt.Errorf("certificate %q was not issued by the federation CA %q: use the certificate the coordinator signed, or its ca.crt", cert.Subject.CommonName, ca.Subject.CommonName)
	case errors.As(err, &inv) && inv.Reason == x509.IncompatibleUsage:
		return fmt.Errorf("certificate %q is not for TLS client authentication: ask for a member certificate (fedcrypt ca sign)", cert.Subject.CommonName)
	case err != nil:
		return fmt.Errorf("certificate %q: %w", cert.Subject.CommonName, err)
	}
	id, err := grpcnet.MemberID(cert)
	if err != nil {
		return err
	}
	if id != member {
		return fmt.Errorf("certificate names member %q, not %q: use your own certificate", id, member)
	}
	return nil
}
