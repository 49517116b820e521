package protocol

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/fedcrypt/fedcrypt/federation"
)

// Envelope is one signed protocol message.
type Envelope struct {
	Kind   string          // message kind, e.g. "upload"
	From   string          // sender's party id
	Config federation.Hash // the federation's config hash
	Round  uint64          // round number; 0 during setup
	Nonce  []byte          // the round's nonce (empty during setup)
	Body   []byte          // the message itself, encoded by its kind
	Sig    []byte          // ed25519 signature over the signing input
	// version is the protocol version e was read in when it is an earlier
	// one (see ParseStored), 0 for this build's.
	version byte
}

// ProtocolVersion is the version of the wire format this build speaks:
// the envelope's encoding and every message body's. It is the last byte
// of the envelope's magic ("FCE2") and of its signing domain, so a message
// of another version is refused before it is read, and a signature never
// carries over from one version to another.
//
// Version 2 encodes the envelope's frame and its signing input with the
// codec every body uses (8-byte lengths), where version 1 gave them 4-byte
// lengths, and the plaintext update too (version 1's was little-endian
// float64s without a count). Its bodies are version 1's, byte for byte.
const ProtocolVersion = 2

const (
	envelopeDomain = "fedcrypt/envelope/v2"
	envelopeMagic  = "FCE2"
)

// Limits on envelope fields decoded from the network.
const (
	maxKindLen  = 64
	maxIDLen    = 64
	maxNonceLen = 64
	// MaxBody is the largest body an envelope may carry (1 GiB): a model of
	// tens of millions of parameters in ciphertexts.
	MaxBody = 1 << 30
)

// Header is an envelope without its body: enough to verify the sender's
// signature given the body's digest. A decryption request carries the
// headers of the uploads it sums, so a key holder checks each one was signed
// by a distinct contributor for this round without receiving the ciphertexts.
type Header struct {
	Kind       string
	From       string
	Config     federation.Hash
	Round      uint64
	Nonce      []byte
	BodyDigest [32]byte
	Sig        []byte
	version    byte // as Envelope's
}

// Header returns e's header.
func (e *Envelope) Header() Header {
	return Header{e.Kind, e.From, e.Config, e.Round, e.Nonce, sha256.Sum256(e.Body), e.Sig, e.version}
}

func (e *Envelope) signingInput() []byte {
	hd := e.Header()
	return hd.signingInput()
}

func (h *Header) signingInput() []byte {
	if h.version == 1 {
		return signingInputV1(h.Kind, h.From, h.Config, h.Round, h.Nonce, h.BodyDigest)
	}
	return signingInput(h.Kind, h.From, h.Config, h.Round, h.Nonce, h.BodyDigest)
}

// Digest names the signed message: SHA-256 of its signing input. Audit
// entries and decryption sets name uploads by it.
func (h *Header) Digest() [32]byte { return sha256.Sum256(h.signingInput()) }

// signingInput is what a sender signs:
//
//	"fedcrypt/envelope/v2" ‖ kind ‖ from ‖ hash ‖ round ‖ nonce ‖ SHA-256(body)
//
// in the bodies' encoding (strings and bytes after their 8-byte length).
func signingInput(kind, from string, cfg federation.Hash, round uint64, nonce []byte, d [32]byte) []byte {
	w := writer{b: make([]byte, 0, len(envelopeDomain)+len(kind)+len(from)+len(nonce)+112)}
	w.b = append(w.b, envelopeDomain...)
	w.str(kind)
	w.str(from)
	w.b = append(w.b, cfg[:]...)
	w.u64(round)
	w.bytes(nonce)
	w.b = append(w.b, d[:]...)
	return w.b
}

// Sign sets e.Sig with the sender's key. A signed envelope is of this
// build's version, whatever version it was read in.
func (e *Envelope) Sign(key ed25519.PrivateKey) {
	e.SignHeader(key)
}

// SignHeader sets e.Sig with the sender's key and returns e's header,
// hashing the body once for both (an upload's body is megabytes).
func (e *Envelope) SignHeader(key ed25519.PrivateKey) Header {
	e.version = 0
	d := sha256.Sum256(e.Body)
	e.Sig = ed25519.Sign(key, signingInput(e.Kind, e.From, e.Config, e.Round, e.Nonce, d))
	return Header{e.Kind, e.From, e.Config, e.Round, e.Nonce, d, e.Sig, 0}
}

// Digest is the digest of e's header.
func (e *Envelope) Digest() [32]byte { return sha256.Sum256(e.signingInput()) }

// ErrBadSignature is returned by [Envelope.Verify] and [Header.Verify] when
// a signature does not verify under the sender's registered key.
var ErrBadSignature = errors.New("signature does not verify")

// Keys gives the signing key a federation registers for a party: a
// [*federation.Config].
type Keys interface {
	SigningKey(id string) (ed25519.PublicKey, error)
}

// Verify checks that e is signed by the party it names, under the key keys
// registers for it, and bound to the federation whose config hash is h.
// Round and nonce are the caller's to check against its own state.
func (e *Envelope) Verify(keys Keys, h federation.Hash) error {
	hd := e.Header()
	return hd.Verify(keys, h)
}

// Verify is [Envelope.Verify] for a header.
func (hd *Header) Verify(keys Keys, h federation.Hash) error {
	if hd.Config != h {
		return fmt.Errorf("%s from %q: config hash %s is not this federation's %s", hd.Kind, hd.From, hd.Config.String()[:16], h.String()[:16])
	}
	key, err := keys.SigningKey(hd.From)
	if err != nil {
		return fmt.Errorf("%s: %w", hd.Kind, err)
	}
	if !ed25519.Verify(key, hd.signingInput(), hd.Sig) {
		return fmt.Errorf("%s from %q round %d: %w", hd.Kind, hd.From, hd.Round, ErrBadSignature)
	}
	return nil
}

