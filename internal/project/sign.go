package project

import (
	"fmt"
	"time"

	"github.com/fedcrypt/fedcrypt/internal/pki"
	"github.com/fedcrypt/fedcrypt/transport/grpcnet"
)

// Sign issues, with ca, the certificate that the request csr asks for,
// valid from notBefore to notAfter, after checking it against the project:
// its signature verifies, it names a party of the project (a member, or
// the aggregator), it asks for no host the project does not allow that
// party and no other SAN, and its key is the one the project pins for the
// party, if any. It returns the certificate (PEM) and whom it names
// ("member \"a\"" or "aggregator").
func (f *File) Sign(ca *grpcnet.CA, csr []byte, notBefore, notAfter time.Time) (cert []byte, who string, err error) {
	r, err := pki.ParseRequest(csr)
	if err != nil {
		return nil, "", err
	}
	who = "aggregator"
	if r.Subject.Member != "" {
		who = fmt.Sprintf("member %q", r.Subject.Member)
	}
	e, err := f.Expect(r.Subject.Member)
	if err != nil {
		return nil, who, err
	}
	if err := r.Check(who, e); err != nil {
		return nil, who, err
	}
	cert, err = pki.Sign(ca, r, notBefore, notAfter)
	if err != nil {
		return nil, who, fmt.Errorf("%s: %w", who, err)
	}
	return cert, who, nil
}
