package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/sim"
)

// roundCase is one measured federation size.
type roundCase struct {
	hospitals int
	model     string
}

// roundFeatures is the width of the synthetic data of the round
// measurements (wdbc's).
const roundFeatures = 30

// Round is one federation measured twice with the same seed and data:
// CKKS on and off (DP-SGD on in both).
type Round struct {
	Hospitals int    `json:"hospitals"`
	Model     string `json:"model"`
	Params    int    `json:"params"`
	// Seconds per completed round (the aggregator's round duration: local
	// training, encryption, upload, aggregation, decryption, server step),
	// best and worst over the rounds.
	Encrypted Span `json:"encrypted_seconds"`
	Plaintext Span `json:"plaintext_seconds"`
	// Bytes each contributor uploaded per round.
	EncryptedBytesPerHospital float64 `json:"encrypted_bytes_per_hospital"`
	PlaintextBytesPerHospital float64 `json:"plaintext_bytes_per_hospital"`
	// Ratio is the best encrypted round over the best plaintext round.
	Ratio           float64 `json:"ratio"`
	RowsPerHospital int     `json:"rows_per_hospital"`
	LocalSteps      int     `json:"local_steps"`
	Rounds          int     `json:"rounds"`
}

// roundConfig is the federation of the round measurements: DP-SGD with an
// expected batch of 64 for one local epoch, the precise preset, a seeded
// stream so both runs draw the same data split, model and sampling.
func roundConfig(hospitals int, spec string, s sizes, encrypted bool) sim.Config {
	cfg := sim.Defaults()
	seed := uint64(20261129)
	cfg.Seed = &seed
	cfg.Hospitals = hospitals
	cfg.Threshold = 2
	cfg.Rounds = s.roundCount
	cfg.Model = spec
	cfg.SampleRate = benchBatch / float64(s.roundRows)
	cfg.LocalSteps = s.roundRows / benchBatch
	cfg.HE = encrypted
	cfg.Epsilon = 8
	cfg.Timeout = 30 * time.Minute
	if hospitals > 16 {
		cfg.Committee = 16
	}
	return cfg
}

// roundData is synthetic data that gives every hospital about rows rows
// after the test split.
func roundData(hospitals, rows int) *data.Dataset {
	total := int(float64(hospitals*rows)/(1-sim.Defaults().TestFraction)) + 1
	return data.Synthetic(total, roundFeatures, 2, 7)
}

func measureRound(ctx context.Context, hospitals int, spec string, s sizes) (Round, error) {
	ds := roundData(hospitals, s.roundRows)
	r := Round{Hospitals: hospitals, Model: spec, RowsPerHospital: s.roundRows, LocalSteps: s.roundRows / benchBatch, Rounds: s.roundCount}
	// One untimed encrypted round first. The first run of a size in a
	// process grows the heap (about 2 GB for 10 hospitals × 1M parameters
	// in one process), and the page faults of that growth made its
	// encrypted rounds 0.5–1 s slower than the same rounds run again: a
	// cost a long-running party pays once, not per round.
	warm := roundConfig(hospitals, spec, s, true)
	warm.Rounds = 1
	if _, err := sim.Run(ctx, ds, warm); err != nil {
		return r, fmt.Errorf("%d hospitals, %s, warm-up: %w", hospitals, spec, err)
	}
	for _, enc := range []bool{true, false} {
		res, err := sim.Run(ctx, ds, roundConfig(hospitals, spec, s, enc))
		if err != nil {
			return r, fmt.Errorf("%d hospitals, %s, encrypted %v: %w", hospitals, spec, enc, err)
		}
		var span Span
		var bytes, contributors float64
		for _, h := range res.History {
			if !h.Completed {
				continue
			}
			span = widen(span, 1/h.Seconds) // rounds per second: best is the fastest
			bytes += float64(h.BytesUp)
			contributors += float64(len(h.Contributors))
		}
		if contributors == 0 {
			return r, fmt.Errorf("%d hospitals, %s: no round completed (%s)", hospitals, spec, res.Ended)
		}
		secs := Span{Best: 1 / span.Best, Worst: 1 / span.Worst}
		r.Params = res.Params
		if enc {
			r.Encrypted, r.EncryptedBytesPerHospital = secs, bytes/contributors
		} else {
			r.Plaintext, r.PlaintextBytesPerHospital = secs, bytes/contributors
		}
	}
	r.Ratio = r.Encrypted.Best / r.Plaintext.Best
	return r, nil
}
