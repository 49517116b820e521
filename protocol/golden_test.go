package protocol

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/fedcrypt/fedcrypt/federation"
)

var update = flag.Bool("update", false, "rewrite testdata/wire.golden from the current encoders")

const goldenFile = "wire.golden"

// goldenKey is the golden envelope's signing key, h1's.
func goldenKey() ed25519.PrivateKey { return ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)) }

// goldenEnvelope is a signed envelope of fixed content: ed25519 signatures
// are deterministic, so its bytes are too.
func goldenEnvelope() *Envelope {
	key := goldenKey()
	e := &Envelope{Kind: KindUpload, From: "h1", Config: federation.Hash{0xfe, 0xdc}, Round: 3,
		Nonce: []byte{9, 8, 7}, Body: []byte("body")}
	e.Sign(key)
	return e
}

// wire is every encoding the protocol sends, by name: each body type's
// sample (codecs) and a signed envelope.
func wire(t *testing.T) map[string][]byte {
	out := map[string][]byte{}
	for _, c := range codecs {
		out[c.name] = c.enc(c.sample())
	}
	env, err := goldenEnvelope().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	out["envelope"] = env
	return out
}

// readGolden reads a golden file of wire bytes: one message a line, its
// name, ": " and its bytes in hex.
func readGolden(t testing.TB, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[string][]byte{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, h, ok := strings.Cut(line, ": ")
		b, err := hex.DecodeString(h)
		if !ok || err != nil {
			t.Fatalf("%s:%d: want name: hex", path, n)
		}
		want[name] = b
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return want
}

// TestWireFormatIsStable checks every message's encoding against the bytes
// kept in testdata/wire.golden, and that those bytes still decode to the
// same message: a change to the wire format fails here, and must come with
// a new protocol version (ProtocolVersion) and new golden bytes
// (go test -run TestWireFormatIsStable -update).
func TestWireFormatIsStable(t *testing.T) {
	path := filepath.Join("testdata", goldenFile)
	got := wire(t)
	if *update {
		var b strings.Builder
		fmt.Fprintf(&b, "# fedcrypt wire format, protocol version %d: one message per line, name: hex\n", ProtocolVersion)
		for _, name := range slices.Sorted(func(yield func(string) bool) {
			for k := range got {
				if !yield(k) {
					return
				}
			}
		}) {
			fmt.Fprintf(&b, "%s: %x\n", name, got[name])
		}
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := readGolden(t, path)
	for name, b := range got {
		w, ok := want[name]
		switch {
		case !ok:
			t.Errorf("%s: no golden bytes (add them with -update)", name)
		case string(w) != string(b):
			t.Errorf("%s: the encoding changed:\n got %x\nwant %x", name, b, w)
		}
	}
	for name := range want {
		if _, ok := got[name]; !ok {
			t.Errorf("%s: golden bytes of a message no longer sent", name)
		}
	}
	for _, c := range codecs {
		if w, ok := want[c.name]; ok {
			v, err := c.parse(w)
			if err != nil || !reflect.DeepEqual(v, c.sample()) {
				t.Errorf("%s: the golden bytes decode to %+v (%v)", c.name, v, err)
			}
		}
	}
	if w, ok := want["envelope"]; ok {
		e, err := ParseEnvelope(w)
		if err != nil || !reflect.DeepEqual(e, goldenEnvelope()) {
			t.Errorf("envelope: the golden bytes decode to %+v (%v)", e, err)
		}
	}
}

// TestVersion1IsStillRead reads the wire bytes protocol version 1 sent
// (testdata/wire-v1.golden, as that version's TestWireFormatIsStable kept
// them). Audit logs, checkpoints and acceptances written then hold signed
// version 1 envelopes: they parse as stored messages and their signatures
// verify, while a party of version 1 is refused by name. Version 2 changed
// the envelope's frame and the plaintext update, which no log keeps, so
// every version 1 body reads as it did.
func TestVersion1IsStillRead(t *testing.T) {
	old := readGolden(t, filepath.Join("testdata", "wire-v1.golden"))
	b, ok := old["envelope"]
	if !ok {
		t.Fatal("wire-v1.golden: no envelope")
	}
	if _, err := ParseEnvelope(b); err == nil || !strings.Contains(err.Error(), `protocol version "1"; this build speaks version 2`) {
		t.Errorf("a version 1 envelope received: %v", err)
	}
	e, err := ParseStored(b)
	if err != nil {
		t.Fatalf("a version 1 envelope stored: %v", err)
	}
	if !bytes.Equal(encodeV1(e), b) {
		t.Fatal("version 1 envelope: not all of its bytes were read")
	}
	want := goldenEnvelope()
	if e.version != 1 || e.Kind != want.Kind || e.From != want.From || e.Config != want.Config || e.Round != want.Round ||
		!bytes.Equal(e.Nonce, want.Nonce) || !bytes.Equal(e.Body, want.Body) {
		t.Fatalf("version 1 envelope read as %+v", e)
	}
	keys := testKeys{"h1": goldenKey()}
	if err := e.Verify(keys, want.Config); err != nil {
		t.Fatalf("version 1 signature: %v", err)
	}
	hd := e.Header()
	if err := hd.Verify(keys, want.Config); err != nil {
		t.Fatalf("version 1 header: %v", err)
	}
	e.Round++
	if err := e.Verify(keys, want.Config); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("version 1 envelope with another round: %v", err)
	}
	if _, err := e.MarshalBinary(); err == nil {
		t.Fatal("a version 1 envelope was encoded again")
	}
	for _, c := range codecs {
		w, ok := old[c.name]
		if !ok {
			continue
		}
		v, err := c.parse(w)
		if err != nil || !reflect.DeepEqual(v, c.sample()) {
			t.Errorf("%s: version 1 bytes decode to %+v (%v)", c.name, v, err)
		}
	}
}
