package federation

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/fedcrypt/fedcrypt/vault"
)

// nextVersion returns prev's members less remove, plus a member added
// with a fresh key, with its lineage.
func nextVersion(t *testing.T, prev *Config, add string, remove ...string) *Config {
	t.Helper()
	next := *prev
	next.Members = nil
	for _, m := range prev.Members {
		if !slices.Contains(remove, m.ID) {
			next.Members = append(next.Members, m)
		}
	}
	if add != "" {
		k := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{77}, 32))
		next.Members = append(next.Members, Member{Party: Party{ID: add, Recipient: prev.Members[0].Recipient,
			SigningKey: vault.FormatSigningKey(k.Public().(ed25519.PublicKey))}, Contributor: true, KeyHolder: true, Rows: 5})
	}
	next.Lineage = NextLineage(prev, &next)
	if err := next.Validate(); err != nil {
		t.Fatalf("next version invalid: %v", err)
	}
	return &next
}

func TestLineageNextVersion(t *testing.T) {
	v1, _ := testConfig(t, 3, 2)
	v2 := nextVersion(t, v1, "h9", "h1")
	want := Lineage{Revision: 2, Previous: v1.Hash().String(), Added: []string{"h9"}, Removed: []string{"h1"}}
	if l := *v2.Lineage; l.Revision != want.Revision || l.Previous != want.Previous || !slices.Equal(l.Added, want.Added) || !slices.Equal(l.Removed, want.Removed) {
		t.Fatalf("lineage %+v, want %+v", l, want)
	}
	if err := CheckSuccessor(v1, v2); err != nil {
		t.Fatalf("v2 does not follow v1: %v", err)
	}
	// A removed member stays removed in later versions.
	v3 := nextVersion(t, v2, "", "h2")
	if got := v3.Lineage.Removed; !slices.Equal(got, []string{"h1", "h2"}) || v3.Lineage.Revision != 3 {
		t.Fatalf("v3 lineage %+v, want revision 3 removing h1 and h2", v3.Lineage)
	}
	if err := CheckSuccessor(v2, v3); err != nil {
		t.Fatalf("v3 does not follow v2: %v", err)
	}
	if err := CheckSuccessor(v1, v3); err == nil {
		t.Fatal("v3 accepted as the version after v1")
	}
	if got := Changes(v1, v2); !slices.Contains(got, `adds ["h9"]`) || !slices.Contains(got, `removes "h1"`) {
		t.Errorf("changes %q: want h9 added and h1 removed named", got)
	}
}

// A config without members or lineage changes hashes as before: the new
// fields are omitted when empty.
func TestLineageOmittedWhenEmpty(t *testing.T) {
	c, _ := testConfig(t, 3, 2)
	for _, field := range []string{"lineage", "tls_key_sha256"} {
		if bytes.Contains(c.Canonical(), []byte(field)) {
			t.Errorf("canonical encoding of a config without %s mentions it", field)
		}
	}
}

func TestCheckSuccessorRefuses(t *testing.T) {
	v1, _ := testConfig(t, 3, 2)
	cases := map[string]struct {
		change func(c *Config)
		want   string
	}{
		"no lineage":       {func(c *Config) { c.Lineage = nil }, "no lineage"},
		"another previous": {func(c *Config) { c.Lineage.Previous = strings.Repeat("ab", 32) }, "follows config abababab"},
		"skipped revision": {func(c *Config) { c.Lineage.Revision = 3 }, "revision 3"},
		"removal hidden":   {func(c *Config) { c.Lineage.Removed = nil }, "removes []"},
		"addition hidden":  {func(c *Config) { c.Lineage.Added = nil }, "adds []"},
		"renamed":          {func(c *Config) { c.Name = "other" }, "start every budget afresh"},
		"raised cap":       {func(c *Config) { c.DP.Epsilon = 2 }, "one budget across versions"},
		"new privacy unit": {func(c *Config) { c.DP.PrivacyUnit = "patient" }, "one budget across versions"},
		"new keys, same id": {func(c *Config) {
			k := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{99}, 32))
			c.Members[0].SigningKey = vault.FormatSigningKey(k.Public().(ed25519.PublicKey))
		}, `member "h2" has other keys`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			v2 := nextVersion(t, v1, "h9", "h1")
			tc.change(v2)
			err := CheckSuccessor(v1, v2)
			if !errors.Is(err, ErrNotSuccessor) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrNotSuccessor naming %q", err, tc.want)
			}
		})
	}
}

func TestValidateRejectsBadLineage(t *testing.T) {
	v1, _ := testConfig(t, 3, 2)
	cases := map[string]func(c *Config){
		"revision 1":          func(c *Config) { c.Lineage.Revision = 1 },
		"previous not a hash": func(c *Config) { c.Lineage.Previous = "v1" },
		"removed still there": func(c *Config) { c.Lineage.Removed = []string{"h2"} },
		"added not a member":  func(c *Config) { c.Lineage.Added = []string{"h1"} },
		"removed unsorted":    func(c *Config) { c.Lineage.Removed = []string{"z", "h1"} },
		"pin not hex":         func(c *Config) { c.Members[0].TLSKey = "sha256:abc" },
		"pin upper case":      func(c *Config) { c.Members[0].TLSKey = strings.Repeat("AB", 32) },
	}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			v2 := nextVersion(t, v1, "h9", "h1")
			change(v2)
			if err := v2.Validate(); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
