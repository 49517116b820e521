package data

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/stat/distuv"
)

// Partition schemes of [Scheme.Kind].
const (
	SchemeIID       = "iid"
	SchemeDirichlet = "dirichlet"
	SchemeQuantity  = "quantity"
)

// A Scheme says how [Partition] spreads a data set over hospitals:
//
//   - "iid": every hospital gets the same class mix and about the same size;
//   - "dirichlet" (label skew): for each class k, the hospitals' shares of
//     its rows are drawn p_k ~ Dir(α, …, α) (Hsu, Qi and Brown, "Measuring
//     the Effects of Non-Identical Data Distribution for Federated Visual
//     Classification", 2019; the label-skew setting of Li et al., "Federated
//     Learning on Non-IID Data Silos: An Experimental Study", ICDE 2022).
//     Small α (0.1) gives most hospitals few classes; large α (100) is
//     close to IID;
//   - "quantity" (size skew): hospital sizes are drawn q ~ Dir(α, …, α),
//     rows assigned at random (Li et al. 2022, quantity skew).
type Scheme struct {
	Kind  string  `json:"kind"`
	Alpha float64 `json:"alpha,omitempty"` // concentration α > 0 of "dirichlet" and "quantity"
}

// ParseScheme parses "iid", "dirichlet:ALPHA" or "quantity:ALPHA".
func ParseScheme(s string) (Scheme, error) {
	kind, alpha, hasAlpha := strings.Cut(s, ":")
	sc := Scheme{Kind: kind}
	if hasAlpha {
		a, err := strconv.ParseFloat(alpha, 64)
		if err != nil {
			return Scheme{}, fmt.Errorf("partition scheme %q: α %q is not a number", quote(s), quote(alpha))
		}
		sc.Alpha = a
	}
	if kind == SchemeIID && hasAlpha {
		return Scheme{}, fmt.Errorf("partition scheme %q: iid takes no α", quote(s))
	}
	if (kind == SchemeDirichlet || kind == SchemeQuantity) && !hasAlpha {
		return Scheme{}, fmt.Errorf("partition scheme %q: want %s:ALPHA, e.g. %s:0.5", quote(s), kind, kind)
	}
	if err := sc.Validate(); err != nil {
		return Scheme{}, err
	}
	return sc, nil
}

// String returns the form ParseScheme reads.
func (s Scheme) String() string {
	if s.Kind == SchemeIID {
		return s.Kind
	}
	return s.Kind + ":" + strconv.FormatFloat(s.Alpha, 'g', -1, 64)
}

// Validate reports whether s is a known scheme with a usable α.
func (s Scheme) Validate() error {
	switch s.Kind {
	case SchemeIID:
		if s.Alpha != 0 {
			return fmt.Errorf("partition scheme iid: α %v given, iid takes none", s.Alpha)
		}
	case SchemeDirichlet, SchemeQuantity:
		if !(s.Alpha >= 1e-3 && s.Alpha <= 1e6) {
			return fmt.Errorf("partition scheme %s: α %v outside [0.001, 1e6]", s.Kind, s.Alpha)
		}
	default:
		return fmt.Errorf("partition scheme %q: want iid, dirichlet:ALPHA or quantity:ALPHA", quote(s.Kind))
	}
	return nil
}

// maxDraws bounds how often a Dirichlet label split is redrawn when a
// hospital would be left without rows.
const maxDraws = 1000

