package protocol

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/fedcrypt/fedcrypt/federation"
)

// A message of another protocol version is refused by name before any of
// it is read, as a message received and as one stored; bytes that are no
// fedcrypt message at all are refused as such.
func TestEnvelopeOfAnotherVersionIsRefused(t *testing.T) {
	e := &Envelope{Kind: "round", From: "aggregator", Round: 1, Nonce: []byte{}, Body: []byte("x")}
	e.Sign(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)))
	b, err := e.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for name, parse := range map[string]func([]byte) (*Envelope, error){"received": ParseEnvelope, "stored": ParseStored} {
		if got, err := parse(b); err != nil || !reflect.DeepEqual(got, e) {
			t.Fatalf("%s: this version's envelope read as %+v (%v)", name, got, err)
		}
		for _, bad := range [][]byte{nil, []byte("FC"), []byte("XYZ1rest"), append([]byte("GCE2"), b[4:]...)} {
			if _, err := parse(bad); err == nil || !strings.Contains(err.Error(), "bad magic") {
				t.Errorf("%s: %q: %v, want bad magic", name, bad, err)
			}
		}
	}
	for _, v := range []byte{'0', '3'} {
		other := bytes.Clone(b)
		other[3] = v
		if _, err := ParseEnvelope(other); err == nil || !strings.Contains(err.Error(), fmt.Sprintf(`protocol version "%c"; this build speaks version 2`, v)) {
			t.Errorf("a version %c envelope received: %v", v, err)
		}
		if _, err := ParseStored(other); err == nil || !strings.Contains(err.Error(), fmt.Sprintf(`protocol version "%c", which this build cannot read (it reads versions 1 and 2)`, v)) {
			t.Errorf("a version %c envelope stored: %v", v, err)
		}
	}
}

// testKeys are the signing keys of a test federation's parties, h1 to h3
// and the aggregator, registered as a federation's config registers them.
type testKeys map[string]ed25519.PrivateKey

func newTestKeys() testKeys {
	k := testKeys{}
	for i, id := range []string{"aggregator", "h1", "h2", "h3"} {
		k[id] = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{byte(i + 1)}, ed25519.SeedSize))
	}
	return k
}

func (k testKeys) SigningKey(id string) (ed25519.PublicKey, error) {
	key, ok := k[id]
	if !ok {
		return nil, fmt.Errorf("%q is not a party of this federation", id)
	}
	return key.Public().(ed25519.PublicKey), nil
}

// A federation's config is what registers the keys in a run.
var _ Keys = (*federation.Config)(nil)

// testHash is the config hash of the test federation.
var testHash = federation.Hash{0xfe, 0xdc, 0xba}

func signed(keys testKeys, from string) *Envelope {
	e := &Envelope{Kind: "upload", From: from, Config: testHash, Round: 3, Nonce: []byte("n0nce"), Body: []byte("ciphertext")}
	e.Sign(keys[from])
	return e
}

func TestEnvelopeSignVerify(t *testing.T) {
	keys, h := newTestKeys(), testHash
	e := signed(keys, "h1")
	if err := e.Verify(keys, h); err != nil {
		t.Fatal(err)
	}
	hd := e.Header()
	if err := hd.Verify(keys, h); err != nil {
		t.Fatalf("header of a valid envelope: %v", err)
	}
	if hd.Digest() != e.Digest() {
		t.Fatal("header and envelope digests differ")
	}
	tampers := map[string]func(e *Envelope){
		"body":        func(e *Envelope) { e.Body = []byte("ciphertexT") },
		"round":       func(e *Envelope) { e.Round = 4 },
		"nonce":       func(e *Envelope) { e.Nonce = []byte("other") },
		"kind":        func(e *Envelope) { e.Kind = "share" },
		"sender":      func(e *Envelope) { e.From = "h2" },
		"config":      func(e *Envelope) { e.Config[0] ^= 1 },
		"non-member":  func(e *Envelope) { e.From = "mallory" },
		"other's key": func(e *Envelope) { e.Sign(keys["h2"]) },
	}
	for name, tamper := range tampers {
		t.Run(name, func(t *testing.T) {
			e := signed(keys, "h1")
			tamper(e)
			if err := e.Verify(keys, h); err == nil {
				t.Fatal("tampered envelope verified")
			}
		})
	}
	e = signed(keys, "h1")
	e.Body = []byte("x")
	if err := e.Verify(keys, h); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("want ErrBadSignature, got %v", err)
	}
}

