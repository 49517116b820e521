package vault

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"filippo.io/age"
)

// DefaultWorkFactor is the scrypt work factor (log2 N) of new passphrase
// recipients, age's own default: about a second on a laptop.
const DefaultWorkFactor = 18

// MaxWorkFactor is the largest scrypt work factor (log2 N) accepted when
// decrypting with a passphrase, age's own cap. A file asking for more is
// refused before any scrypt work is done.
const MaxWorkFactor = 22

type recipientKind uint8

const (
	kindNone recipientKind = iota
	kindX25519
	kindHybrid
	kindPassphrase
)

// Recipient is a public key, or a passphrase, that files are encrypted to:
// an age X25519 recipient ("age1…"), a post-quantum hybrid recipient
// ("age1pq1…"), or a passphrase. The zero Recipient is invalid. Recipients
// are immutable and safe for concurrent use.
type Recipient struct {
	r    age.Recipient
	kind recipientKind
	text string
}

// ParseRecipient parses one age recipient: "age1…" (X25519) or "age1pq1…"
// (post-quantum hybrid). SSH, tagged and plugin recipients are refused.
func ParseRecipient(s string) (Recipient, error) {
	s = strings.TrimSpace(s)
	// A Bech32 string's human-readable part ends at its last "1": "age"
	// for X25519, "age1pq" and "age1tag" for hybrid and tagged recipients,
	// "age1NAME" for plugins. An X25519 key's data never holds a "1" but
	// may well start with "pq" or "tag".
	hrp := ""
	if i := strings.LastIndexByte(s, '1'); i > 0 {
		hrp = strings.ToLower(s[:i])
	}
	switch {
	case hrp == "age1pq":
		r, err := age.ParseHybridRecipient(s)
		if err != nil {
			return Recipient{}, fmt.Errorf("recipient %s: malformed post-quantum age recipient", abbreviate(s))
		}
		return Recipient{r: r, kind: kindHybrid, text: r.String()}, nil
	case hrp == "age1tag":
		return Recipient{}, fmt.Errorf("recipient %s: tagged (hardware) recipients are not supported", abbreviate(s))
	case strings.HasPrefix(hrp, "age1"):
		return Recipient{}, fmt.Errorf("recipient %s: age plugin recipients are not supported", abbreviate(s))
	case hrp == "age":
		r, err := age.ParseX25519Recipient(s)
		if err != nil {
			return Recipient{}, fmt.Errorf("recipient %s: malformed age recipient", abbreviate(s))
		}
		return Recipient{r: r, kind: kindX25519, text: r.String()}, nil
	case strings.HasPrefix(s, "AGE-SECRET-KEY-"):
		// Never echo it: it is a secret key given where a public key belongs.
		return Recipient{}, errors.New("recipient: this is a secret key, give its public key (age1…)")
	case strings.HasPrefix(s, "ssh-"):
		return Recipient{}, errors.New("recipient: SSH keys are not supported, only age recipients (age1…)")
	default:
		return Recipient{}, fmt.Errorf("recipient %s: not an age recipient (age1…)", abbreviate(s))
	}
}

// abbreviate shortens a (public) key for an error message and quotes it.
func abbreviate(s string) string {
	if len(s) > 24 {
		s = s[:16] + "…" + s[len(s)-6:]
	}
	return strconv.Quote(s)
}

