package data

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// newRand returns a ChaCha8 stream for one purpose, derived from seed:
// different purposes given the same seed draw independent streams.
func newRand(purpose string, seed uint64) (*rand.Rand, *rand.ChaCha8) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], seed)
	h := sha256.New()
	h.Write([]byte("fedcrypt/data/" + purpose + "\x00"))
	h.Write(b[:])
	var key [32]byte
	h.Sum(key[:0])
	src := rand.NewChaCha8(key)
	return rand.New(src), src
}

// strata returns the groups (privacy units, or single rows) of d shuffled
// within each class, class by class; a group's class is its rows' majority
// class.
func strata(d *Dataset, rng *rand.Rand) (groups [][]int, byClass [][]int) {
	groups = d.groups()
	byClass = make([][]int, len(d.Classes))
	counts := make([]int, len(d.Classes))
	for g, rows := range groups {
		k := d.groupLabel(rows, counts)
		byClass[k] = append(byClass[k], g)
	}
	for _, members := range byClass {
		shuffleInts(rng, members)
	}
	return groups, byClass
}

// StratifiedSplit splits d into training and test rows, with about
// testFraction of the groups in the test set and each class in the same
// proportion in both. Groups are privacy units when d has one (stratified
// by a unit's majority class), single rows otherwise, so a patient's rows
// never straddle the split. The test set gets round(testFraction·groups)
// groups (at least one, leaving at least one for training), shared among
// classes by largest remainder. Rows keep their order. Deterministic
// given seed.
func StratifiedSplit(d *Dataset, testFraction float64, seed uint64) (train, test *Dataset, err error) {
	if !(testFraction > 0 && testFraction < 1) {
		return nil, nil, fmt.Errorf("split %q: test fraction %v outside (0, 1)", d.Name, testFraction)
	}
	rng, _ := newRand("split", seed)
	groups, byClass := strata(d, rng)
	n := len(groups)
	if n < 2 {
		return nil, nil, fmt.Errorf("split %q: %d group(s), need at least 2", d.Name, n)
	}
	nTest := min(max(int(math.Round(testFraction*float64(n))), 1), n-1)
	sizes := make([]int, len(byClass))
	for k, m := range byClass {
		sizes[k] = len(m)
	}
	quota := apportion(nTest, sizes)
	var trainG, testG []int
	for k, members := range byClass {
		testG = append(testG, members[:quota[k]]...)
		trainG = append(trainG, members[quota[k]:]...)
	}
	return d.subsetGroups(groups, trainG), d.subsetGroups(groups, testG), nil
}

// apportion shares total among parts in proportion to weights (largest
// remainder; ties to the lower index), never giving a part more than its
// weight when weights are counts summing to at least total.
func apportion(total int, weights []int) []int {
	sum := 0
	for _, w := range weights {
		sum += w
	}
	out := make([]int, len(weights))
	if sum == 0 {
		return out
	}
	total = min(total, sum)
	type rem struct {
		k int
		r float64
	}
	rems := make([]rem, len(weights))
	given := 0
	for k, w := range weights {
		exact := float64(total) * float64(w) / float64(sum)
		out[k] = int(exact)
		given += out[k]
		rems[k] = rem{k, exact - float64(out[k])}
	}
	slices.SortStableFunc(rems, func(a, b rem) int {
		switch {
		case a.r > b.r:
			return -1
		case a.r < b.r:
			return 1
		}
		return 0
	})
	for i := 0; given < total; i++ {
		k := rems[i%len(rems)].k
		if out[k] < weights[k] {
			out[k]++
			given++
		}
	}
	return out
}

// A Fold is one round of cross-validation.
type Fold struct {
	Train, Test *Dataset
}

// StratifiedKFold splits d into k folds for cross-validation: every group
// (privacy unit, or row) is in exactly one fold's Test, each class is
// spread evenly over the folds (per-fold counts of a class differ by at
// most one group), and fold sizes differ by at most one group. Each Fold's
// Train is all the other folds. Deterministic given seed.
func StratifiedKFold(d *Dataset, k int, seed uint64) ([]Fold, error) {
	rng, _ := newRand("kfold", seed)
	groups, byClass := strata(d, rng)
	if k < 2 || k > len(groups) {
		return nil, fmt.Errorf("k-fold %q: k = %d outside [2, %d groups]", d.Name, k, len(groups))
	}
	tests := make([][]int, k)
	pos := 0
	for _, members := range byClass {
		for _, g := range members {
			tests[pos%k] = append(tests[pos%k], g)
			pos++
		}
	}
	folds := make([]Fold, k)
	for f := range k {
		var train []int
		for o := range k {
			if o != f {
				train = append(train, tests[o]...)
			}
		}
		folds[f] = Fold{Train: d.subsetGroups(groups, train), Test: d.subsetGroups(groups, tests[f])}
	}
	return folds, nil
}
