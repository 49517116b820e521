package audit

import (
	"strings"
	"testing"
)

// Axes that count rounds or hospitals are marked at whole numbers only.
func TestWholeTicks(t *testing.T) {
	for _, tc := range []struct {
		lo, hi float64
		want   string
	}{
		{0, 5, "0 1 2 3 4 5"},
		{0, 5.8, "0 1 2 3 4 5"},
		{1, 30, "1 7 13 19 25"},
		{0.2, 0.9, ""},
	} {
		var got []string
		for _, tk := range (wholeTicks{}).Ticks(tc.lo, tc.hi) {
			got = append(got, tk.Label)
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("ticks of [%v, %v]: %q, want %q", tc.lo, tc.hi, got, tc.want)
		}
	}
}