// ParseRecipients reads a recipients file: one recipient per line, empty
// lines and lines starting with "#" ignored, as the age tool accepts with -R.
func ParseRecipients(r io.Reader) ([]Recipient, error) {
	var out []Recipient
	err := scanKeyLines(r, func(n int, line string) error {
		rc, err := ParseRecipient(line)
		if err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
		out = append(out, rc)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("no recipients found")
	}
	return out, nil
}

// NewPassphraseRecipient returns a recipient that encrypts to a passphrase
// with scrypt work factor 2^logN (0 selects [DefaultWorkFactor]). A
// passphrase recipient must be a file's only recipient.
func NewPassphraseRecipient(passphrase []byte, logN int) (Recipient, error) {
	if len(passphrase) == 0 {
		return Recipient{}, errors.New("passphrase is empty")
	}
	if logN == 0 {
		logN = DefaultWorkFactor
	}
	if logN < 1 || logN > MaxWorkFactor {
		return Recipient{}, fmt.Errorf("scrypt work factor %d: must be in [1, %d]", logN, MaxWorkFactor)
	}
	r, err := age.NewScryptRecipient(string(passphrase))
	if err != nil {
		return Recipient{}, err
	}
	r.SetWorkFactor(logN)
	return Recipient{r: r, kind: kindPassphrase, text: "passphrase"}, nil
}

// NewPassphraseIdentity returns an identity that decrypts files encrypted to
// passphrase. It has no recipient and no signing key.
func NewPassphraseIdentity(passphrase []byte) (*Identity, error) {
	if len(passphrase) == 0 {
		return nil, errors.New("passphrase is empty")
	}
	return &Identity{ids: []age.Identity{&scryptIdentity{pass: string(passphrase)}}}, nil
}

// scryptIdentity checks the work factor a file asks for before doing any
// scrypt work, so that an absurd one is a clear error and costs nothing.
type scryptIdentity struct{ pass string }

func (s *scryptIdentity) Unwrap(stanzas []*age.Stanza) ([]byte, error) {
	for _, st := range stanzas {
		if st.Type != "scrypt" {
			continue
		}
		if len(stanzas) != 1 {
			return nil, fmt.Errorf("%w: a passphrase stanza is not the only one in the header", ErrCorrupt)
		}
		if len(st.Args) == 2 {
			if logN, err := strconv.Atoi(st.Args[1]); err == nil && logN > MaxWorkFactor {
				return nil, fmt.Errorf("scrypt work factor 2^%d exceeds the limit 2^%d", logN, MaxWorkFactor)
			}
		}
		id, err := age.NewScryptIdentity(s.pass)
		if err != nil {
			return nil, err
		}
		id.SetMaxWorkFactor(MaxWorkFactor)
		key, err := id.Unwrap(stanzas)
		if errors.Is(err, age.ErrIncorrectIdentity) {
			return nil, ErrWrongPassphrase
		}
		return key, err
	}
	return nil, age.ErrIncorrectIdentity
}

// String returns the recipient's standard encoding ("age1…"), or
// "passphrase" for a passphrase recipient (never the passphrase).
func (r Recipient) String() string { return r.text }

// IsPostQuantum reports whether r is a post-quantum hybrid recipient.
func (r Recipient) IsPostQuantum() bool { return r.kind == kindHybrid }

// checkRecipients applies age's rules for mixing recipients, with errors
// that say what to change: at least one recipient, a passphrase only alone,
// post-quantum and classical recipients never together.
func checkRecipients(rs []Recipient) error {
	if len(rs) == 0 {
		return errors.New("no recipients")
	}
	var pq, classic int
	for i, r := range rs {
		switch r.kind {
		case kindNone:
			return fmt.Errorf("recipient #%d is the zero Recipient", i+1)
		case kindPassphrase:
			if len(rs) > 1 {
				return errors.New("a passphrase recipient must be the only recipient (age refuses to mix it with others)")
			}
		case kindHybrid:
			pq++
		case kindX25519:
			classic++
		}
	}
	if pq > 0 && classic > 0 {
		return fmt.Errorf("post-quantum (age1pq1…) and classical (age1…) recipients cannot be mixed: "+
			"the file would not be post-quantum secure (%d post-quantum, %d classical)", pq, classic)
	}
	return nil
}

// signingKeyPrefix starts the text encoding of an Ed25519 public key.
const signingKeyPrefix = "ed25519:"

// FormatSigningKey encodes an Ed25519 public key as "ed25519:" followed by
// its standard base64 encoding, the form printed by "fedcrypt keygen" and
// written in federation configurations.
func FormatSigningKey(pub ed25519.PublicKey) string {
	return signingKeyPrefix + base64.StdEncoding.EncodeToString(pub)
}

// ParseSigningKey decodes the output of [FormatSigningKey].
func ParseSigningKey(s string) (ed25519.PublicKey, error) {
	s = strings.TrimSpace(s)
	b64, ok := strings.CutPrefix(s, signingKeyPrefix)
	if !ok {
		return nil, fmt.Errorf("signing key %s: does not start with %q", abbreviate(s), signingKeyPrefix)
	}
	b, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("signing key %s: not %d bytes of base64", abbreviate(s), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}
