package protocol

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

// plainUpdate is the plaintext payload of v.
func plainUpdate(v ...float64) []byte {
	b := make([]byte, PlainUpdateSize(len(v)))
	EncodePlainUpdate(b, v)
	return b
}

func TestPlainUpdateRefuses(t *testing.T) {
	cases := []struct {
		name    string
		payload []byte
		n       int
		reason  string
	}{
		{"NaN", plainUpdate(1, math.NaN(), 1), 3, "value 1 is not finite"},
		{"infinity", plainUpdate(1, 1, math.Inf(-1)), 3, "value 2 is not finite"},
		{"fewer values", plainUpdate(1, 1), 3, "2 values, want 3"},
		{"more values", plainUpdate(1, 1, 1, 1), 3, "4 values, want 3"},
		{"trailing byte", append(plainUpdate(1, 1, 1), 0), 3, "trailing"},
		{"a count beyond the bytes", plainUpdate(1, 1, 1)[:8], 1 << 20, "cannot fit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := DecodePlainUpdate(make([]float64, c.n), c.payload)
			if err == nil || !strings.Contains(err.Error(), c.reason) || !strings.HasPrefix(err.Error(), "plaintext update: ") {
				t.Fatalf("got %v, want an error naming %q", err, c.reason)
			}
		})
	}
}

// decodePlainUpdate reads a plaintext payload of as many values as its
// length allows.
func decodePlainUpdate(payload []byte) ([]float64, error) {
	v := make([]float64, max(0, (len(payload)-8)/8))
	return v, DecodePlainUpdate(v, payload)
}

func FuzzDecodePlainUpdate(f *testing.F) {
	for _, s := range [][]byte{plainUpdate(), plainUpdate(1.5, -2, 0), plainUpdate(math.NaN()), {0, 0, 0}} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		v, err := decodePlainUpdate(payload)
		if err != nil {
			return
		}
		// The encoding is canonical: accepted values encode to the very
		// bytes they were read from.
		if again := plainUpdate(v...); !bytes.Equal(again, payload) {
			t.Fatal("accepted update re-encodes differently")
		}
	})
}
