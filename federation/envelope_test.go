package federation

import (
	"bytes"
	"crypto/ed25519"
	"strings"
	"testing"
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
