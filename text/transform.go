package text

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"

	"github.com/fedcrypt/fedcrypt/model"
)

// Norms of [Config.Norm].
const (
	NormL2   = "l2"   // each document's vector has Euclidean norm 1 (softmax regression)
	NormMean = "mean" // each document's weights sum to 1: the mean of its embeddings (embedding bag)
	NormNone = "none"
)

// Limits on a Config, so that a decoded transform cannot ask for an absurd allocation.
const (
	MaxBuckets = model.MaxWidth
	MaxNGrams  = 2
)

// Config fixes how text becomes a sparse vector, before any data is seen: the tokens' n-grams
// are hashed into Buckets columns with a hash salted by Seed, then weighted. It is a plain
// JSON-serializable value; [Config.Validate] checks it.
type Config struct {
	Buckets   int    `json:"buckets"`   // columns of the output; the hash's range
	NGrams    int    `json:"ngrams"`    // 1: unigrams; 2: unigrams and bigrams
	Seed      uint64 `json:"seed"`      // salts the hash
	Sublinear bool   `json:"sublinear"` // term frequency tf → 1 + ln tf
	IDF       bool   `json:"idf"`       // multiply by the inverse document frequency ([Transform.IDF])
	Norm      string `json:"norm"`      // "l2", "mean" or "none"
}

// Validate reports the first setting out of range.
func (c Config) Validate() error {
	switch {
	case c.Buckets < 1 || c.Buckets > MaxBuckets:
		return fmt.Errorf("text config: buckets %d out of range [1, %d]", c.Buckets, MaxBuckets)
	case c.NGrams < 1 || c.NGrams > MaxNGrams:
		return fmt.Errorf("text config: ngrams %d out of range [1, %d]", c.NGrams, MaxNGrams)
	}
	switch c.Norm {
	case NormL2, NormMean, NormNone:
	default:
		return fmt.Errorf("text config: norm %q: want %s, %s or %s", c.Norm, NormL2, NormMean, NormNone)
	}
	return nil
}

// Transform turns documents into weighted sparse vectors ([model.CSR] rows). Everything in it is
// fixed in advance (the Config) except the IDF weights, which are either fitted on training rows
// ([Transform.FitIDF], for central training) or set from document frequencies released with
// differential privacy ([Transform.SetIDF], for a federation): nothing else depends on data. It
// is JSON-serializable to travel with a model; decoding validates it. A Transform is safe for
// concurrent use once its IDF is set.
type Transform struct {
	Config
	// IDF holds one weight per bucket when Config.IDF is set, else nil.
	IDF []float64 `json:"idf_weights,omitempty"`
}

// New returns a transform for cfg. With cfg.IDF it needs its IDF weights set before use.
func New(cfg Config) (*Transform, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Transform{Config: cfg}, nil
}

// MaxIDF bounds an IDF weight: ln((1+n)/(1+df)) + 1 stays below it for any count of documents
// a float64 holds, and it keeps weighted values, and their squares, finite.
const MaxIDF = 1e6

// Validate reports whether t is usable: a valid Config, and IDF weights in (0, MaxIDF] for every
// bucket exactly when Config.IDF is set.
func (t *Transform) Validate() error {
	if err := t.Config.Validate(); err != nil {
		return err
	}
	switch {
	case t.Config.IDF && len(t.IDF) != t.Buckets:
		return fmt.Errorf("text transform: %d IDF weights for %d buckets", len(t.IDF), t.Buckets)
	case !t.Config.IDF && t.IDF != nil:
		return errors.New("text transform: IDF weights given but idf is off")
	}
	for j, v := range t.IDF {
		if !(v > 0 && v <= MaxIDF) {
			return fmt.Errorf("text transform: IDF weight of bucket %d is not a number in (0, %g]", j, float64(MaxIDF))
		}
	}
	return nil
}

// UnmarshalJSON decodes a transform and validates it, rejecting unknown fields.
func (t *Transform) UnmarshalJSON(b []byte) error {
	type plain Transform
	var p plain
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return fmt.Errorf("text transform: %w", err)
	}
	if dec.More() {
		return errors.New("text transform: trailing data after the JSON object")
	}
	tt := Transform(p)
	if err := tt.Validate(); err != nil {
		return err
	}
	*t = tt
	return nil
}

// Digest returns the SHA-256 of t's JSON encoding: with the numeric transform's, what a
// federation's members name in their claims as the featurization they trained with.
func (t *Transform) Digest() [32]byte {
	b, err := json.Marshal(t)
	if err != nil {
		panic("text: transform digest: " + err.Error()) // a valid Transform always encodes
	}
	return sha256.Sum256(b)
}

// FNV-1a, 64-bit (Fowler, Noll & Vo; IETF draft-eastlake-fnv).
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnv(h uint64, b []byte) uint64 {
	for _, c := range b {
		h ^= uint64(c)
		h *= fnvPrime
	}
	return h
}

// bucket maps a 64-bit hash to [0, n) by the multiply-shift ⌊h·n / 2⁶⁴⌋ (Lemire 2019).
func bucket(h uint64, n int) int {
	hi, _ := bits.Mul64(h, uint64(n))
	return int(hi)
}

// seeded returns the hash state after the salt: FNV-1a over the seed's 8 bytes, little-endian.
func (c Config) seeded() uint64 {
	var s [8]byte
	binary.LittleEndian.PutUint64(s[:], c.Seed)
	return fnv(fnvOffset, s[:])
}

// Hash returns the bucket of a unigram (b == "") or of the bigram "a b": FNV-1a 64 over the
// seed (8 bytes, little-endian), the n-gram's order n (one byte), then the tokens' UTF-8 bytes,
// a bigram's two separated by a zero byte (which no token contains), mapped to [0, Buckets) by
// ⌊h·Buckets / 2⁶⁴⌋. It panics if c is invalid.
func (c Config) Hash(a, b string) int {
	if err := c.Validate(); err != nil {
		panic("text: " + err.Error())
	}
	if b == "" {
		return c.hashTokens(c.seeded(), []byte(a), nil)
	}
	return c.hashTokens(c.seeded(), []byte(a), []byte(b))
}

// hashTokens hashes a unigram (b == nil) or a bigram from the seeded state h0.
func (c Config) hashTokens(h0 uint64, a, b []byte) int {
	n := byte(1)
	if b != nil {
		n = 2
	}
	h := fnv(h0, []byte{n})
	h = fnv(h, a)
	if b != nil {
		h = fnv(h, []byte{0})
		h = fnv(h, b)
	}
	return bucket(h, c.Buckets)
}
