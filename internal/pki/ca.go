package pki

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/fedcrypt/fedcrypt/transport/grpcnet"
	"github.com/fedcrypt/fedcrypt/vault"
)

// Files of a CA directory.
const (
	CACertFile = "ca.crt"     // the CA's certificate (public): what every party trusts
	CAKeyFile  = "ca.key.age" // its key, age-encrypted to the CA's operator
)

// InitCA creates a CA named name, valid from notBefore to notAfter, and
// writes its certificate and its key, sealed to owner, into dir. It refuses
// to replace an existing CA.
func InitCA(dir, name string, owner vault.Recipient, notBefore, notAfter time.Time) (*grpcnet.CA, error) {
	certPath, keyPath := filepath.Join(dir, CACertFile), filepath.Join(dir, CAKeyFile)
	for _, p := range []string{certPath, keyPath} {
		if _, err := os.Lstat(p); err == nil {
			return nil, fmt.Errorf("%s exists: refusing to replace a CA", p)
		}
	}
	ca, err := grpcnet.NewCA(name, notBefore, notAfter)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	key, err := ca.KeyPEM()
	if err != nil {
		return nil, err
	}
	err = WriteKey(keyPath, key, owner)
	clear(key)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(certPath, ca.CertPEM(), 0o644); err != nil {
		return nil, err
	}
	return ca, nil
}

// LoadCA reads the CA in dir, opening its key with the operator's
// identity.
func LoadCA(dir string, owner *vault.Identity) (*grpcnet.CA, error) {
	cert, err := os.ReadFile(filepath.Join(dir, CACertFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no CA in %s (run fedcrypt ca init)", dir)
	}
	if err != nil {
		return nil, err
	}
	key, err := ReadKey(filepath.Join(dir, CAKeyFile), owner)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	ca, err := grpcnet.LoadCA(cert, key)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return ca, nil
}

// Sign issues the certificate r asks for, valid from notBefore to notAfter,
// which must lie within the CA's own validity. The caller has checked r
// against the project ([Request.Check]).
func Sign(ca *grpcnet.CA, r *Request, notBefore, notAfter time.Time) ([]byte, error) {
	c := ca.Certificate()
	if notAfter.After(c.NotAfter) {
		return nil, fmt.Errorf("validity until %s outlives the CA (until %s)", notAfter.Format(time.RFC3339), c.NotAfter.Format(time.RFC3339))
	}
	if notBefore.Before(c.NotBefore) {
		notBefore = c.NotBefore
	}
	return ca.Sign(grpcnet.Leaf{Member: r.Subject.Member, Hosts: r.Subject.Hosts, NotBefore: notBefore, NotAfter: notAfter}, r.PublicKey)
}
