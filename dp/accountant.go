package dp

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// Accountant kinds.
const (
	KindRDP = "rdp" // Rényi DP (Mironov et al. 2019) with the conversion of Balle et al. 2020
	KindPLD = "pld" // privacy loss distribution with connect-the-dots discretization (Doroshenko et al. 2022)
)

// Defaults recorded in an [AccountantConfig] by [NewAccountant].
const (
	DefaultDiscretization = 1e-4  // PLD grid step of the privacy loss
	DefaultTailMass       = 1e-15 // PLD mass cut from each tail, added to δ
)

// AccountantConfig holds every setting that determines an accountant's ε, so
// that anyone holding it and the events recomputes the same value.
type AccountantConfig struct {
	Kind string `json:"kind"` // KindRDP or KindPLD
	// Orders are the Rényi orders of the RDP accountant (all > 1); empty means
	// OpacusOrders. A finer grid may give a slightly smaller, still valid ε.
	Orders []float64 `json:"orders,omitempty"`
	// Discretization is the PLD grid step of the privacy loss (0 means
	// DefaultDiscretization); TailMass the mass cut from each tail of every
	// distribution and added to δ (0 means DefaultTailMass).
	Discretization float64 `json:"discretization,omitempty"`
	TailMass       float64 `json:"tail_mass,omitempty"`
}

// Validate reports the first setting out of range.
func (c AccountantConfig) Validate() error {
	switch c.Kind {
	case KindRDP:
		if c.Discretization != 0 || c.TailMass != 0 {
			return errors.New("dp: accountant rdp: discretization and tail_mass are PLD settings")
		}
		for _, a := range c.Orders {
			if !(a > 1) || math.IsInf(a, 0) {
				return fmt.Errorf("dp: accountant rdp: order %v: must be a finite number > 1", a)
			}
		}
	case KindPLD:
		if len(c.Orders) != 0 {
			return errors.New("dp: accountant pld: orders are an RDP setting")
		}
		if !(c.Discretization >= 0 && c.Discretization <= 0.1) {
			return fmt.Errorf("dp: accountant pld: discretization %v: must be in (0, 0.1]", c.Discretization)
		}
		if !(c.TailMass >= 0 && c.TailMass <= 1e-8) {
			return fmt.Errorf("dp: accountant pld: tail_mass %v: must be in (0, 1e-8]", c.TailMass)
		}
	default:
		return fmt.Errorf("dp: accountant %q: must be %q or %q", c.Kind, KindRDP, KindPLD)
	}
	return nil
}

// withDefaults returns c with every zero setting replaced by its default.
func (c AccountantConfig) withDefaults() AccountantConfig {
	switch c.Kind {
	case KindRDP:
		if len(c.Orders) == 0 {
			c.Orders = OpacusOrders()
		} else {
			c.Orders = append([]float64(nil), c.Orders...)
		}
	case KindPLD:
		if c.Discretization == 0 {
			c.Discretization = DefaultDiscretization
		}
		if c.TailMass == 0 {
			c.TailMass = DefaultTailMass
		}
	}
	return c
}

// Event is a run of Steps steps of the Poisson-subsampled Gaussian mechanism
// with sampling rate SampleRate and noise multiplier NoiseMultiplier (noise
// standard deviation over the clipping norm).
type Event struct {
	SampleRate      float64 `json:"sample_rate"`
	NoiseMultiplier float64 `json:"noise_multiplier"`
	Steps           int     `json:"steps"`
}

// Validate reports a parameter out of range.
func (e Event) Validate() error {
	if err := checkStep(e.SampleRate, e.NoiseMultiplier); err != nil {
		return err
	}
	if math.IsInf(e.NoiseMultiplier, 0) {
		return fmt.Errorf("dp: noise multiplier %v: must be finite", e.NoiseMultiplier)
	}
	if e.Steps < 1 {
		return fmt.Errorf("dp: steps %d: must be ≥ 1", e.Steps)
	}
	return nil
}

// Accountant tracks the privacy spent by a sequence of events, which may
// differ in sampling rate, noise multiplier and steps (heterogeneous
// composition). Its state is its configuration and its events; it saves and
// restores exactly with MarshalJSON and UnmarshalJSON. It is not safe for
// concurrent use.
type Accountant struct {
	cfg    AccountantConfig
	events []Event
}

// NewAccountant returns an accountant with no events and cfg's defaults
// filled in.
func NewAccountant(cfg AccountantConfig) (*Accountant, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Accountant{cfg: cfg.withDefaults()}, nil
}

