package bench

import (
	"context"

	"github.com/fedcrypt/fedcrypt/protocol"
)

// measurePlainAggregate times what the aggregator does with a plaintext
// upload (aggregator/round.go): decode its payload
// (protocol.DecodePlainUpdate, which checks each value is finite) and add
// it to the sum. Parameters per second, the plaintext twin of
// [HEPreset.Aggregate].
func measurePlainAggregate(ctx context.Context, s sizes) (Span, error) {
	n := s.heParams
	payload := make([]byte, protocol.PlainUpdateSize(n))
	protocol.EncodePlainUpdate(payload, uniform(n, 1))
	sum, update := make([]float64, n), make([]float64, n)
	fast, slow, err := repeat(ctx, s.reps*4, func() error {
		if err := protocol.DecodePlainUpdate(update, payload); err != nil {
			return err
		}
		for i, v := range update {
			sum[i] += v
		}
		return nil
	})
	return rate(float64(n), fast, slow), err
}
