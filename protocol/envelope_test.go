package protocol

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/fedcrypt/fedcrypt/federation"
)

// A message of another protocol version is refused by name before any of
// it is read; bytes that are no fedcrypt message at all are refused as such.
func TestEnvelopeOfAnotherVersionIsRefused(t *testing.T) {
	e := &Envelope{Kind: "round", From: "aggregator", Round: 1, Body: []byte("x")}
	e.Sign(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)))
	b, err := e.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseEnvelope(b); err != nil {
		t.Fatalf("this version's envelope: %v", err)
	}
	next := bytes.Clone(b)
	next[3] = '2'
	if _, err := ParseEnvelope(next); err == nil || !strings.Contains(err.Error(), `protocol version "2"; this build speaks version 1`) {
		t.Errorf("a version 2 envelope: %v", err)
	}
	for _, bad := range [][]byte{nil, []byte("FC"), []byte("XYZ1rest"), append([]byte("GCE1"), b[4:]...)} {
		if _, err := ParseEnvelope(bad); err == nil || !strings.Contains(err.Error(), "bad magic") {
			t.Errorf("%q: %v, want bad magic", bad, err)
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
	f.Add([]byte("FCE1"))
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
