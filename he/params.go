package he

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"sync"
	"testing"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/he/hefloat"
	"github.com/tuneinsight/lattigo/v5/ring"
)

// PresetID names a parameter set on the wire: every encoded object carries it
// and every decoder checks it.
type PresetID uint8

const (
	// PresetCompact gives the smallest messages: ring degree 2^12, one 61-bit
	// prime, about 15.3 bytes per parameter. See the package documentation
	// for its precision and limits.
	PresetCompact PresetID = 1
	// PresetPrecise gives a precise sum: ring degree 2^12, two 54-bit primes,
	// about 27.3 bytes per parameter.
	PresetPrecise PresetID = 2

	// PresetInsecureTestCompact is a single-prime set on ring degree 2^10 for
	// fast tests. It is NOT secure and must never protect real data.
	PresetInsecureTestCompact PresetID = 253
	// PresetInsecureTestPrecise is a two-prime set on ring degree 2^10 for
	// fast tests. It is NOT secure and must never protect real data.
	PresetInsecureTestPrecise PresetID = 254
)

// String returns the preset's name.
func (id PresetID) String() string {
	switch id {
	case PresetCompact:
		return "compact"
	case PresetPrecise:
		return "precise"
	case PresetInsecureTestCompact:
		return "insecure-test-compact"
	case PresetInsecureTestPrecise:
		return "insecure-test-precise"
	}
	return fmt.Sprintf("preset(%d)", uint8(id))
}

// Fixed constants of the noise model (see the package documentation).
const (
	// errSigma is the standard deviation of fresh RLWE errors (Lattigo's default).
	errSigma = rlwe.DefaultNoise
	// encodeLogScaleMax is the largest scale Lattigo encodes with float64
	// arithmetic; larger scales are reached by an integer multiplication.
	encodeLogScaleMax = 50
	// tailSigmas bounds a Gaussian tail: P(|X| > 6.45σ) < 2^-30.
	tailSigmas = 6.45
	// errBoundSigmas is the truncation of the fresh-error Gaussian, 6σ
	// (19.2 for σ = 3.2), as Lattigo's.
	errBoundSigmas = 6
	// maxLogPrecision caps DecodePublic's precision at what a float64 sum of
	// moderate magnitude resolves.
	maxLogPrecision = 40
)

// maxLogQ is the homomorphic-encryption standard's bound on log2(QP) for
// 128-bit classical security with ternary secrets, by log2 of the ring degree
// (Albrecht et al., "Homomorphic Encryption Standard", 2018, Table 1).
var maxLogQ = map[int]float64{10: 27, 11: 54, 12: 109, 13: 218, 14: 438, 15: 881}

// ParamsLiteral is the plain, serializable description of a parameter set.
// NewParams validates it and derives everything else.
type ParamsLiteral struct {
	ID   PresetID // identifier written into every encoded object
	LogN int      // log2 of the ring degree; the ring is conjugate-invariant: 2^LogN real slots
	LogQ []int    // bit sizes of the ciphertext primes

	LogScale int     // log2 of the plaintext scale Δ
	MaxAbs   float64 // largest |value| an encrypted vector may hold

	MaxAddends    int // most updates one sum may hold
	MaxKeyHolders int // most key holders a collective key may have

	// StatisticalSecurity is s in the flooding bound, in bits.
	StatisticalSecurity int

	// InsecureTestOnly lifts the security bound on log2 Q for test parameter
	// sets; such sets must never protect real data.
	InsecureTestOnly bool
}

// Validate reports whether the literal describes a usable, 128-bit secure
// parameter set (unless InsecureTestOnly is set).
func (l ParamsLiteral) Validate() error {
	_, err := newParams(l)
	return err
}

// Params is a validated, immutable parameter set, with or without a key
// policy ([Params.WithPolicy]). It is safe for concurrent use.
type Params struct {
	lit    ParamsLiteral
	params hefloat.Parameters
	ringQ  *ring.Ring
	bits   []int    // bit length of each prime
	q      *big.Int // the ciphertext modulus

	logQ     float64
	scaleMul uint64  // Δ / 2^encodeLogScale, 1 if Δ is small enough
	encScale float64 // the scale Lattigo encodes at

	// The key policy and the noise it implies; policy is zero and floodUnit
	// 0 for a bare preset.
	policy    KeyPolicy
	freshVar  float64 // variance of a fresh encryption's error coefficient for policy.KeyHolders (MaxKeyHolders when bare)
	floodUnit float64 // σ_flood(a) = floodUnit·√a

	codec *codec // shared by every Params derived from the same preset
}

// codec holds the encoder, built once on first use: its FFT roots are
// shared, read-only, by the shallow copies workers use.
type codec struct {
	once sync.Once
	enc  *hefloat.Encoder
}

func (p *Params) encoder() *hefloat.Encoder {
	p.codec.once.Do(func() { p.codec.enc = hefloat.NewEncoder(p.params) })
	return p.codec.enc
}

