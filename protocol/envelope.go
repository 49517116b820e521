package protocol

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
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
}

// ProtocolVersion is the version of the wire format this build speaks:
// the envelope's encoding and every message body's. It is the last byte
// of the envelope's magic ("FCE1") and of its signing domain, so a message
// of another version is refused before it is read, and a signature never
// carries over from one version to another.
const ProtocolVersion = 1

const (
	envelopeDomain = "fedcrypt/envelope/v1"
	envelopeMagic  = "FCE1"
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
}

// Header returns e's header.
func (e *Envelope) Header() Header {
	return Header{e.Kind, e.From, e.Config, e.Round, e.Nonce, sha256.Sum256(e.Body), e.Sig}
}

func (e *Envelope) signingInput() []byte {
	return signingInput(e.Kind, e.From, e.Config, e.Round, e.Nonce, sha256.Sum256(e.Body))
}

func (h *Header) signingInput() []byte {
	return signingInput(h.Kind, h.From, h.Config, h.Round, h.Nonce, h.BodyDigest)
}

// Digest names the signed message: SHA-256 of its signing input. Audit
// entries and decryption sets name uploads by it.
func (h *Header) Digest() [32]byte { return sha256.Sum256(h.signingInput()) }

func signingInput(kind, from string, cfg federation.Hash, round uint64, nonce []byte, d [32]byte) []byte {
	b := make([]byte, 0, len(envelopeDomain)+len(kind)+len(from)+len(nonce)+96)
	b = append(b, envelopeDomain...)
	b = appendBytes(b, []byte(kind))
	b = appendBytes(b, []byte(from))
	b = append(b, cfg[:]...)
	b = binary.BigEndian.AppendUint64(b, round)
	b = appendBytes(b, nonce)
	return append(b, d[:]...)
}

func appendBytes(b, v []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
	return append(b, v...)
}

// Sign sets e.Sig with the sender's key.
func (e *Envelope) Sign(key ed25519.PrivateKey) {
	e.Sig = ed25519.Sign(key, e.signingInput())
}

// SignHeader sets e.Sig with the sender's key and returns e's header,
// hashing the body once for both (an upload's body is megabytes).
func (e *Envelope) SignHeader(key ed25519.PrivateKey) Header {
	d := sha256.Sum256(e.Body)
	e.Sig = ed25519.Sign(key, signingInput(e.Kind, e.From, e.Config, e.Round, e.Nonce, d))
	return Header{e.Kind, e.From, e.Config, e.Round, e.Nonce, d, e.Sig}
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
//	"FCE1" ‖ len‖kind ‖ len‖from ‖ hash(32) ‖ round(8) ‖ len‖nonce ‖ len‖sig ‖ len(8)‖body
//
// with 4-byte big-endian lengths except the body's 8.
func (e *Envelope) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, e.frameLen(len(e.Sig))+len(e.Body))
	b = e.appendFrame(b)
	return append(b, e.Body...), nil
}

// frameLen is the length of the encoding before the body, with a signature
// of sig bytes.
func (e *Envelope) frameLen(sig int) int {
	return 4 + 4 + len(e.Kind) + 4 + len(e.From) + len(e.Config) + 8 + 4 + len(e.Nonce) + 4 + sig + 8
}

func (e *Envelope) appendFrame(b []byte) []byte {
	b = append(b, envelopeMagic...)
	b = appendBytes(b, []byte(e.Kind))
	b = appendBytes(b, []byte(e.From))
	b = append(b, e.Config[:]...)
	b = binary.BigEndian.AppendUint64(b, e.Round)
	b = appendBytes(b, e.Nonce)
	b = appendBytes(b, e.Sig)
	return binary.BigEndian.AppendUint64(b, uint64(len(e.Body)))
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

// ParseEnvelope decodes an envelope written by MarshalBinary, checking every
// length against the bytes present and the field limits. The body aliases
// data.
func ParseEnvelope(data []byte) (*Envelope, error) {
	r := frameReader{b: data}
	magic := string(r.next(4))
	switch {
	case r.err != nil || magic[:3] != envelopeMagic[:3]:
		return nil, errors.New("envelope: not a fedcrypt message (bad magic)")
	case magic != envelopeMagic:
		return nil, fmt.Errorf("envelope: protocol version %q; this build speaks version %d (upgrade the party that is behind)", magic[3:], ProtocolVersion)
	}
	e := &Envelope{}
	e.Kind = string(r.field(maxKindLen, "kind"))
	e.From = string(r.field(maxIDLen, "sender"))
	copy(e.Config[:], r.next(32))
	e.Round = r.u64()
	e.Nonce = r.field(maxNonceLen, "nonce")
	e.Sig = r.field(ed25519.SignatureSize, "signature")
	n := r.u64()
	if r.err == nil && (n > MaxBody || n != uint64(len(r.b))) {
		r.err = fmt.Errorf("body length %d, %d bytes follow", n, len(r.b))
	}
	e.Body = r.b
	if r.err != nil {
		return nil, fmt.Errorf("envelope: %w", r.err)
	}
	if len(e.Sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("envelope: signature of %d bytes", len(e.Sig))
	}
	return e, nil
}

// frameReader reads the envelope's frame.
type frameReader struct {
	b   []byte
	err error
}

func (r *frameReader) next(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n > len(r.b) {
		r.err = errors.New("truncated")
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *frameReader) u64() uint64 {
	v := r.next(8)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func (r *frameReader) field(limit int, name string) []byte {
	v := r.next(4)
	if v == nil {
		return nil
	}
	n := binary.BigEndian.Uint32(v)
	if int64(n) > int64(limit) {
		r.err = fmt.Errorf("%s of %d bytes exceeds %d", name, n, limit)
		return nil
	}
	return r.next(int(n))
}
