package compress

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Scheme names ([Config.Scheme]).
const (
	None  = "none"  // the update as it is
	RandK = "randk" // k random coordinates
	SRHT  = "srht"  // k rows of a randomized Hadamard transform
)

// Config is a compression scheme: the map and the fraction of coordinates uploaded, and whether
// contributors keep an error-feedback residual. Its text form is what [Parse] reads.
type Config struct {
	Scheme   string  `json:"scheme"`
	Fraction float64 `json:"fraction,omitempty"` // k/d, in (0, 1]; 0 for None
	Feedback bool    `json:"error_feedback,omitempty"`
}

// Parse reads a scheme: "none" (or ""), or SCHEME:FRACTION[:ef] with SCHEME randk or srht,
// FRACTION in (0, 1] and ":ef" for error feedback ("randk:0.1", "srht:0.05:ef").
func Parse(s string) (Config, error) {
	if s == "" || s == None {
		return Config{Scheme: None}, nil
	}
	parts := strings.Split(s, ":")
	c := Config{Scheme: parts[0]}
	if c.Scheme == None {
		return Config{}, fmt.Errorf("compress %q: scheme %s takes no fraction and no option", s, None)
	}
	if c.Scheme != RandK && c.Scheme != SRHT {
		return Config{}, fmt.Errorf("compress %q: scheme %q: want %s, %s or %s", s, parts[0], None, RandK, SRHT)
	}
	if len(parts) < 2 || len(parts) > 3 {
		return Config{}, fmt.Errorf("compress %q: want %s:FRACTION[:ef]", s, c.Scheme)
	}
	f, err := strconv.ParseFloat(parts[1], 64)
	if err != nil {
		return Config{}, fmt.Errorf("compress %q: fraction %q is not a number", s, parts[1])
	}
	c.Fraction = f
	if len(parts) == 3 {
		if parts[2] != "ef" {
			return Config{}, fmt.Errorf("compress %q: option %q: the only option is ef (error feedback)", s, parts[2])
		}
		c.Feedback = true
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("compress %q: %w", s, err)
	}
	return c, nil
}

// String returns the text form of c, which [Parse] reads back to c.
func (c Config) String() string {
	if c.Scheme == None || c.Scheme == "" {
		return None
	}
	s := c.Scheme + ":" + strconv.FormatFloat(c.Fraction, 'g', -1, 64)
	if c.Feedback {
		s += ":ef"
	}
	return s
}

// Validate reports the first setting out of range.
func (c Config) Validate() error {
	switch c.Scheme {
	case None, "":
		if c.Fraction != 0 || c.Feedback {
			return fmt.Errorf("scheme %s takes no fraction and no error feedback", None)
		}
		return nil
	case RandK, SRHT:
	default:
		return fmt.Errorf("scheme %q: want %s, %s or %s", c.Scheme, None, RandK, SRHT)
	}
	if !(c.Fraction > 0 && c.Fraction <= 1) {
		return fmt.Errorf("fraction %v: must be in (0, 1]", c.Fraction)
	}
	return nil
}

// seedDomain separates the seeds of this package from any other use of the federation's hash.
const seedDomain = "fedcrypt/compress/round-seed/v1\x00"

// RoundSeed returns the seed of round's compression map in the federation whose config hash is
// federation:
//
//	seed = SHA-256("fedcrypt/compress/round-seed/v1" ‖ 0x00 ‖ federation ‖ round as 8 bytes, big-endian)
//
// Every contributor derives it from the round announcement alone, so all compress with the same
// map, and a new round has a new map. It is public, as the map is.
func RoundSeed(federation []byte, round uint64) [32]byte {
	h := sha256.New()
	h.Write([]byte(seedDomain))
	h.Write(federation)
	var r [8]byte
	binary.BigEndian.PutUint64(r[:], round)
	h.Write(r[:])
	var seed [32]byte
	h.Sum(seed[:0])
	return seed
}

// Plan is one round's compression map Φ for updates of Dim coordinates. It is immutable and safe
// for concurrent use.
type Plan struct {
	cfg  Config
	dim  int
	k    int
	idx  []int     // randk: the kept coordinates; srht: the kept rows of H D; ascending
	sign []float64 // srht: D's diagonal, ±1, Dim long
}