// NewParams validates lit and returns the parameter set it describes,
// without a key policy. A literal with InsecureTestOnly set is refused
// outside test binaries.
func NewParams(lit ParamsLiteral) (*Params, error) {
	return newParams(lit)
}

// errInsecurePreset refuses the insecure test presets outside test binaries
// (testing.Testing), so that no configuration can select them in
// production.
func errInsecurePreset(id PresetID) error {
	return fmt.Errorf("he: CKKS preset %v is for tests only; use compact or precise", id)
}

func newParams(lit ParamsLiteral) (*Params, error) {
	lit.LogQ = append([]int(nil), lit.LogQ...)
	if lit.InsecureTestOnly && !testing.Testing() {
		return nil, errInsecurePreset(lit.ID)
	}
	switch {
	case lit.ID == 0:
		return nil, errors.New("he: params: preset ID 0 is reserved")
	case lit.LogN < 10 || lit.LogN > 15:
		return nil, fmt.Errorf("he: params %v: LogN %d outside [10, 15]", lit.ID, lit.LogN)
	case len(lit.LogQ) == 0 || len(lit.LogQ) > 8:
		return nil, fmt.Errorf("he: params %v: %d primes, want 1 to 8", lit.ID, len(lit.LogQ))
	case lit.LogScale < 20 || lit.LogScale > 120:
		return nil, fmt.Errorf("he: params %v: LogScale %d outside [20, 120]", lit.ID, lit.LogScale)
	case !(lit.MaxAbs > 0) || math.IsInf(lit.MaxAbs, 0):
		return nil, fmt.Errorf("he: params %v: MaxAbs %v must be positive and finite", lit.ID, lit.MaxAbs)
	case lit.MaxAddends < 1 || lit.MaxAddends > 1<<20:
		return nil, fmt.Errorf("he: params %v: MaxAddends %d outside [1, 2^20]", lit.ID, lit.MaxAddends)
	case lit.MaxKeyHolders < 2 || lit.MaxKeyHolders > maxHolders:
		return nil, fmt.Errorf("he: params %v: MaxKeyHolders %d outside [2, %d]", lit.ID, lit.MaxKeyHolders, maxHolders)
	case lit.StatisticalSecurity < 20 || lit.StatisticalSecurity > 80:
		return nil, fmt.Errorf("he: params %v: StatisticalSecurity %d outside [20, 80]", lit.ID, lit.StatisticalSecurity)
	}
	for i, b := range lit.LogQ {
		if b < 30 || b > 61 {
			return nil, fmt.Errorf("he: params %v: prime %d has %d bits, want 30 to 61", lit.ID, i, b)
		}
	}
	q, err := genModuli(lit.LogN, lit.LogQ)
	if err != nil {
		return nil, fmt.Errorf("he: params %v: %w", lit.ID, err)
	}
	hp, err := hefloat.NewParametersFromLiteral(hefloat.ParametersLiteral{
		LogN:            lit.LogN,
		Q:               q,
		RingType:        ring.ConjugateInvariant,
		LogDefaultScale: min(lit.LogScale, encodeLogScaleMax),
	})
	if err != nil {
		return nil, fmt.Errorf("he: params %v: %w", lit.ID, err)
	}
	p := &Params{lit: lit, params: hp, ringQ: hp.RingQ(), q: hp.RingQ().Modulus(), codec: &codec{}}
	p.logQ = hp.LogQ()
	if bound, ok := maxLogQ[lit.LogN]; !lit.InsecureTestOnly && (!ok || p.logQ > bound) {
		return nil, fmt.Errorf("he: params %v: log2 Q = %.1f exceeds the 128-bit bound %.0f for LogN %d", lit.ID, p.logQ, bound, lit.LogN)
	}
	for _, qi := range hp.Q() {
		p.bits = append(p.bits, bitLen(qi))
	}

	// Room for the message: |Σ values|·Δ must stay below Q/8, leaving a factor
	// four for the noise and the sign.
	logMsg := math.Log2(float64(lit.MaxAddends)*lit.MaxAbs) + float64(lit.LogScale)
	if logMsg > p.logQ-3 {
		return nil, fmt.Errorf("he: params %v: MaxAddends·MaxAbs·2^LogScale = 2^%.1f leaves no room below Q/8 = 2^%.1f", lit.ID, logMsg, p.logQ-3)
	}
	if lit.LogScale > encodeLogScaleMax {
		p.scaleMul = 1 << (lit.LogScale - encodeLogScaleMax)
		for _, qi := range hp.Q() {
			if p.scaleMul >= qi {
				return nil, fmt.Errorf("he: params %v: scale multiplier 2^%d not below prime %d", lit.ID, lit.LogScale-encodeLogScaleMax, qi)
			}
		}
	} else {
		p.scaleMul = 1
	}
	p.encScale = math.Exp2(float64(min(lit.LogScale, encodeLogScaleMax)))
	// Encryption encodes modulo the first prime and lifts: every coefficient
	// of Δ₀·m must stay below each qᵢ/2; |coefficient| ≤ MaxAbs·Δ₀.
	for i, qi := range hp.Q() {
		if lit.MaxAbs*p.encScale >= float64(qi)/2 {
			return nil, fmt.Errorf("he: params %v: MaxAbs·2^%d not below prime %d / 2", lit.ID, min(lit.LogScale, encodeLogScaleMax), i)
		}
	}

	p.freshVar = p.freshVariance(lit.MaxKeyHolders)
	return p, nil
}