// Config returns the accountant's settings, defaults included.
func (a *Accountant) Config() AccountantConfig {
	c := a.cfg
	c.Orders = append([]float64(nil), c.Orders...)
	return c
}

// Events returns a copy of the events composed so far (consecutive events
// with the same sampling rate and noise multiplier are merged).
func (a *Accountant) Events() []Event { return append([]Event(nil), a.events...) }

// Add composes e with the events so far.
func (a *Accountant) Add(e Event) error {
	if err := e.Validate(); err != nil {
		return err
	}
	a.events = appendEvent(a.events, e)
	return nil
}

func appendEvent(events []Event, e Event) []Event {
	if n := len(events); n > 0 && events[n-1].SampleRate == e.SampleRate && events[n-1].NoiseMultiplier == e.NoiseMultiplier {
		out := append([]Event(nil), events...)
		out[n-1].Steps += e.Steps
		return out
	}
	return append(events, e)
}

// Epsilon returns the ε of all events so far at delta (0 with no events).
func (a *Accountant) Epsilon(delta float64) (float64, error) {
	return epsilonOf(a.cfg, a.events, delta)
}

// Epsilon returns the ε at delta of the events composed, for the accountant
// cfg.
func Epsilon(cfg AccountantConfig, delta float64, events ...Event) (float64, error) {
	acc, err := NewAccountant(cfg)
	if err != nil {
		return 0, err
	}
	for _, e := range events {
		if err := acc.Add(e); err != nil {
			return 0, err
		}
	}
	return acc.Epsilon(delta)
}

func epsilonOf(cfg AccountantConfig, events []Event, delta float64) (float64, error) {
	if !(delta > 0 && delta < 1) {
		return 0, fmt.Errorf("dp: delta %v: must be in (0, 1)", delta)
	}
	if len(events) == 0 {
		return 0, nil
	}
	switch cfg.Kind {
	case KindRDP:
		rdp := make([]float64, len(cfg.Orders))
		for k, alpha := range cfg.Orders {
			for _, e := range events {
				rdp[k] += float64(e.Steps) * rdpStep(e.SampleRate, e.NoiseMultiplier, alpha)
			}
			if math.IsNaN(rdp[k]) || math.IsInf(rdp[k], 0) {
				rdp[k] = math.MaxFloat64
			}
		}
		eps, _, err := RDPEpsilon(cfg.Orders, rdp, delta)
		return eps, err
	case KindPLD:
		eps := 0.0
		for _, d := range []direction{removeDir, addDir} {
			p, err := composeEvents(cfg, events, d)
			if err != nil {
				return 0, fmt.Errorf("dp: accountant pld: %w", err)
			}
			eps = math.Max(eps, p.epsilon(delta))
		}
		return eps, nil
	}
	return 0, fmt.Errorf("dp: accountant %q: unknown kind", cfg.Kind)
}

// composeEvents builds the privacy loss distribution of all events in
// direction d.
func composeEvents(cfg AccountantConfig, events []Event, d direction) (*pld, error) {
	var acc *pld
	for _, e := range events {
		one, err := newGaussPLD(e.SampleRate, e.NoiseMultiplier, cfg.Discretization, cfg.TailMass, d)
		if err != nil {
			return nil, err
		}
		p, err := one.selfCompose(e.Steps, cfg.TailMass)
		if err != nil {
			return nil, err
		}
		if acc == nil {
			acc = p
		} else if acc, err = acc.compose(p, cfg.TailMass); err != nil {
			return nil, err
		}
	}
	return acc, nil
}

// accountantState is the serialized form of an Accountant.
type accountantState struct {
	Config AccountantConfig `json:"config"`
	Events []Event          `json:"events"`
}

// MarshalJSON encodes the configuration and the events; the encoding is
// deterministic and floats round-trip exactly.
func (a *Accountant) MarshalJSON() ([]byte, error) {
	ev := a.events
	if ev == nil {
		ev = []Event{}
	}
	return json.Marshal(accountantState{Config: a.cfg, Events: ev})
}

// UnmarshalJSON restores an accountant saved by MarshalJSON, validating
// every setting and event.
func (a *Accountant) UnmarshalJSON(b []byte) error {
	var s accountantState
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("dp: decode accountant state: %w", err)
	}
	acc, err := NewAccountant(s.Config)
	if err != nil {
		return fmt.Errorf("dp: decode accountant state: %w", err)
	}
	for i, e := range s.Events {
		if err := acc.Add(e); err != nil {
			return fmt.Errorf("dp: decode accountant state: event %d: %w", i, err)
		}
	}
	*a = *acc
	return nil
}
