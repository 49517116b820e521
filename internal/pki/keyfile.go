package pki

import (
	"fmt"
	"io"
	"os"

	"github.com/fedcrypt/fedcrypt/vault"
)

// maxKeyFile bounds what [ReadKey] reads: a PEM private key is far smaller.
const maxKeyFile = 64 << 10

// WriteKey writes a PEM private key to path, age-encrypted to its owner,
// atomically. It refuses to replace an existing file.
func WriteKey(path string, pem []byte, owner vault.Recipient) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%s exists: refusing to overwrite a key", path)
	}
	f, err := vault.Create(path, owner)
	if err != nil {
		return err
	}
	if _, err := f.Write(pem); err != nil {
		f.Abort()
		return err
	}
	return f.Close()
}

// ReadKey reads a key written by [WriteKey] with its owner's identity.
// The caller clears the returned bytes after use.
func ReadKey(path string, owner *vault.Identity) ([]byte, error) {
	r, err := vault.Open(path, owner)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, maxKeyFile+1))
	if err != nil {
		clear(b)
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(b) > maxKeyFile {
		clear(b)
		return nil, fmt.Errorf("%s: larger than a key file", path)
	}
	return b, nil
}
