package he_test

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"log"

	"github.com/fedcrypt/fedcrypt/he"
)

// Three hospitals hold the key 2-out-of-3 and each encrypts its model
// update; the aggregator sums the ciphertexts it cannot read; hospitals 0 and
// 2 decrypt the sum together.
func Example() {
	preset, err := he.Preset(he.PresetPrecise)
	if err != nil {
		log.Fatal(err)
	}
	const hospitals, threshold = 3, 2
	// The key's life: 3 key holders, sums of at most 3 updates, and 2^16
	// ciphertext decryptions before the federation re-keys.
	params, err := preset.WithPolicy(he.KeyPolicy{KeyHolders: hospitals, Contributors: 3, Decryptions: 1 << 16})
	if err != nil {
		log.Fatal(err)
	}
	crs := sha256.Sum256([]byte("federation config"))

	// Setup: key shares, the collective public key, Shamir shares.
	holders := make([]*he.KeyHolder, hospitals)
	var pkShares [][]byte
	for i := range holders {
		if holders[i], err = he.NewKeyHolder(params, crs, i, rand.Reader); err != nil {
			log.Fatal(err)
		}
		pkShares = append(pkShares, holders[i].PublicKeyShare())
	}
	pk, err := he.CombinePublicKey(params, crs, pkShares)
	if err != nil {
		log.Fatal(err)
	}
	inbox := make([][][]byte, hospitals)
	for _, h := range holders {
		out, err := h.ShamirShares([]int{0, 1, 2}, threshold, rand.Reader)
		if err != nil {
			log.Fatal(err)
		}
		for to, share := range out {
			inbox[to] = append(inbox[to], share)
		}
	}
	for i, h := range holders {
		if err := h.CombineShamirShares(inbox[i]); err != nil {
			log.Fatal(err)
		}
	}

	// A round: each hospital encrypts, the aggregator sums.
	updates := [][]float64{
		{0.25, -0.5, 0.125},
		{0.5, 0.25, -0.75},
		{-0.125, 0.5, 0.5},
	}
	sum := he.NewSum(params)
	for _, u := range updates {
		ct, err := he.Encrypt(pk, u, rand.Reader)
		if err != nil {
			log.Fatal(err)
		}
		if err := sum.Add(ct); err != nil {
			log.Fatal(err)
		}
	}

	// Hospitals 0 and 2 decrypt the sum.
	sb, err := sum.MarshalBinary()
	if err != nil {
		log.Fatal(err)
	}
	set := []int{0, 2}
	var shares [][]byte
	for _, i := range set {
		s, err := holders[i].DecryptionShare(sb, set, rand.Reader)
		if err != nil {
			log.Fatal(err)
		}
		shares = append(shares, s)
	}
	total, err := sum.Decrypt(shares)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d addends, sum %.6f\n", sum.Addends(), total)
	// Output:
	// 3 addends, sum [0.625000 0.250000 -0.125000]
}

// A key's decryption budget: the compact preset's single prime leaves room
// for almost none; the precise preset's flooding for 2^16 decryptions still
// leaves 36 bits.
func ExampleParams_WithPolicy() {
	for _, id := range []he.PresetID{he.PresetCompact, he.PresetPrecise} {
		p, err := he.Preset(id)
		if err != nil {
			log.Fatal(err)
		}
		kp := he.KeyPolicy{KeyHolders: 10, Contributors: 100}
		fmt.Printf("%v: at most %d ciphertext decryptions per key\n", id, p.MaxDecryptions(kp))
	}
	p, err := he.Preset(he.PresetPrecise)
	if err != nil {
		log.Fatal(err)
	}
	q, err := p.WithPolicy(he.KeyPolicy{KeyHolders: 10, Contributors: 100, Decryptions: 1 << 16})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("precise, L = 2^16: %.1f bits; %.0f bits of statistical security after 2^10 decryptions\n",
		q.PrecisionBits(100, 10), q.SecurityBits(1<<10))
	_, err = p.WithPolicy(he.KeyPolicy{KeyHolders: 10, Contributors: 100, Decryptions: 1 << 30})
	fmt.Println(err)
	// Output:
	// compact: at most 2 ciphertext decryptions per key
	// precise: at most 56780376 ciphertext decryptions per key
	// precise, L = 2^16: 36.3 bits; 36 bits of statistical security after 2^10 decryptions
	// he: params precise: key policy (K = 10 key holders, 100 contributors, L = 1073741824 decryptions): 12·σ_flood = 2^56.12 does not fit below prime 0 (2^54.00); the largest L that fits is 56780376
}
