package sim

import (
	"testing"
)

// TestBech32 checks the encoding against BIP 173's test vectors.
func TestBech32(t *testing.T) {
	cases := []struct {
		hrp  string
		data []byte
		want string
	}{
		{"a", nil, "A12UEL5L"},
		{"abcdef", []byte{0x00, 0x44, 0x32, 0x14, 0xc7, 0x42, 0x54, 0xb6, 0x35, 0xcf, 0x84, 0x65, 0x3a, 0x56, 0xd7, 0xc6, 0x75, 0xbe, 0x77, 0xdf},
			"ABCDEF1QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7LMQQQXW"},
	}
	for _, c := range cases {
		t.Run(c.hrp, func(t *testing.T) {
			if got := bech32(c.hrp, c.data); got != c.want {
				t.Errorf("bech32(%q) = %s, want %s", c.hrp, got, c.want)
			}
		})
	}
}

// TestSeededIdentities: a seeded party's identity is a function of the
// seed and the party; without a seed every one is new.
func TestSeededIdentities(t *testing.T) {
	recipient := func(seed *uint64, label string) string {
		t.Helper()
		id, err := identity(seed, label)
		if err != nil {
			t.Fatal(err)
		}
		return id.Recipient().String()
	}
	if a, b := recipient(seeded(1), "identity/h1"), recipient(seeded(1), "identity/h1"); a != b {
		t.Errorf("one seed and party, two identities: %s, %s", a, b)
	}
	for name, other := range map[string]string{
		"another party": recipient(seeded(1), "identity/h2"),
		"another seed":  recipient(seeded(2), "identity/h1"),
		"no seed":       recipient(nil, "identity/h1"),
	} {
		if other == recipient(seeded(1), "identity/h1") {
			t.Errorf("%s, the same identity %s", name, other)
		}
	}
	if recipient(nil, "identity/h1") == recipient(nil, "identity/h1") {
		t.Error("two unseeded identities are the same")
	}
}
