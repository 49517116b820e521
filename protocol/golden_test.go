package protocol

import (
	"bufio"
	"crypto/ed25519"
	"encoding/hex"
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

// goldenEnvelope is a signed envelope of fixed content: ed25519 signatures
// are deterministic, so its bytes are too.
func goldenEnvelope() *Envelope {
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
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