// MarshalBinary encodes the envelope for the wire:
//
//	"FCE2" ‖ kind ‖ from ‖ hash(32) ‖ round ‖ nonce ‖ sig ‖ body
//
// in the bodies' encoding: the round as 8 bytes, and each string or byte
// string after its 8-byte length. An envelope read in an earlier version
// ([ParseStored]) is kept as it was read, never encoded again.
func (e *Envelope) MarshalBinary() ([]byte, error) {
	if e.version != 0 {
		return nil, fmt.Errorf("envelope: a %s of protocol version %d is kept as read, not encoded again", e.Kind, e.version)
	}
	b := make([]byte, 0, e.frameLen(len(e.Sig))+len(e.Body))
	b = e.appendFrame(b)
	return append(b, e.Body...), nil
}

// frameLen is the length of the encoding before the body, with a signature
// of sig bytes.
func (e *Envelope) frameLen(sig int) int {
	return len(envelopeMagic) + 8 + len(e.Kind) + 8 + len(e.From) + len(e.Config) + 8 + 8 + len(e.Nonce) + 8 + sig + 8
}

func (e *Envelope) appendFrame(b []byte) []byte {
	w := writer{b: append(b, envelopeMagic...)}
	w.str(e.Kind)
	w.str(e.From)
	w.b = append(w.b, e.Config[:]...)
	w.u64(e.Round)
	w.bytes(e.Nonce)
	w.bytes(e.Sig)
	w.u64(uint64(len(e.Body)))
	return w.b
}

// FrameLen is the length of e's signed encoding before its body: a buffer
// that holds FrameLen bytes of room and then the body is encoded in place
// by [Envelope.SignFramed].
func (e *Envelope) FrameLen() int { return e.frameLen(ed25519.SignatureSize) }

// SignFramed signs e, as [Envelope.SignHeader] does, when e.Body is
// buf[e.FrameLen():], and writes the encoding's frame into the room before
// it: buf is then what [Envelope.MarshalBinary] returns, without a copy of
// the body (an upload's body is tens of megabytes).
func (e *Envelope) SignFramed(key ed25519.PrivateKey, buf []byte) (Header, error) {
	n := e.FrameLen()
	if len(buf) < n || len(buf)-n != len(e.Body) || (len(e.Body) > 0 && &buf[n] != &e.Body[0]) {
		return Header{}, errors.New("envelope: body is not the buffer after its frame")
	}
	hd := e.SignHeader(key)
	e.appendFrame(buf[:0])
	return hd, nil
}

// ParseEnvelope decodes an envelope of this build's protocol version,
// written by MarshalBinary, checking every length against the bytes present
// and the field limits. An envelope of another version is refused with
// both versions named. The body aliases data.
func ParseEnvelope(data []byte) (*Envelope, error) {
	v, err := magicVersion(data)
	if err != nil {
		return nil, err
	}
	if v != envelopeMagic[3:] {
		return nil, fmt.Errorf("envelope: protocol version %q; this build speaks version %d (upgrade the party that is behind)", v, ProtocolVersion)
	}
	return parseEnvelope(data[len(envelopeMagic):], 0)
}

// ParseStored decodes a signed envelope kept on disk, such as a claim in
// an audit log, a checkpoint's copy of a member's endorsement or a
// member's acceptance of a federation version: of this build's protocol
// version or of version 1, whose envelopes [Envelope.Verify] checks as
// version 1 signed them. Another version is refused with the versions this
// build reads named. A message received from a party is parsed with
// [ParseEnvelope], which takes this build's version only.
func ParseStored(data []byte) (*Envelope, error) {
	v, err := magicVersion(data)
	if err != nil {
		return nil, err
	}
	switch v {
	case envelopeMagic[3:]:
		return parseEnvelope(data[len(envelopeMagic):], 0)
	case envelopeMagicV1[3:]:
		return parseEnvelope(data[len(envelopeMagicV1):], 1)
	}
	return nil, fmt.Errorf("envelope: protocol version %q, which this build cannot read (it reads versions 1 and %d)", v, ProtocolVersion)
}

// magicVersion checks data starts as an envelope does and returns the
// version its magic names.
func magicVersion(data []byte) (string, error) {
	if len(data) < len(envelopeMagic) || string(data[:3]) != envelopeMagic[:3] {
		return "", errors.New("envelope: not a fedcrypt message (bad magic)")
	}
	return string(data[3:4]), nil
}

// parseEnvelope decodes an envelope of the given version (0 for this
// build's) after its magic.
func parseEnvelope(data []byte, version byte) (*Envelope, error) {
	r := reader{b: data}
	field := r.bytesMax
	if version == 1 {
		field = func(name string, limit int) []byte { return fieldV1(&r, name, limit) }
	}
	e := &Envelope{version: version}
	e.Kind = string(field("kind", maxKindLen))
	e.From = string(field("sender", maxIDLen))
	r.at = "config hash"
	copy(e.Config[:], r.take(32))
	e.Round = r.u64("round")
	e.Nonce = field("nonce", maxNonceLen)
	e.Sig = field("signature", ed25519.SignatureSize)
	e.Body = r.bytesMax("body", MaxBody)
	if err := r.done("envelope"); err != nil {
		return nil, err
	}
	if len(e.Sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("envelope: signature of %d bytes", len(e.Sig))
	}
	return e, nil
}
