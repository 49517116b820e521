package protocol

import (
	"fmt"
	"math"
)

// The payload of an upload in a run without encryption is the update
// itself: its float64s as the codec writes a list of them, their count
// and then each value's 8 big-endian bytes. In a run with encryption the
// payload is package he's encrypted vector instead.

// PlainUpdateSize is the size of the plaintext payload of n values.
func PlainUpdateSize(n int) int { return 8 + 8*n }

// EncodePlainUpdate writes v into dst as the plaintext payload of an
// upload. dst holds exactly [PlainUpdateSize](len(v)) bytes: the room an
// [UploadFrame] keeps for the payload.
func EncodePlainUpdate(dst []byte, v []float64) {
	if len(dst) != PlainUpdateSize(len(v)) {
		panic(fmt.Sprintf("protocol: %d bytes of room for a plaintext update of %d values", len(dst), len(v)))
	}
	w := writer{b: dst[:0]}
	w.f64s(v)
}

// DecodePlainUpdate reads a plaintext payload of len(dst) values into dst.
// It refuses a payload of another length or holding a non-finite value;
// dst is then partly written.
func DecodePlainUpdate(dst []float64, payload []byte) error {
	r := reader{b: payload}
	n := r.count("values", 8)
	if r.err == nil && n != len(dst) {
		r.fail(fmt.Errorf("%d values, want %d", n, len(dst)))
	}
	for i := 0; i < n && r.err == nil; i++ {
		dst[i] = r.f64("value")
		if math.IsNaN(dst[i]) || math.IsInf(dst[i], 0) {
			r.fail(fmt.Errorf("value %d is not finite", i))
		}
	}
	return r.done("plaintext update")
}
