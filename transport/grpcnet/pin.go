package grpcnet

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"slices"
)

// KeyPin returns the pin of a public key: the hex SHA-256 of its DER
// SubjectPublicKeyInfo, the form a federation config lists a member's
// TLS key in. A certificate and the request it was issued from have the
// same pin.
func KeyPin(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("grpcnet: key pin: %w", err)
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}

// allowedBy returns the check of a verified member certificate against the
// federation's list of allowed certificates: a former member's is refused
// by name (RefusedRemoved), and a member's whose key is not the one pinned
// for it (RefusedUnpinned). It returns the refusal's reason and error.
func allowedBy(pins map[string]string, removed []string) func(id string, leaf *x509.Certificate) (string, error) {
	return func(id string, leaf *x509.Certificate) (string, error) {
		if slices.Contains(removed, id) {
			return RefusedRemoved, fmt.Errorf("certificate names %q, a member removed from the federation", id)
		}
		want := pins[id]
		if want == "" {
			return "", nil
		}
		got, err := KeyPin(leaf.PublicKey)
		if err != nil {
			return RefusedUnpinned, err
		}
		if got != want {
			return RefusedUnpinned, fmt.Errorf("certificate of %q carries key %.16s…, the federation config pins %.16s…", id, got, want)
		}
		return "", nil
	}
}
