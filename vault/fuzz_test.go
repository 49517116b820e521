package vault

import (
	"bytes"
	"crypto/ed25519"
	"strings"
	"testing"
)

// fuzzSigner is a fixed signing key so that fuzz inputs stay meaningful
// across runs.
var fuzzSigner = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))

func FuzzParseIdentity(f *testing.F) {
	pq, err := GenerateHybridIdentity()
	if err != nil {
		f.Fatal(err)
	}
	seeds := []string{
		publishedSecret,
		"# created: 2026-01-01T00:00:00Z\n# public key: " + publishedRecipient + "\n" + publishedSecret + "\n",
		publishedSecret + "\r\n\n" + pq.secrets[0] + "\n",
		publishedRecipient,
		"AGE-SECRET-KEY-1",
		"AGE-SECRET-KEY-PQ-1QQQQ",
		"\xff",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		id, err := ParseIdentity(bytes.NewReader(text))
		if err != nil {
			for line := range strings.Lines(string(text)) {
				if line = strings.TrimSpace(line); len(line) >= 24 && strings.Contains(err.Error(), line) {
					t.Fatalf("error %q echoes an input line", err)
				}
			}
			return
		}
		again, err := ParseIdentity(strings.NewReader(strings.Join(id.secrets, "\n")))
		if err != nil {
			t.Fatalf("re-parse of the canonical encoding: %v", err)
		}
		if len(again.recips) != len(id.recips) || !again.SigningKey().Equal(id.SigningKey()) {
			t.Fatal("canonical encoding does not round-trip")
		}
		for i := range id.recips {
			if again.recips[i].String() != id.recips[i].String() {
				t.Fatalf("recipient %d changed in the round trip", i)
			}
		}
	})
}

func FuzzUnframeSealed(f *testing.F) {
	for _, s := range []struct{ kind, payload string }{
		{"checkpoint", `{"w":[1,2,3]}`},
		{"ledger", ""},
		{"share", strings.Repeat("\x00\xff", 100)},
	} {
		b, err := frameSealed(s.kind, []byte(s.payload), fuzzSigner)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, s.kind)
	}
	f.Add([]byte(sealMagic), "ledger")
	f.Add([]byte{}, "x")
	pub := fuzzSigner.Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, plain []byte, kind string) {
		payload, err := unframeSealed(plain, kind, pub)
		if err != nil {
			return
		}
		// Ed25519 signatures are deterministic: a frame that verifies is
		// exactly the one the writer would produce.
		again, err := frameSealed(kind, payload, fuzzSigner)
		if err != nil {
			t.Fatalf("accepted frame of kind %q cannot be re-framed: %v", kind, err)
		}
		if !bytes.Equal(again, plain) {
			t.Fatal("accepted frame differs from the writer's frame of the same payload")
		}
	})
}

func FuzzUnsealBytes(f *testing.F) {
	id, err := ParseIdentity(strings.NewReader(publishedSecret))
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range []string{"", "weights", strings.Repeat("w", 70_000)} {
		b, err := SealBytes("checkpoint", []byte(p), fuzzSigner, id.Recipient())
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("age-encryption.org/v1\n-> X25519 \n--- \n"))
	f.Add([]byte("-----BEGIN AGE ENCRYPTED FILE-----\n-----END AGE ENCRYPTED FILE-----\n"))
	pub := fuzzSigner.Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, sealed []byte) {
		payload, err := UnsealBytes(sealed, "checkpoint", pub, id)
		if err != nil {
			return
		}
		again, err := SealBytes("checkpoint", payload, fuzzSigner, id.Recipient())
		if err != nil {
			t.Fatal(err)
		}
		got, err := UnsealBytes(again, "checkpoint", pub, id)
		if err != nil || !bytes.Equal(got, payload) {
			t.Fatalf("re-sealed payload does not round-trip: %v", err)
		}
	})
}

func FuzzParseRecipients(f *testing.F) {
	pq, err := GenerateHybridIdentity()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		publishedRecipient,
		"# hospital\n" + publishedRecipient + "\n\n" + pq.Recipient().String() + "\n",
		"age1yubikey1qqq", "ssh-ed25519 AAAA", publishedSecret, "age1", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		rs, err := ParseRecipients(strings.NewReader(text))
		if err != nil {
			if strings.Contains(text, publishedSecret) && strings.Contains(err.Error(), publishedSecret[16:]) {
				t.Fatalf("error %q echoes a secret key", err)
			}
			return
		}
		var lines []string
		for _, r := range rs {
			lines = append(lines, r.String())
		}
		again, err := ParseRecipients(strings.NewReader(strings.Join(lines, "\n")))
		if err != nil || len(again) != len(rs) {
			t.Fatalf("canonical recipients do not re-parse: %v", err)
		}
		for i := range rs {
			if again[i].String() != rs[i].String() || again[i].kind != rs[i].kind {
				t.Fatalf("recipient %d changed in the round trip", i)
			}
		}
	})
}
