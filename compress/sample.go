package compress

import (
	"math"
	"math/bits"
	"math/rand/v2"
)

// below returns a uniform integer in [0, n), n ≥ 1, by rejection: of the 2⁶⁴ words, the
// 2⁶⁴ mod n smallest are refused, which leaves a multiple of n.
func below(r *rand.ChaCha8, n uint64) uint64 {
	refuse := -n % n // 2⁶⁴ mod n
	for {
		if x := r.Uint64(); x >= refuse {
			return x % n
		}
	}
}

// sample returns k distinct integers of [0, n), every k-subset equally likely, in ascending
// order: Floyd's algorithm, k draws whatever k/n.
func sample(r *rand.ChaCha8, n, k int) []int {
	chosen := make([]uint64, (n+63)/64)
	for j := n - k; j < n; j++ {
		t := int(below(r, uint64(j)+1))
		if chosen[t/64]>>(t%64)&1 == 1 {
			t = j
		}
		chosen[t/64] |= 1 << (t % 64)
	}
	idx := make([]int, 0, k)
	for w, word := range chosen {
		for ; word != 0; word &= word - 1 {
			idx = append(idx, 64*w+bits.TrailingZeros64(word))
		}
	}
	return idx
}

// blockHadamard replaces t with H t, H block-diagonal with orthonormal Walsh–Hadamard blocks whose
// sizes are the powers of two that sum to len(t), largest first: an orthogonal, symmetric map of
// ℝ^len(t) whose largest block holds at least half the coordinates.
func blockHadamard(t []float64) {
	for len(t) > 0 {
		n := 1 << (bits.Len(uint(len(t))) - 1)
		hadamard(t[:n])
		t = t[n:]
	}
}

// hadamard replaces t (a power of two long) with H t, H the orthonormal Walsh–Hadamard matrix:
// log₂ n rounds of butterflies (a, b) → (a + b, a − b), then a scaling by 1/√n.
func hadamard(t []float64) {
	n := len(t)
	for h := 1; h < n; h *= 2 {
		for i := 0; i < n; i += 2 * h {
			lo, hi := t[i:i+h], t[i+h:i+2*h]
			for j, a := range lo {
				b := hi[j]
				lo[j], hi[j] = a+b, a-b
			}
		}
	}
	s := 1 / math.Sqrt(float64(n))
	for i := range t {
		t[i] *= s
	}
}
