package version

import (
	"strings"
	"testing"
	"unicode"
)

// The version command prints Software, and deploy's mkimage reads the
// version back as the second of exactly two words.
func TestVersionIsOneWord(t *testing.T) {
	if Version == "" || strings.ContainsFunc(Version, unicode.IsSpace) {
		t.Fatalf("Version %q: want one word", Version)
	}
	if f := strings.Fields(Software()); len(f) != 2 || f[0] != "fedcrypt" || f[1] != Version {
		t.Errorf("Software() = %q, want \"fedcrypt %s\"", Software(), Version)
	}
}
