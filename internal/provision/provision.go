// Package provision writes and reads a federation directory: the layout
// `fedcrypt init` writes for a demo deployment and a multi-process
// simulation writes for its parties, and that `aggregator serve` and
// `client join` read their defaults from. It holds the federation's
// config and CA, and for every party its age identity, its recipient and
// its TLS certificate with the key age-encrypted to the party.
package provision

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/internal/pki"
	"github.com/fedcrypt/fedcrypt/transport/grpcnet"
	"github.com/fedcrypt/fedcrypt/vault"
)

// Files of a federation directory. The config and the CA are at its top,
// each party's files in a directory named by its id.
const (
	FileFederation = "federation.json" // the config (public)
	FileCACert     = pki.CACertFile    // the federation CA's certificate (public)
	FileCAKey      = pki.CAKeyFile     // the CA's key, age-encrypted to the aggregator
	FileIdentity   = "identity.key"    // a party's age identity and signing key (secret)
	FileRecipient  = "recipient.txt"   // a party's age recipient (public)
	FileTLSCert    = "tls.crt"         // a party's TLS certificate (public)
	FileTLSKey     = "tls.key.age"     // its TLS key, age-encrypted to the party itself
)

// WriteDir writes the federation directory out: the config, the CA's
// certificate and its key (age-encrypted to the aggregator), and for the
// aggregator and every member its identity (keys, by party id), recipient,
// and a certificate of ca valid from from to to (the aggregator's for
// hosts) with its key. Secret keys are written only as age identity files
// (mode 0600) or age-encrypted.
func WriteDir(out string, fed *federation.Config, ca *grpcnet.CA, keys map[string]*vault.Identity, hosts []string, from, to time.Time) error {
	if err := os.MkdirAll(out, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, FileFederation), fed.Marshal(), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, FileCACert), ca.CertPEM(), 0o644); err != nil {
		return err
	}
	caKey, err := ca.KeyPEM()
	if err != nil {
		return err
	}
	defer clear(caKey)
	if err := pki.WriteKey(filepath.Join(out, FileCAKey), caKey, keys["aggregator"].Recipient()); err != nil {
		return err
	}
	leaves := map[string]grpcnet.Leaf{"aggregator": {Hosts: hosts, NotBefore: from, NotAfter: to}}
	for _, m := range fed.Members {
		leaves[m.ID] = grpcnet.Leaf{Member: m.ID, NotBefore: from, NotAfter: to}
	}
	for id, leaf := range leaves {
		dir := filepath.Join(out, id)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		if err := vault.WriteIdentityFile(filepath.Join(dir, FileIdentity), keys[id], nil, 0); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, FileRecipient), []byte(keys[id].Recipient().String()+"\n"), 0o644); err != nil {
			return err
		}
		cert, key, err := ca.Issue(leaf)
		if err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
		err = pki.WriteKey(filepath.Join(dir, FileTLSKey), key, keys[id].Recipient())
		clear(key)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, FileTLSCert), cert, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// LoadCredentials reads a party's TLS material: the CA certificate, its
// certificate, and its key (age-encrypted to id, or a plain PEM file).
// Errors name the flag each path comes from (--ca, --cert, --tls-key).
func LoadCredentials(caPath, certPath, keyPath string, id *vault.Identity) (grpcnet.Credentials, error) {
	var c grpcnet.Credentials
	var err error
	if c.CA, err = os.ReadFile(caPath); err != nil {
		return c, fmt.Errorf("--ca: %w", err)
	}
	if c.Cert, err = os.ReadFile(certPath); err != nil {
		return c, fmt.Errorf("--cert: %w", err)
	}
	if c.Key, err = pki.ReadKey(keyPath, id); err != nil {
		return c, fmt.Errorf("--tls-key: %w", err)
	}
	return c, nil
}
