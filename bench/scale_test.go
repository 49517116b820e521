package bench

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestScale simulates large federations (opt-in: FEDCRYPT_SCALE=1; it takes
// minutes). FEDCRYPT_SCALE_HOSPITALS and FEDCRYPT_SCALE_MODELS override the
// sizes (comma-separated; models separated by ";"); FEDCRYPT_SCALE_HEAP=FILE
// keeps a heap profile taken near the peak. Each case prints one JSON line.
//
//	FEDCRYPT_SCALE=1 go test ./bench -run TestScale -v -timeout 2h
func TestScale(t *testing.T) {
	if os.Getenv("FEDCRYPT_SCALE") == "" || testing.Short() {
		t.Skip("set FEDCRYPT_SCALE=1 to simulate 100 and 1,000 hospitals (minutes)")
	}
	hospitals := []int{100, 1000}
	if v := os.Getenv("FEDCRYPT_SCALE_HOSPITALS"); v != "" {
		hospitals = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(f)
			if err != nil {
				t.Fatalf("FEDCRYPT_SCALE_HOSPITALS: %v", err)
			}
			hospitals = append(hospitals, n)
		}
	}
	models := []string{"logreg", "mlp:1000"}
	if v := os.Getenv("FEDCRYPT_SCALE_MODELS"); v != "" {
		models = strings.Split(v, ";")
	}
	for _, m := range models {
		for _, n := range hospitals {
			t.Run("model="+m+"/hospitals="+strconv.Itoa(n), func(t *testing.T) {
				r, err := Scale(context.Background(), ScaleConfig{Hospitals: n, Committee: 16, Model: m, RowsPerHospital: 64, Rounds: 2,
					HeapProfile: os.Getenv("FEDCRYPT_SCALE_HEAP")})
				if err != nil {
					t.Fatal(err)
				}
				if r.Rounds != 2 || len(r.RoundSeconds) != 2 {
					t.Errorf("%d rounds completed, want 2", r.Rounds)
				}
				b, _ := json.Marshal(r)
				t.Logf("%s", b)
			})
		}
	}
}

func TestScaleRejectsLargeCommittee(t *testing.T) {
	if _, err := Scale(context.Background(), ScaleConfig{Hospitals: 100, Committee: 17, Model: "logreg", RowsPerHospital: 64, Rounds: 1}); err == nil || !strings.Contains(err.Error(), "committee 17") {
		t.Errorf("committee of 17: %v", err)
	}
}
