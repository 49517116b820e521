package he

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestInsecurePresetsRefusedOutsideTests builds and runs testdata/insecure,
// an ordinary program that imports he, so that the refusal is exercised
// outside a test binary: the real presets work there, the insecure ones and
// any InsecureTestOnly literal are refused with one line.
func TestInsecurePresetsRefusedOutsideTests(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the program with")
	}
	cmd := exec.Command(goBin, "run", "./testdata/insecure")
	cmd.Env = os.Environ()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go run: %v\n%s", err, out)
	}
	want := map[string]string{
		"Preset compact":               "ok",
		"Preset precise":               "ok",
		"Preset insecure-test-compact": "he: CKKS preset insecure-test-compact is for tests only; use compact or precise",
		"Preset insecure-test-precise": "he: CKKS preset insecure-test-precise is for tests only; use compact or precise",
		"NewParams InsecureTestOnly":   "he: CKKS preset preset(99) is for tests only; use compact or precise",
		"Validate InsecureTestOnly":    "he: CKKS preset preset(99) is for tests only; use compact or precise",
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		what, res, _ := strings.Cut(line, ": ")
		got[what] = res
	}
	for what, w := range want {
		if got[what] != w {
			t.Errorf("%s: got %q, want %q", what, got[what], w)
		}
	}
	// In this test binary the same presets are available.
	if _, err := Preset(PresetInsecureTestCompact); err != nil {
		t.Errorf("in a test binary: %v", err)
	}
}