// Partition splits d into n hospitals by scheme s; deterministic given
// seed. Whole groups move (privacy units, or single rows), so a patient
// is at one hospital only; label skew uses a unit's majority class. Every
// hospital gets at least one group:
//
//   - iid deals each class's shuffled groups round-robin, so hospital
//     sizes and class counts differ by at most one group;
//   - dirichlet redraws (up to 1000 times) while a hospital would get no
//     rows, so it samples the Dirichlet split conditioned on none being
//     empty, and fails if that is too unlikely (tiny α, many hospitals);
//   - quantity gives each hospital one group and shares the rest in
//     proportion to q.
//
// It fails if n < 1 or n exceeds the number of groups. The hospitals'
// data sets keep d's classes, so they all match d's [Schema].
func Partition(d *Dataset, n int, s Scheme, seed uint64) ([]*Dataset, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	rng, src := newRand("partition/"+s.Kind, seed)
	groups, byClass := strata(d, rng)
	if n < 1 || n > len(groups) {
		return nil, fmt.Errorf("partition %q into %d hospitals: need between 1 and %d (its privacy units or rows)", d.Name, n, len(groups))
	}
	gamma := distuv.Gamma{Alpha: s.Alpha, Beta: 1, Src: src}
	var assigned [][]int
	switch s.Kind {
	case SchemeIID:
		assigned = make([][]int, n)
		pos := 0
		for _, members := range byClass {
			for _, g := range members {
				assigned[pos%n] = append(assigned[pos%n], g)
				pos++
			}
		}
	case SchemeDirichlet:
		for attempt := 0; ; attempt++ {
			if attempt == maxDraws {
				return nil, fmt.Errorf("partition %q into %d hospitals by %s: a hospital would get no rows in %d draws; use fewer hospitals or a larger α", d.Name, n, s, maxDraws)
			}
			if assigned = labelSkew(byClass, n, gamma); assigned != nil {
				break
			}
		}
	case SchemeQuantity:
		all := make([]int, len(groups))
		for i := range all {
			all[i] = i
		}
		shuffleInts(rng, all)
		sizes := make([]int, n)
		for attempt := 0; ; attempt++ {
			if attempt == maxDraws {
				return nil, fmt.Errorf("partition %q by %s: no usable size proportions in %d draws", d.Name, s, maxDraws)
			}
			if q := dirichlet(gamma, n); q != nil {
				sizes = apportionFloat(len(all)-n, q)
				break
			}
		}
		assigned = make([][]int, n)
		for h := range n {
			size := sizes[h] + 1
			assigned[h], all = all[:size], all[size:]
		}
	}
	out := make([]*Dataset, n)
	for h, gs := range assigned {
		out[h] = d.subsetGroups(groups, gs)
		out[h].Name = fmt.Sprintf("%s/hospital-%d", d.Name, h+1)
	}
	return out, nil
}

// dirichlet draws p ~ Dir(α, …, α) of dimension n by normalizing Gamma(α, 1)
// draws, or returns nil if all draws underflowed to zero.
func dirichlet(gamma distuv.Gamma, n int) []float64 {
	p := make([]float64, n)
	var sum float64
	for i := range p {
		p[i] = gamma.Rand()
		sum += p[i]
	}
	if !(sum > 0) || math.IsInf(sum, 0) {
		return nil
	}
	for i := range p {
		p[i] /= sum
	}
	return p
}

// labelSkew shares each class's groups among n hospitals in Dirichlet
// proportions, or returns nil if a hospital would get nothing.
func labelSkew(byClass [][]int, n int, gamma distuv.Gamma) [][]int {
	assigned := make([][]int, n)
	for _, members := range byClass {
		p := dirichlet(gamma, n)
		if p == nil {
			return nil
		}
		counts := apportionFloat(len(members), p)
		for h, c := range counts {
			assigned[h], members = append(assigned[h], members[:c]...), members[c:]
		}
	}
	for _, a := range assigned {
		if len(a) == 0 {
			return nil
		}
	}
	return assigned
}

// apportionFloat shares total among parts by proportions p (summing to
// one), by largest remainder.
func apportionFloat(total int, p []float64) []int {
	const scale = 1 << 40
	w := make([]int, len(p))
	for i, v := range p {
		w[i] = int(v * scale)
	}
	return apportion(total, w)
}

// shuffleInts is rand.Shuffle for an int slice.
func shuffleInts(rng *rand.Rand, v []int) {
	rng.Shuffle(len(v), func(i, j int) { v[i], v[j] = v[j], v[i] })
}
