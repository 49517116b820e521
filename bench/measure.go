package bench

import (
	"context"
	"math"
	"time"
)

// Span is the fastest and slowest of repeated measurements of one figure, in
// the figure's unit. On a shared machine other load only ever adds time, so
// the best figure is the one least disturbed by it.
type Span struct {
	Best  float64 `json:"best"`
	Worst float64 `json:"worst"`
}

// repeat runs f reps times and returns the shortest and the longest
// duration. It stops early, with what it has, when ctx is done.
func repeat(ctx context.Context, reps int, f func() error) (fast, slow time.Duration, err error) {
	fast, slow = time.Duration(math.MaxInt64), 0
	for i := 0; i < reps; i++ {
		if err := ctx.Err(); err != nil {
			return 0, 0, err
		}
		t0 := time.Now()
		if err := f(); err != nil {
			return 0, 0, err
		}
		d := max(time.Since(t0), time.Nanosecond)
		fast, slow = min(fast, d), max(slow, d)
	}
	return fast, slow, nil
}

// rate turns the durations of work units of work into a Span of units per
// second (the best is the rate of the fastest run).
func rate(work float64, fast, slow time.Duration) Span {
	return Span{Best: work / fast.Seconds(), Worst: work / slow.Seconds()}
}

// cost turns the durations of work units into a Span of unit milliseconds
// (the best is the smallest).
func cost(work float64, fast, slow time.Duration) Span {
	return Span{Best: fast.Seconds() * 1e3 / work, Worst: slow.Seconds() * 1e3 / work}
}
