package vault

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"filippo.io/age"
	"filippo.io/age/armor"
)

// Errors that callers branch on. Every error of this package that wraps one
// of them also names the file or the cause.
var (
	// ErrNoIdentityMatch: none of the identity's keys can open the file
	// (wrong key). Returned by Decrypt, DecryptBytes, Open, Unseal.
	ErrNoIdentityMatch = errors.New("no identity matches the file's recipients (wrong key?)")
	// ErrCorrupt: the file is not a well-formed age file, or it was
	// truncated or modified (age authenticates its header and every 64 KiB
	// chunk). Returned by Decrypt, DecryptBytes, Open, Unseal.
	ErrCorrupt = errors.New("not a valid age file, or truncated or modified")
	// ErrWrongPassphrase: a passphrase identity did not open the file.
	ErrWrongPassphrase = errors.New("incorrect passphrase")
	// ErrPassphraseRequired: the file is passphrase-encrypted and no
	// passphrase was given. Returned by ReadIdentityFile.
	ErrPassphraseRequired = errors.New("encrypted with a passphrase: a passphrase is needed")
	// ErrIdentityRequired: Open met an age file and was given no identity.
	ErrIdentityRequired = errors.New("age-encrypted: an identity is needed")
)

const (
	ageMagic = "age-encryption.org/"
	// Suffix is the file name suffix of age-encrypted files.
	Suffix = ".age"
)

// isAgeFile reports whether b starts like an age file, binary or armored.
func isAgeFile(b []byte) bool {
	if bytes.HasPrefix(b, []byte(ageMagic)) {
		return true
	}
	return bytes.HasPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte(armor.Header))
}

// Encrypt returns a writer that encrypts what is written to it as an age file
// on dst, readable by every recipient; Close must be called to write the last
// chunk. The recipients must obey age's mixing rules: a passphrase alone, and
// post-quantum recipients never with classical ones.
func Encrypt(dst io.Writer, recipients ...Recipient) (io.WriteCloser, error) {
	if err := checkRecipients(recipients); err != nil {
		return nil, err
	}
	rs := make([]age.Recipient, len(recipients))
	for i, r := range recipients {
		rs[i] = r.r
	}
	w, err := age.Encrypt(dst, rs...)
	if err != nil {
		return nil, fmt.Errorf("age encrypt: %w", err)
	}
	return w, nil
}

// Decrypt returns a reader of the plaintext of the age file read from src,
// binary or ASCII-armored. The header is checked before Decrypt returns; the
// payload is authenticated chunk by chunk as it is read, so a truncated or
// modified file makes a later Read fail with [ErrCorrupt]: a caller must
// treat what it read as untrusted until Read returns io.EOF.
func Decrypt(src io.Reader, id *Identity) (io.Reader, error) {
	if id == nil || len(id.ids) == 0 {
		return nil, errors.New("no identity given")
	}
	br := bufio.NewReader(src)
	head, _ := br.Peek(len(armor.Header) + 64)
	var in io.Reader = br
	if !bytes.HasPrefix(head, []byte(ageMagic)) && bytes.HasPrefix(bytes.TrimLeft(head, " \t\r\n"), []byte(armor.Header)) {
		in = &armorReader{r: armor.NewReader(br)}
	}
	r, err := age.Decrypt(in, id.ids...)
	if err != nil {
		return nil, classify(err)
	}
	return &plainReader{r: r}, nil
}

// armorReader marks the armor decoder's errors so that classify can name
// them (trailing garbage, bad line lengths).
type armorReader struct{ r io.Reader }

type armorError struct{ err error }

func (e *armorError) Error() string { return "armored file: " + e.err.Error() }

func (a *armorReader) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	if err != nil && err != io.EOF {
		err = &armorError{err}
	}
	return n, err
}

// plainReader turns age's payload errors into this package's.
type plainReader struct{ r io.Reader }

func (p *plainReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if err != nil && err != io.EOF {
		err = classify(err)
	}
	return n, err
}

// classify maps an error from age to one that says what happened, wrapping
// ErrNoIdentityMatch, ErrCorrupt or ErrWrongPassphrase where it applies.
func classify(err error) error {
	var noMatch *age.NoIdentityMatchError
	var ae *armorError
	switch {
	case errors.As(err, &ae):
		return fmt.Errorf("%w: %v", ErrCorrupt, ae)
	case errors.Is(err, ErrWrongPassphrase), errors.Is(err, ErrCorrupt):
		return err
	case errors.As(err, &noMatch):
		if len(noMatch.StanzaTypes) == 1 && noMatch.StanzaTypes[0] == "scrypt" {
			return fmt.Errorf("%w: the file is encrypted with a passphrase", ErrNoIdentityMatch)
		}
		return fmt.Errorf("%w: the file is for %d recipient(s) of type %s", ErrNoIdentityMatch,
			len(noMatch.StanzaTypes), strings.Join(uniq(noMatch.StanzaTypes), ", "))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: file is truncated", ErrCorrupt)
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "failed to read header"):
		// age quotes the offending header line; it may be a line of a
		// plaintext file given by mistake, so it is cut off.
		detail := strings.TrimPrefix(msg, "failed to read header: ")
		if i := strings.IndexByte(detail, '"'); i >= 0 {
			detail = strings.TrimRight(detail[:i], ": ")
		}
		return fmt.Errorf("%w: bad header: %s", ErrCorrupt, detail)
	case strings.Contains(msg, "bad header MAC"):
		return fmt.Errorf("%w: header was modified (bad MAC)", ErrCorrupt)
	case strings.Contains(msg, "authenticate"):
		return fmt.Errorf("%w: payload was modified (authentication failed)", ErrCorrupt)
	case strings.Contains(msg, "trailing data"):
		return fmt.Errorf("%w: trailing data after the encrypted payload", ErrCorrupt)
	case strings.Contains(msg, "nonce"), strings.Contains(msg, "chunk"):
		return fmt.Errorf("%w: %s", ErrCorrupt, msg)
	}
	return err
}

func uniq(s []string) []string {
	var out []string
	for _, v := range s {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// EncryptBytes encrypts plaintext to the recipients and returns the age
// file. It is how a secret travels through a party that must not read it,
// such as a threshold key share relayed by the aggregator.
func EncryptBytes(plaintext []byte, recipients ...Recipient) ([]byte, error) {
	var buf bytes.Buffer
	w, err := Encrypt(&buf, recipients...)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(plaintext); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// maxDecryptBytes bounds what DecryptBytes and Unseal hold in memory.
const maxDecryptBytes = 1 << 30

// DecryptBytes decrypts a whole age file held in memory (at most 1 GiB of
// plaintext) and authenticates all of it before returning.
func DecryptBytes(ciphertext []byte, id *Identity) ([]byte, error) {
	r, err := Decrypt(bytes.NewReader(ciphertext), id)
	if err != nil {
		return nil, err
	}
	// The plaintext is shorter than the ciphertext: one allocation suffices
	// (bytes.Buffer.ReadFrom wants bytes.MinRead spare bytes at the end).
	buf := bytes.NewBuffer(make([]byte, 0, min(len(ciphertext), maxDecryptBytes)+bytes.MinRead))
	_, err = buf.ReadFrom(io.LimitReader(r, maxDecryptBytes+1))
	out := buf.Bytes()
	if err != nil {
		clear(out)
		return nil, err
	}
	if len(out) > maxDecryptBytes {
		clear(out)
		return nil, fmt.Errorf("plaintext larger than %d bytes", maxDecryptBytes)
	}
	return out, nil
}
