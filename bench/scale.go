package bench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/fedcrypt/fedcrypt/sim"
)

// ScaleConfig is one large simulated federation: CKKS on (precise preset),
// DP-SGD on, a decryption committee of at most 16 key holders.
type ScaleConfig struct {
	Hospitals       int
	Committee       int    // key holders, at most 16
	Model           string // e.g. "logreg", "mlp:1000"
	RowsPerHospital int
	Rounds          int
	// HeapProfile, if set, receives a heap profile (pprof) each time the
	// live heap grows by a quarter past the last one written: the last is
	// taken near the peak, to see what holds the memory.
	HeapProfile string
}

// ScaleResult is what a large simulation cost.
type ScaleResult struct {
	Hospitals int     `json:"hospitals"`
	Committee int     `json:"committee"`
	Model     string  `json:"model"`
	Params    int     `json:"params"`
	Rounds    int     `json:"rounds"`
	Seconds   float64 `json:"seconds"` // the whole run: setup and every round
	// CPUSeconds is the process's CPU time (user and system) over the run:
	// on a shared machine the wall-clock figures grow with other load, the
	// CPU time much less.
	CPUSeconds float64 `json:"cpu_seconds"`
	// RoundSeconds are the completed rounds' durations.
	RoundSeconds []float64 `json:"round_seconds"`
	// PeakHeapBytes is the largest live heap sampled during the run (every
	// 20 ms) minus the heap before it: every hospital's data, model and key
	// material, the messages in flight and the aggregator's sum.
	PeakHeapBytes uint64 `json:"peak_heap_bytes"`
	// PeakLiveHeapBytes is the largest heap marked live by a garbage
	// collection during the run (runtime/metrics /gc/heap/live:bytes,
	// sampled with the peak heap) minus the live heap before it: what the
	// run holds, without the garbage PeakHeapBytes counts.
	PeakLiveHeapBytes uint64 `json:"peak_live_heap_bytes"`
	BytesUp           int64  `json:"bytes_up_per_round"`
}

// Scale runs one large simulated federation in this process and measures
// its time and peak heap.
func Scale(ctx context.Context, c ScaleConfig) (*ScaleResult, error) {
	if c.Committee < 2 || c.Committee > 16 || c.Committee > c.Hospitals {
		return nil, fmt.Errorf("scale: committee %d: want 2 to 16 key holders, at most the %d hospitals", c.Committee, c.Hospitals)
	}
	ds := roundData(c.Hospitals, c.RowsPerHospital)
	cfg := sim.Defaults()
	seed := uint64(1000)
	cfg.Seed = &seed
	cfg.Hospitals, cfg.Committee, cfg.Threshold = c.Hospitals, c.Committee, 3
	cfg.Model, cfg.Rounds = c.Model, c.Rounds
	cfg.SampleRate = min(1, benchBatch/float64(c.RowsPerHospital))
	cfg.LocalSteps = max(1, c.RowsPerHospital/benchBatch)
	cfg.Epsilon = 8
	cfg.Timeout = 30 * time.Minute

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base, peak, profiled := ms.HeapAlloc, ms.HeapAlloc, ms.HeapAlloc
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	liveBytes := func() uint64 {
		metrics.Read(live)
		if live[0].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return live[0].Value.Uint64()
	}
	liveBase := liveBytes()
	livePeak := liveBase
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				peak, livePeak = max(peak, m.HeapAlloc), max(livePeak, liveBytes())
				if c.HeapProfile != "" && m.HeapAlloc > profiled+profiled/4 {
					profiled = m.HeapAlloc
					writeHeapProfile(c.HeapProfile)
				}
			}
		}
	})
	t0, cpu0 := time.Now(), processCPUSeconds()
	res, err := sim.Run(ctx, ds, cfg)
	cpu := processCPUSeconds() - cpu0
	close(stop)
	wg.Wait()
	if err != nil {
		return nil, fmt.Errorf("scale: %d hospitals: %w", c.Hospitals, err)
	}
	out := &ScaleResult{Hospitals: c.Hospitals, Committee: c.Committee, Model: c.Model, Params: res.Params,
		Rounds: res.Rounds, Seconds: time.Since(t0).Seconds(), CPUSeconds: cpu, PeakHeapBytes: peak - base, PeakLiveHeapBytes: livePeak - liveBase, BytesUp: int64(res.BytesUpPerRound)}
	for _, h := range res.History {
		if h.Completed {
			out.RoundSeconds = append(out.RoundSeconds, h.Seconds)
		}
	}
	return out, nil
}

// writeHeapProfile writes the heap profile to path; a failure only costs
// the profile.
func writeHeapProfile(path string) {
	f, err := os.Create(path)
	if err != nil {
		return
	}
	defer f.Close()
	_ = pprof.Lookup("heap").WriteTo(f, 0)
}