// Preset returns one of the named parameter sets. A preset is built once
// (Lattigo's ring set-up factors q−1 for every prime) and then shared: a
// Params is immutable.
//
// The preset carries no key policy: encryption and summing work with it, but
// key holders and decryption need [Params.WithPolicy]. The insecure test
// presets are refused outside test binaries.
func Preset(id PresetID) (*Params, error) {
	lit, ok := presets[id]
	if !ok {
		return nil, fmt.Errorf("he: unknown preset %v", id)
	}
	if lit.InsecureTestOnly && !testing.Testing() {
		return nil, errInsecurePreset(id)
	}
	presetMu.Lock()
	defer presetMu.Unlock()
	if p, ok := presetMemo[id]; ok {
		return p, nil
	}
	p, err := newParams(lit)
	if err != nil {
		return nil, err
	}
	presetMemo[id] = p
	return p, nil
}

var (
	presetMu   sync.Mutex
	presetMemo = map[PresetID]*Params{}
)

var presets = map[PresetID]ParamsLiteral{
	PresetCompact: {
		ID: PresetCompact, LogN: 12, LogQ: []int{61},
		LogScale: 50, MaxAbs: 1,
		MaxAddends: 100, MaxKeyHolders: 10, StatisticalSecurity: 30,
	},
	PresetPrecise: {
		ID: PresetPrecise, LogN: 12, LogQ: []int{54, 54},
		LogScale: 90, MaxAbs: 4,
		MaxAddends: 1024, MaxKeyHolders: 128, StatisticalSecurity: 30,
	},
	PresetInsecureTestCompact: {
		ID: PresetInsecureTestCompact, LogN: 10, LogQ: []int{61},
		LogScale: 50, MaxAbs: 1,
		MaxAddends: 64, MaxKeyHolders: 8, StatisticalSecurity: 30,
		InsecureTestOnly: true,
	},
	PresetInsecureTestPrecise: {
		ID: PresetInsecureTestPrecise, LogN: 10, LogQ: []int{54, 54},
		LogScale: 80, MaxAbs: 4,
		MaxAddends: 256, MaxKeyHolders: 16, StatisticalSecurity: 30,
		InsecureTestOnly: true,
	},
}

// Literal returns the literal p was built from.
func (p *Params) Literal() ParamsLiteral {
	l := p.lit
	l.LogQ = append([]int(nil), l.LogQ...)
	return l
}

// ID returns the preset identifier.
func (p *Params) ID() PresetID { return p.lit.ID }

// Slots returns the number of values one ciphertext holds.
func (p *Params) Slots() int { return p.params.MaxSlots() }

// LogQ returns log2 of the ciphertext modulus.
func (p *Params) LogQ() float64 { return p.logQ }

// Ciphertexts returns how many ciphertexts a vector of length values fills.
func (p *Params) Ciphertexts(length int) int {
	return (length + p.Slots() - 1) / p.Slots()
}

// UpdateSize returns the exact size in bytes of an encrypted vector of the
// given length, headers included.
func (p *Params) UpdateSize(length int) int {
	return updateHeaderLen + p.Ciphertexts(length)*2*p.polyLen()
}

// DecryptionShareSize returns the exact size in bytes of one decryption
// share of an encrypted vector of the given length with threshold t.
func (p *Params) DecryptionShareSize(length, t int) int {
	return decShareHeaderLen + 2*t + p.Ciphertexts(length)*p.polyLen()
}

func bitLen(x uint64) int {
	n := 0
	for ; x != 0; x >>= 1 {
		n++
	}
	return n
}

// genModuli returns distinct NTT-friendly primes for the conjugate-invariant
// ring of degree 2^logN (qᵢ ≡ 1 mod 2^(logN+2)), one per entry of logQ, each
// of the requested bit length: the largest such primes below 2^bits.
func genModuli(logN int, logQ []int) ([]uint64, error) {
	count := map[int]int{}
	for _, b := range logQ {
		count[b]++
	}
	primes := map[int][]uint64{}
	for b, k := range count {
		g := ring.NewNTTFriendlyPrimesGenerator(uint64(b), uint64(1)<<(logN+2))
		ps, err := g.NextDownstreamPrimes(k)
		if err != nil {
			return nil, fmt.Errorf("%d primes of %d bits: %w", k, b, err)
		}
		primes[b] = ps
	}
	q := make([]uint64, len(logQ))
	for i, b := range logQ {
		q[i], primes[b] = primes[b][0], primes[b][1:]
	}
	return q, nil
}
