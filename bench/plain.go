package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
)

// measurePlainAggregate times what the aggregator does with a plaintext
// upload (aggregator/round.go): decode its little-endian float64s, check
// each is finite, add them to the sum. Parameters per second, the
// plaintext twin of [HEPreset.Aggregate].
func measurePlainAggregate(ctx context.Context, s sizes) (Span, error) {
	n := s.heParams
	payload := make([]byte, 8*n)
	for i, v := range uniform(n, 1) {
		binary.LittleEndian.PutUint64(payload[8*i:], math.Float64bits(v))
	}
	sum := make([]float64, n)
	fast, slow, err := repeat(ctx, s.reps*4, func() error {
		for i := range sum {
			v := math.Float64frombits(binary.LittleEndian.Uint64(payload[8*i:]))
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return errors.New("non-finite value")
			}
		}
		for i := range sum {
			sum[i] += math.Float64frombits(binary.LittleEndian.Uint64(payload[8*i:]))
		}
		return nil
	})
	return rate(float64(n), fast, slow), err
}
