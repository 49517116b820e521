package vault

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"filippo.io/age"
)

// signingKeyInfo is the HKDF info label under which a member's Ed25519
// signing key is derived from its age identity. Changing it changes every
// member's signing key.
const signingKeyInfo = "fedcrypt.org/vault/v1/ed25519-signing-key"

// maxKeyFileSize bounds identity and recipient files (the age tool's limit is
// 16 MiB; a few hundred keys fit in far less).
const maxKeyFileSize = 1 << 20

// Identity is a member's secret key material: the age identities of one
// identity file (X25519 "AGE-SECRET-KEY-1…" or post-quantum hybrid
// "AGE-SECRET-KEY-PQ-1…" lines), or a passphrase, and the Ed25519 signing key
// derived from the first key of the file. An Identity never prints its
// secrets: String returns its public recipient. It is safe for concurrent use.
type Identity struct {
	ids     []age.Identity
	recips  []Recipient
	secrets []string // canonical encodings, for writing the identity file
	signing ed25519.PrivateKey
}

// GenerateIdentity returns a new random X25519 identity, the kind the age
// tool's age-keygen writes by default.
func GenerateIdentity() (*Identity, error) {
	k, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, fmt.Errorf("vault: generate identity: %w", err)
	}
	return newIdentity([]age.Identity{k}, []string{k.String()},
		[]Recipient{{r: k.Recipient(), kind: kindX25519, text: k.Recipient().String()}}), nil
}

// GenerateHybridIdentity returns a new random post-quantum hybrid
// (ML-KEM-768 + X25519) identity, as age-keygen -pq writes.
func GenerateHybridIdentity() (*Identity, error) {
	k, err := age.GenerateHybridIdentity()
	if err != nil {
		return nil, fmt.Errorf("vault: generate identity: %w", err)
	}
	return newIdentity([]age.Identity{k}, []string{k.String()},
		[]Recipient{{r: k.Recipient(), kind: kindHybrid, text: k.Recipient().String()}}), nil
}

func newIdentity(ids []age.Identity, secrets []string, recips []Recipient) *Identity {
	seed, err := hkdf.Key(sha256.New, []byte(secrets[0]), nil, signingKeyInfo, ed25519.SeedSize)
	if err != nil {
		panic("vault: hkdf: " + err.Error()) // only fails for absurd lengths
	}
	return &Identity{ids: ids, recips: recips, secrets: secrets, signing: ed25519.NewKeyFromSeed(seed)}
}

