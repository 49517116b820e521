package vault

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrBadSignature: a signature does not verify, or a sealed file was written
// by someone else than the expected writer. Returned by Verify and Unseal.
var ErrBadSignature = errors.New("signature does not verify")

const (
	sealMagic      = "fedcrypt-sealed-v1\n"
	sealContext    = "fedcrypt.org/vault/v1/sealed"
	maxKindLen     = 255
	sealFixedBytes = len(sealMagic) + 1 + ed25519.PublicKeySize + 8 + ed25519.SignatureSize
)

// SealBytes frames payload as a sealed plaintext of the given kind, signs it
// with signer, and encrypts it to the recipients (see the package
// documentation for the layout). kind names what the payload is
// ("checkpoint", "ledger", "share"), 1 to 255 bytes, so that a sealed file
// of one kind is never accepted as another.
func SealBytes(kind string, payload []byte, signer ed25519.PrivateKey, recipients ...Recipient) ([]byte, error) {
	plain, err := frameSealed(kind, payload, signer)
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	return EncryptBytes(plain, recipients...)
}

// UnsealBytes decrypts a sealed file with id, checks that it is of the given
// kind, written by writer, and that writer's signature verifies, and returns
// the payload. Errors wrap [ErrNoIdentityMatch], [ErrCorrupt] or
// [ErrBadSignature].
func UnsealBytes(sealed []byte, kind string, writer ed25519.PublicKey, id *Identity) ([]byte, error) {
	plain, err := DecryptBytes(sealed, id)
	if err != nil {
		return nil, err
	}
	payload, err := unframeSealed(plain, kind, writer)
	if err != nil {
		clear(plain)
		return nil, err
	}
	return payload, nil
}

