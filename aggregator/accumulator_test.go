package aggregator

import (
	"math"
	"testing"

	"github.com/fedcrypt/fedcrypt/protocol"
)

func floats(v ...float64) []byte {
	b := make([]byte, protocol.PlainUpdateSize(len(v)))
	protocol.EncodePlainUpdate(b, v)
	return b
}

func TestPlaintextAccumulatorRefusesWithoutChange(t *testing.T) {
	acc := &accumulator{plain: make([]float64, 3)}
	if err := acc.add(floats(1, 2, 3)); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]byte{floats(1, math.NaN(), 1), floats(1, 1, math.Inf(-1)), floats(1, 1), floats(1, 1, 1, 1)} {
		if err := acc.add(bad); err == nil {
			t.Fatal("malformed update accepted")
		}
	}
	if err := acc.add(floats(0.5, 0.5, 0.5)); err != nil {
		t.Fatal(err)
	}
	for i, want := range []float64{1.5, 2.5, 3.5} {
		if acc.plain[i] != want {
			t.Fatalf("sum[%d] = %v, want %v: a refused update changed the sum", i, acc.plain[i], want)
		}
	}
}