// ParseIdentity reads the contents of a plain age identity file: one key per
// line, empty lines and lines starting with "#" ignored, as age-keygen writes
// them. Errors name the line but never echo its contents.
func ParseIdentity(r io.Reader) (*Identity, error) {
	var (
		ids     []age.Identity
		secrets []string
		recips  []Recipient
	)
	err := scanKeyLines(r, func(n int, line string) error {
		switch {
		case strings.HasPrefix(line, "AGE-SECRET-KEY-PQ-1"):
			k, err := age.ParseHybridIdentity(line)
			if err != nil {
				return fmt.Errorf("line %d: malformed post-quantum age secret key", n)
			}
			ids, secrets = append(ids, k), append(secrets, k.String())
			recips = append(recips, Recipient{r: k.Recipient(), kind: kindHybrid, text: k.Recipient().String()})
		case strings.HasPrefix(line, "AGE-SECRET-KEY-1"):
			k, err := age.ParseX25519Identity(line)
			if err != nil {
				return fmt.Errorf("line %d: malformed age secret key", n)
			}
			ids, secrets = append(ids, k), append(secrets, k.String())
			recips = append(recips, Recipient{r: k.Recipient(), kind: kindX25519, text: k.Recipient().String()})
		case strings.HasPrefix(line, "AGE-PLUGIN-"):
			return fmt.Errorf("line %d: age plugin identities are not supported", n)
		case strings.HasPrefix(line, "age1"):
			return fmt.Errorf("line %d: a recipient (public key), not an identity", n)
		case strings.HasPrefix(line, "-----BEGIN") || strings.HasPrefix(line, "ssh-"):
			return fmt.Errorf("line %d: SSH keys are not supported, only age keys", n)
		default:
			return fmt.Errorf("line %d: not an age secret key (AGE-SECRET-KEY-1…)", n)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, errors.New("no identities found")
	}
	return newIdentity(ids, secrets, recips), nil
}

// scanKeyLines calls fn for every line of a key file that is neither empty
// nor a comment, with its 1-based line number.
func scanKeyLines(r io.Reader, fn func(n int, line string) error) error {
	lr := &io.LimitedReader{R: r, N: maxKeyFileSize + 1}
	sc := bufio.NewScanner(lr)
	sc.Buffer(make([]byte, 0, 4096), maxKeyFileSize+1)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSuffix(sc.Text(), "\r")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !utf8.ValidString(line) {
			return fmt.Errorf("line %d: not valid UTF-8", n)
		}
		if err := fn(n, strings.TrimSpace(line)); err != nil {
			return err
		}
	}
	if lr.N <= 0 {
		return fmt.Errorf("larger than %d bytes", maxKeyFileSize)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("line %d: %w", n+1, err)
	}
	return nil
}

// ReadIdentityFile reads an identity file: a plain age identity file, or one
// encrypted with an age passphrase (as "fedcrypt keygen --passphrase-file"
// and "age -p" write it), in which case passphrase is called once to obtain
// the passphrase. passphrase may be nil when no encrypted file is expected.
// Errors name the file and the cause, never the key.
func ReadIdentityFile(path string, passphrase func() ([]byte, error)) (*Identity, error) {
	raw, err := readSmallFile(path, maxKeyFileSize)
	if err != nil {
		return nil, fmt.Errorf("identity file %s: %w", path, err)
	}
	if isAgeFile(raw) {
		if passphrase == nil {
			return nil, fmt.Errorf("identity file %s: %w", path, ErrPassphraseRequired)
		}
		pass, err := passphrase()
		if err != nil {
			return nil, fmt.Errorf("identity file %s: read passphrase: %w", path, err)
		}
		pid, err := NewPassphraseIdentity(pass)
		if err != nil {
			return nil, fmt.Errorf("identity file %s: %w", path, err)
		}
		plain, err := DecryptBytes(raw, pid)
		if err != nil {
			return nil, fmt.Errorf("identity file %s: %w", path, err)
		}
		defer clear(plain)
		raw = plain
	}
	id, err := ParseIdentity(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("identity file %s: %w", path, err)
	}
	return id, nil
}

// readSmallFile reads a whole file of at most limit bytes.
func readSmallFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, pathErrorCause(err)
	}
	defer f.Close()
	var size int64
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		size = min(fi.Size(), limit)
	}
	buf := bytes.NewBuffer(make([]byte, 0, size+bytes.MinRead))
	_, err = buf.ReadFrom(io.LimitReader(f, limit+1))
	b := buf.Bytes()
	if err != nil {
		return nil, pathErrorCause(err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return b, nil
}

// pathErrorCause drops the path from an *os.PathError: callers name the file
// themselves, once.
func pathErrorCause(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// IdentityFileText returns the text of an age identity file holding id,
// the bytes [WriteIdentityFile] writes unencrypted and [ParseIdentity]
// reads. It is secret key material: seal it (for example with [SealBytes])
// before it goes anywhere, and clear it after use.
func IdentityFileText(id *Identity) []byte {
	var text bytes.Buffer
	fmt.Fprintf(&text, "# created: %s\n", time.Now().UTC().Format(time.RFC3339))
	for i, s := range id.secrets {
		fmt.Fprintf(&text, "# public key: %s\n%s\n", id.recips[i].text, s)
	}
	return text.Bytes()
}

// WriteIdentityFile writes id as an age identity file at path, readable by
// the age tool ("age -d -i path"). With a non-empty passphrase the file is
// encrypted to an age passphrase recipient with scrypt work factor 2^logN
// (0 selects [DefaultWorkFactor]). The file is created with mode 0600 and
// never overwrites an existing file.
func WriteIdentityFile(path string, id *Identity, passphrase []byte, logN int) error {
	content := IdentityFileText(id)
	defer clear(content)
	if len(passphrase) > 0 {
		r, err := NewPassphraseRecipient(passphrase, logN)
		if err != nil {
			return fmt.Errorf("identity file %s: %w", path, err)
		}
		if content, err = EncryptBytes(content, r); err != nil {
			return fmt.Errorf("identity file %s: %w", path, err)
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("identity file %s: %w", path, pathErrorCause(err))
	}
	if _, err := f.Write(content); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("identity file %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("identity file %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("identity file %s: %w", path, err)
	}
	return syncDir(dirOf(path))
}

// JoinIdentities returns an identity that opens whatever any of ids opens,
// for reading files sealed to different parties (each hospital's witness,
// say). Its recipient and signing key are the first identity's.
func JoinIdentities(ids ...*Identity) *Identity {
	if len(ids) == 0 {
		panic("vault: JoinIdentities of no identity")
	}
	j := &Identity{signing: ids[0].signing}
	for _, id := range ids {
		j.ids = append(j.ids, id.ids...)
		j.recips = append(j.recips, id.recips...)
		j.secrets = append(j.secrets, id.secrets...)
	}
	return j
}

// Recipient returns the public recipient of the identity's first key, the
// one its signing key is derived from. It is the zero Recipient for a
// passphrase identity.
func (id *Identity) Recipient() Recipient {
	if len(id.recips) == 0 {
		return Recipient{}
	}
	return id.recips[0]
}

// Recipients returns the public recipients of all the identity's keys.
func (id *Identity) Recipients() []Recipient { return append([]Recipient(nil), id.recips...) }

// SigningKey returns the member's Ed25519 signing key, derived from the
// identity's first key (see the package documentation), or nil for a
// passphrase identity.
func (id *Identity) SigningKey() ed25519.PrivateKey { return id.signing }

// SigningPublicKey returns the public half of [Identity.SigningKey], or nil.
func (id *Identity) SigningPublicKey() ed25519.PublicKey {
	if id.signing == nil {
		return nil
	}
	return id.signing.Public().(ed25519.PublicKey)
}

// String describes the identity by its public recipient; it never prints
// secret key material.
func (id *Identity) String() string {
	if len(id.recips) == 0 {
		return "vault.Identity(passphrase)"
	}
	return "vault.Identity(" + id.recips[0].text + ")"
}

// GoString is String, so that %#v does not print key material either.
func (id *Identity) GoString() string { return id.String() }