// Seal writes payload as a sealed file at path (see [SealBytes]), atomically:
// the ciphertext goes to a temporary file in the same directory, which is
// synced and renamed over path, and the directory is synced. A crash at any
// point leaves either the previous file or the new one. The plaintext never
// reaches the disk.
func Seal(path, kind string, payload []byte, signer ed25519.PrivateKey, recipients ...Recipient) error {
	plain, err := frameSealed(kind, payload, signer)
	if err != nil {
		return fmt.Errorf("seal %s: %w", path, err)
	}
	defer clear(plain)
	f, err := Create(path, recipients...)
	if err != nil {
		return fmt.Errorf("seal: %w", err)
	}
	if _, err := f.Write(plain); err != nil {
		f.Abort()
		return fmt.Errorf("seal: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("seal: %w", err)
	}
	return nil
}

// Unseal reads the sealed file at path (see [UnsealBytes]). Errors name the
// file and the cause.
func Unseal(path, kind string, writer ed25519.PublicKey, id *Identity) ([]byte, error) {
	raw, err := readSmallFile(path, maxDecryptBytes+1<<20)
	if err != nil {
		return nil, fmt.Errorf("sealed file %s: %w", path, err)
	}
	payload, err := UnsealBytes(raw, kind, writer, id)
	if err != nil {
		return nil, fmt.Errorf("sealed file %s: %w", path, err)
	}
	return payload, nil
}

// frameSealed builds the signed plaintext of a sealed file.
func frameSealed(kind string, payload []byte, signer ed25519.PrivateKey) ([]byte, error) {
	if len(kind) == 0 || len(kind) > maxKindLen {
		return nil, fmt.Errorf("sealed kind %q: length must be in [1, %d]", kind, maxKindLen)
	}
	if len(signer) != ed25519.PrivateKeySize {
		return nil, errors.New("no signing key (a passphrase identity cannot sign)")
	}
	b := make([]byte, 0, sealFixedBytes+len(kind)+len(payload))
	b = append(b, sealMagic...)
	b = append(b, byte(len(kind)))
	b = append(b, kind...)
	b = append(b, signer.Public().(ed25519.PublicKey)...)
	b = binary.BigEndian.AppendUint64(b, uint64(len(payload)))
	b = append(b, payload...)
	sig, err := signer.Sign(nil, b, &ed25519.Options{Hash: crypto.Hash(0), Context: sealContext})
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return append(b, sig...), nil
}

// unframeSealed checks a sealed plaintext and returns its payload, a
// sub-slice of plain.
func unframeSealed(plain []byte, kind string, writer ed25519.PublicKey) ([]byte, error) {
	if len(writer) != ed25519.PublicKeySize {
		return nil, errors.New("no expected writer key given")
	}
	rest, ok := bytes.CutPrefix(plain, []byte(sealMagic))
	if !ok {
		return nil, fmt.Errorf("%w: not a fedcrypt sealed file (no %q header)", ErrCorrupt, sealMagic[:len(sealMagic)-1])
	}
	if len(rest) < 1 {
		return nil, fmt.Errorf("%w: sealed frame truncated", ErrCorrupt)
	}
	k := int(rest[0])
	rest = rest[1:]
	if len(rest) < k+ed25519.PublicKeySize+8 {
		return nil, fmt.Errorf("%w: sealed frame truncated", ErrCorrupt)
	}
	if got := string(rest[:k]); got != kind {
		return nil, &wrongKindError{got: got, want: kind}
	}
	rest = rest[k:]
	if got := ed25519.PublicKey(rest[:ed25519.PublicKeySize]); !got.Equal(writer) {
		return nil, fmt.Errorf("%w: written by %s, want %s", ErrBadSignature, FormatSigningKey(got), FormatSigningKey(writer))
	}
	rest = rest[ed25519.PublicKeySize:]
	n := binary.BigEndian.Uint64(rest)
	rest = rest[8:]
	if n > uint64(len(rest)) || uint64(len(rest))-n != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: sealed frame length %d does not match its %d remaining bytes", ErrCorrupt, n, len(rest))
	}
	signed := plain[:len(plain)-ed25519.SignatureSize]
	sig := plain[len(plain)-ed25519.SignatureSize:]
	if err := ed25519.VerifyWithOptions(writer, signed, sig, &ed25519.Options{Context: sealContext}); err != nil {
		return nil, fmt.Errorf("%w: sealed file signature by %s", ErrBadSignature, FormatSigningKey(writer))
	}
	return rest[:n:n], nil
}

// wrongKindError is a sealed file of another kind than the one asked for
// (a checkpoint given where a model is expected). It is refused as a file
// not from the expected writer is, so it wraps [ErrBadSignature], but says
// what it is rather than that a signature failed.
type wrongKindError struct{ got, want string }

func (e *wrongKindError) Error() string {
	return fmt.Sprintf("it holds a %q, not a %q", e.got, e.want)
}

func (e *wrongKindError) Unwrap() error { return ErrBadSignature }

// Sign signs msg with key under a context string (Ed25519ctx, RFC 8032
// §5.1), so a signature made for one purpose never verifies for another.
// context must be 1 to 255 bytes; Sign panics otherwise (a programmer
// error).
func Sign(key ed25519.PrivateKey, context string, msg []byte) []byte {
	if len(context) == 0 || len(context) > 255 {
		panic("vault: Sign context must be 1 to 255 bytes")
	}
	sig, err := key.Sign(nil, msg, &ed25519.Options{Context: context})
	if err != nil {
		panic("vault: Sign: " + err.Error())
	}
	return sig
}

// Verify checks a signature made by [Sign] with the same context; it
// returns an error wrapping [ErrBadSignature] if it does not verify.
func Verify(pub ed25519.PublicKey, context string, msg, sig []byte) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: public key is %d bytes, want %d", ErrBadSignature, len(pub), ed25519.PublicKeySize)
	}
	if err := ed25519.VerifyWithOptions(pub, msg, sig, &ed25519.Options{Context: context}); err != nil {
		return fmt.Errorf("%w: %s context %q", ErrBadSignature, FormatSigningKey(pub), context)
	}
	return nil
}
