package dp

import (
	"errors"
	"fmt"
	"math"
	"sync"
)

// calibrateRelTol is the relative width of the final bracket of the noise
// multiplier search.
const calibrateRelTol = 1e-6

// CalibrateNoise returns the smallest noise multiplier σ, to a relative
// 1e-6, for which steps steps at sampling rate sampleRate cost at most
// targetEpsilon at delta under the accountant cfg, after the events already
// spent (which may be none). The σ returned always satisfies the target; it
// exceeds the exact smallest σ by at most the tolerance.
//
// Results are remembered for the process: hospitals of one federation
// calibrate with the same settings, and a PLD calibration takes seconds.
func CalibrateNoise(cfg AccountantConfig, targetEpsilon, delta, sampleRate float64, steps int, spent ...Event) (float64, error) {
	if err := cfg.Validate(); err != nil {
		return 0, err
	}
	cfg = cfg.withDefaults()
	key := fmt.Sprintf("%+v|%v|%v|%v|%d|%+v", cfg, targetEpsilon, delta, sampleRate, steps, spent)
	calibrated.Lock()
	c, ok := calibrated.m[key]
	if !ok {
		if calibrated.m == nil || len(calibrated.m) >= calibrateMemoMax {
			calibrated.m = map[string]*calibration{}
		}
		c = &calibration{}
		calibrated.m[key] = c
	}
	calibrated.Unlock()
	c.once.Do(func() { c.sigma, c.err = calibrate(cfg, targetEpsilon, delta, sampleRate, steps, spent) })
	return c.sigma, c.err
}

// calibrateMemoMax bounds the remembered calibrations.
const calibrateMemoMax = 256

// calibration is one remembered CalibrateNoise result; concurrent callers
// with the same settings wait for one computation.
type calibration struct {
	once  sync.Once
	sigma float64
	err   error
}

var calibrated struct {
	sync.Mutex
	m map[string]*calibration
}

func calibrate(cfg AccountantConfig, targetEpsilon, delta, sampleRate float64, steps int, spent []Event) (float64, error) {
	if !(targetEpsilon > 0) || math.IsInf(targetEpsilon, 0) {
		return 0, fmt.Errorf("dp: target epsilon %v: must be a finite number > 0", targetEpsilon)
	}
	if !(delta > 0 && delta < 1) {
		return 0, fmt.Errorf("dp: delta %v: must be in (0, 1)", delta)
	}
	if err := (Event{SampleRate: sampleRate, NoiseMultiplier: 1, Steps: steps}).Validate(); err != nil {
		return 0, err
	}
	var base []Event
	for _, e := range spent {
		if err := e.Validate(); err != nil {
			return 0, err
		}
		base = appendEvent(base, e)
	}
	if eps, err := epsilonOf(cfg, base, delta); err != nil {
		return 0, err
	} else if eps >= targetEpsilon {
		return 0, fmt.Errorf("dp: target epsilon %v: already spent %v: %w", targetEpsilon, eps, ErrBudgetExhausted)
	}
	// Settings too extreme for the PLD grid have tiny σ and a huge ε: they
	// count as not meeting the target.
	fits := func(sigma float64) (bool, error) {
		eps, err := epsilonOf(cfg, appendEvent(base, Event{sampleRate, sigma, steps}), delta)
		if errors.Is(err, errPLDTooLarge) {
			return false, nil
		}
		return eps <= targetEpsilon, err
	}
	const maxSigma = 1e6
	lo, hi := 0.0, 1.0
	for {
		ok, err := fits(hi)
		if err != nil {
			return 0, err
		}
		if ok {
			break
		}
		lo, hi = hi, 2*hi
		if hi > maxSigma {
			return 0, fmt.Errorf("dp: target epsilon %v at delta %v: not reached with noise multiplier %v", targetEpsilon, delta, maxSigma)
		}
	}
	if lo == 0 {
		lo = hi / 2
		for {
			ok, err := fits(lo)
			if err != nil {
				return 0, err
			}
			if !ok {
				break
			}
			hi, lo = lo, lo/2
			if lo < 1e-6 {
				return hi, nil
			}
		}
	}
	// Invariant: fits(hi) and not fits(lo).
	for hi-lo > calibrateRelTol*hi {
		mid := (lo + hi) / 2
		ok, err := fits(mid)
		if err != nil {
			return 0, err
		}
		if ok {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi, nil
}