// Size returns k, the length of an update of dim coordinates once
// compressed with c: ⌈Fraction·dim⌉, at least 1 and at most dim; dim
// without compression. It needs no map: the size is public and fixed.
func (c Config) Size(dim int) int {
	if c.Scheme == "" || c.Scheme == None {
		return dim
	}
	return min(dim, max(1, int(math.Ceil(c.Fraction*float64(dim)))))
}

// NewPlan returns the map of cfg for updates of dim coordinates, drawn from seed ([RoundSeed]).
// The same (cfg, dim, seed) give the same map on every machine: the randomness is ChaCha8
// (C2SP chacha8rand) keyed by seed, and the sampling is this package's.
func NewPlan(cfg Config, dim int, seed [32]byte) (*Plan, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("compress: %w", err)
	}
	if dim < 1 {
		return nil, fmt.Errorf("compress: update of %d coordinates: must be at least 1", dim)
	}
	if cfg.Scheme == "" {
		cfg.Scheme = None
	}
	p := &Plan{cfg: cfg, dim: dim, k: cfg.Size(dim)}
	if cfg.Scheme == None {
		return p, nil
	}
	r := rand.NewChaCha8(seed)
	switch cfg.Scheme {
	case RandK:
		p.idx = sample(r, dim, p.k)
	case SRHT:
		p.sign = make([]float64, dim)
		for i := 0; i < dim; i += 64 {
			bits := r.Uint64()
			for j := i; j < min(i+64, dim); j++ {
				p.sign[j] = 1 - 2*float64(bits&1)
				bits >>= 1
			}
		}
		p.idx = sample(r, dim, p.k)
	}
	return p, nil
}

// Config returns the plan's scheme.
func (p *Plan) Config() Config { return p.cfg }

// Dim returns the length of the updates the plan compresses.
func (p *Plan) Dim() int { return p.dim }

// Size returns k, the length of a compressed update: what is encrypted and uploaded.
func (p *Plan) Size() int { return p.k }

// UnbiasedScale returns d/k (1 for none): over the seed,
// E[UnbiasedScale·Expand(Compress(u))] = u.
func (p *Plan) UnbiasedScale() float64 { return float64(p.dim) / float64(p.k) }

// Compress writes Φu to dst (Size long); u is Dim long. It is linear in u: the sum of two
// compressed updates is the compressed sum (exactly for randk, to rounding for srht).
func (p *Plan) Compress(dst, u []float64) {
	if len(u) != p.dim || len(dst) != p.k {
		panic(fmt.Sprintf("compress: Compress of %d coordinates into %d; the plan maps %d to %d", len(u), len(dst), p.dim, p.k))
	}
	switch p.cfg.Scheme {
	case None:
		copy(dst, u)
	case RandK:
		for i, j := range p.idx {
			dst[i] = u[j]
		}
	case SRHT:
		t := make([]float64, p.dim)
		for i, x := range u {
			t[i] = p.sign[i] * x
		}
		blockHadamard(t)
		for i, j := range p.idx {
			dst[i] = t[j]
		}
	}
}

// Expand writes Φᵀy to dst (Dim long); y is Size long, a compressed update or a sum of them.
// Expand(Compress(u)) is the orthogonal projection of u onto the plan's k directions.
func (p *Plan) Expand(dst, y []float64) {
	if len(y) != p.k || len(dst) != p.dim {
		panic(fmt.Sprintf("compress: Expand of %d values into %d coordinates; the plan maps %d to %d", len(y), len(dst), p.dim, p.k))
	}
	switch p.cfg.Scheme {
	case None:
		copy(dst, y)
	case RandK:
		clear(dst)
		for i, j := range p.idx {
			dst[j] = y[i]
		}
	case SRHT:
		t := make([]float64, p.dim)
		for i, j := range p.idx {
			t[j] = y[i]
		}
		blockHadamard(t) // H is symmetric: Hᵀ = H
		for i, x := range t {
			dst[i] = p.sign[i] * x
		}
	}
}