func TestEnvelopeWireRoundTrip(t *testing.T) {
	keys := newTestKeys()
	e := signed(keys, "h2")
	b, _ := e.MarshalBinary()
	got, err := ParseEnvelope(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := got.Verify(keys, testHash); err != nil {
		t.Fatalf("parsed envelope: %v", err)
	}
	for cut := range len(b) {
		if _, err := ParseEnvelope(b[:cut]); err == nil {
			t.Fatalf("truncated to %d bytes: accepted", cut)
		}
	}
}

func FuzzParseEnvelope(f *testing.F) {
	keys := newTestKeys()
	b, _ := signed(keys, "h1").MarshalBinary()
	f.Add(b)
	f.Add([]byte("FCE2"))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseEnvelope(data)
		if err != nil {
			return
		}
		again, _ := e.MarshalBinary()
		if !bytes.Equal(again, data) {
			t.Fatal("accepted envelope re-encodes differently")
		}
	})
}

func TestEnvelopeSignFramed(t *testing.T) {
	keys := newTestKeys()
	want := signed(keys, "h1")
	wantRaw, _ := want.MarshalBinary()

	e := &Envelope{Kind: want.Kind, From: want.From, Config: want.Config, Round: want.Round, Nonce: want.Nonce}
	n := e.FrameLen()
	buf := append(make([]byte, n), want.Body...)
	e.Body = buf[n:]
	hd, err := e.SignFramed(keys["h1"], buf)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf, wantRaw) {
		t.Fatal("framed encoding differs from MarshalBinary's")
	}
	if hd.Digest() != want.Digest() {
		t.Fatal("framed header names another message")
	}
	// A body that is not the buffer's tail is refused, not signed.
	e.Body = slices.Clone(buf[n:])
	if _, err := e.SignFramed(keys["h1"], buf); err == nil {
		t.Fatal("a body outside the buffer was framed")
	}
	e.Body = buf[n+1:]
	if _, err := e.SignFramed(keys["h1"], buf); err == nil {
		t.Fatal("a body shorter than the buffer's tail was framed")
	}
}

// FuzzParseStored: a stored envelope, of either version this build reads,
// is accepted only in the encoding its version writes.
func FuzzParseStored(f *testing.F) {
	v1 := readGolden(f, filepath.Join("testdata", "wire-v1.golden"))["envelope"]
	if v1 == nil {
		f.Fatal("empty seed corpus: no version 1 envelope in wire-v1.golden")
	}
	v2, _ := signed(newTestKeys(), "h1").MarshalBinary()
	for _, b := range [][]byte{v1, v2, []byte("FCE1"), []byte("FCE2")} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseStored(data)
		if err != nil {
			return
		}
		again, _ := e.MarshalBinary()
		if e.version == 1 {
			again = encodeV1(e)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("accepted version %d envelope re-encodes differently", max(e.version, ProtocolVersion))
		}
	})
}

// encodeV1 is protocol version 1's encoding of e, as releases of that
// version wrote it.
func encodeV1(e *Envelope) []byte {
	b := []byte(envelopeMagicV1)
	b = appendV1(b, []byte(e.Kind))
	b = appendV1(b, []byte(e.From))
	b = append(b, e.Config[:]...)
	b = binary.BigEndian.AppendUint64(b, e.Round)
	b = appendV1(b, e.Nonce)
	b = appendV1(b, e.Sig)
	b = binary.BigEndian.AppendUint64(b, uint64(len(e.Body)))
	return append(b, e.Body...)
}
