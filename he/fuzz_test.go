package he

import (
	"bytes"
	"sync"
	"testing"
)

var (
	fuzzOnce sync.Once
	fuzzObj  *objects
)

// fuzzDecoder feeds a decoder valid encodings of every kind and mutations of
// them: accepted input must re-encode to itself, the valid encoding must be
// accepted, and nothing may panic.
func fuzzDecoder(f *testing.F, name string) {
	fuzzOnce.Do(func() { fuzzObj = newObjects(f) })
	o := fuzzObj
	valid := o.valid()[name]
	if len(valid) == 0 {
		f.Fatalf("no valid %s in the seed corpus", name)
	}
	seeds := [][]byte{valid, valid[:len(valid)/2], nil, {'F', 'C', 'H', 'E', 1}}
	for _, other := range o.valid() {
		seeds = append(seeds, other)
	}
	for _, s := range seeds {
		f.Add(s)
	}
	dec := o.decoders()[name]
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := dec(b)
		if err != nil {
			if bytes.Equal(b, valid) {
				t.Fatalf("valid encoding rejected: %v", err)
			}
			return
		}
		if !bytes.Equal(out, b) {
			t.Fatal("accepted input re-encodes differently")
		}
	})
}

func FuzzPublicKeyShare(f *testing.F)  { fuzzDecoder(f, "public-key share") }
func FuzzPublicKey(f *testing.F)       { fuzzDecoder(f, "public key") }
func FuzzShamirShare(f *testing.F)     { fuzzDecoder(f, "Shamir share") }
func FuzzUpdate(f *testing.F)          { fuzzDecoder(f, "encrypted vector") }
func FuzzDecryptionShare(f *testing.F) { fuzzDecoder(f, "decryption share") }
func FuzzKeyHolder(f *testing.F)       { fuzzDecoder(f, "key-holder state") }
func FuzzFingerprint(f *testing.F)     { fuzzDecoder(f, "fingerprint") }
