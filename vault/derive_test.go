package vault

import (
	"bytes"
	"strings"
	"testing"

	"filippo.io/age"
)

// TestBech32Vectors checks the encoder against valid strings of BIP-173's
// test vectors (https://github.com/bitcoin/bips/blob/master/bip-0173.mediawiki).
func TestBech32Vectors(t *testing.T) {
	for _, tc := range []struct {
		hrp  string
		data []byte
		want string
	}{
		{"a", nil, "a12uel5l"},
		{"A", nil, "A12UEL5L"},
		{"abcdef", []byte{0x00, 0x44, 0x32, 0x14, 0xc7, 0x42, 0x54, 0xb6, 0x35, 0xcf, 0x84, 0x65, 0x3a, 0x56, 0xd7, 0xc6, 0x75, 0xbe, 0x77, 0xdf},
			"abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw"},
	} {
		if got := bech32Encode(tc.hrp, tc.data); got != tc.want {
			t.Errorf("bech32Encode(%q, %x) = %q, want %q", tc.hrp, tc.data, got, tc.want)
		}
	}
}

// TestDeriveIdentity checks that a derived identity repeats with its
// secret, differs for another, is the scalar age reads back, and opens
// what is sealed to its recipient.
func TestDeriveIdentity(t *testing.T) {
	var s1, s2 [32]byte
	s1[5], s2[5] = 1, 2 // not in the low 3 bits, which X25519 clears
	a, err := DeriveIdentity(s1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := DeriveIdentity(s1)
	c, _ := DeriveIdentity(s2)
	if a.Recipient().String() != b.Recipient().String() || a.Recipient().String() == c.Recipient().String() {
		t.Fatalf("recipients %s, %s (same secret), %s (another)", a.Recipient(), b.Recipient(), c.Recipient())
	}
	if !a.SigningPublicKey().Equal(b.SigningPublicKey()) || a.SigningPublicKey().Equal(c.SigningPublicKey()) {
		t.Fatal("signing keys do not follow the secret")
	}
	k, err := age.ParseX25519Identity(a.secrets[0])
	if err != nil || !strings.HasPrefix(a.secrets[0], "AGE-SECRET-KEY-1") {
		t.Fatalf("age reads %q: %v", a.secrets[0], err)
	}
	if k.Recipient().String() != a.Recipient().String() {
		t.Fatalf("age's recipient %s, ours %s", k.Recipient(), a.Recipient())
	}
	var sealed bytes.Buffer
	w, err := age.Encrypt(&sealed, k.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("row"))
	w.Close()
	got, err := DecryptBytes(sealed.Bytes(), a)
	if err != nil || string(got) != "row" {
		t.Fatalf("derived identity opens what age sealed to it as %q, %v", got, err)
	}
}
