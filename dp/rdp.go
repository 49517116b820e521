package dp

import (
	"fmt"
	"math"
	"sync"
)

// OpacusOrders returns the Rényi orders of Opacus's RDP accountant:
// 1.1, 1.2, …, 10.9 and then 12, 13, …, 63. It is the default grid of the
// RDP accountant; each call returns a fresh slice.
func OpacusOrders() []float64 {
	orders := make([]float64, 0, 99+52)
	for x := 1; x < 100; x++ {
		orders = append(orders, 1+float64(x)/10)
	}
	for a := 12; a < 64; a++ {
		orders = append(orders, float64(a))
	}
	return orders
}

// RDP returns the Rényi differential privacy of order alpha > 1 of one step
// of the Poisson-subsampled Gaussian mechanism with sampling rate q and noise
// multiplier sigma (noise standard deviation over L2 sensitivity), following
// Mironov, Talwar and Zhang (2019), Sections 3.3 and 3.4. It returns an error
// for parameters out of range.
func RDP(q, sigma, alpha float64) (float64, error) {
	if err := checkStep(q, sigma); err != nil {
		return 0, err
	}
	if !(alpha > 1) || math.IsInf(alpha, 0) {
		return 0, fmt.Errorf("dp: Rényi order %v: must be a finite number > 1", alpha)
	}
	return rdpStep(q, sigma, alpha), nil
}

// rdpMemo remembers rdpStep's values: one step's RDP depends on (q, σ, α)
// only, and every hospital of a federation calibrates its noise over the same
// settings, visiting the same σ at every order, once when it opens its ledger
// and again every round. Public parameters only; cleared when full.
var rdpMemo struct {
	sync.Mutex
	m map[[3]float64]float64
}

// rdpMemoMax bounds rdpMemo (about 100 calibrations' worth of entries).
const rdpMemoMax = 1 << 16

// rdpStep computes one step's RDP for valid parameters, remembering it.
func rdpStep(q, sigma, alpha float64) float64 {
	k := [3]float64{q, sigma, alpha}
	rdpMemo.Lock()
	v, ok := rdpMemo.m[k]
	rdpMemo.Unlock()
	if ok {
		return v
	}
	v = rdpStepCompute(q, sigma, alpha)
	rdpMemo.Lock()
	if rdpMemo.m == nil || len(rdpMemo.m) >= rdpMemoMax {
		rdpMemo.m = make(map[[3]float64]float64)
	}
	rdpMemo.m[k] = v
	rdpMemo.Unlock()
	return v
}

// rdpStepCompute computes one step's RDP for valid parameters.
func rdpStepCompute(q, sigma, alpha float64) float64 {
	switch {
	case q == 0 || math.IsInf(sigma, 1):
		return 0
	case q == 1:
		return alpha / (2 * sigma * sigma)
	}
	var logA float64
	if alpha == math.Trunc(alpha) && alpha < 1<<20 {
		logA = logAInt(q, sigma, int(alpha))
	} else {
		logA = logAFrac(q, sigma, alpha)
	}
	// The RDP of a subsampled Gaussian is ≥ 0; with enormous σ its log A
	// is 0 up to rounding and can come out a few ulps below (−2.6e-12 at
	// q = 0.5, σ = 10⁶, α = 1.2).
	return max(0, logA/(alpha-1))
}

// logAInt is log A_α for integer α (Mironov et al. 2019, Section 3.3):
//
//	A_α = Σ_{i=0}^{α} C(α,i) (1−q)^{α−i} q^i exp((i²−i)/(2σ²))
func logAInt(q, sigma float64, alpha int) float64 {
	logA := math.Inf(-1)
	lq, l1q := math.Log(q), math.Log1p(-q)
	for i := 0; i <= alpha; i++ {
		fi := float64(i)
		s := logBinom(float64(alpha), fi) + fi*lq + float64(alpha-i)*l1q + (fi*fi-fi)/(2*sigma*sigma)
		logA = logAdd(logA, s)
	}
	return logA
}

// logAFrac is log A_α for fractional α (Mironov et al. 2019, Section 3.4):
// A_α = A₀ + A₁ with z₀ = σ² log(1/q − 1) + 1/2 and
//
//	A₀ = Σ_{i≥0} C(α,i) q^i (1−q)^{α−i} e^{(i²−i)/(2σ²)} · ½ erfc((i−z₀)/(√2σ))
//	A₁ = Σ_{i≥0} C(α,i) q^{α−i} (1−q)^i e^{((α−i)²−(α−i))/(2σ²)} · ½ erfc((z₀−(α−i))/(√2σ))
//
// summed until both terms fall below e^{−30}.
func logAFrac(q, sigma, alpha float64) float64 {
	logA0, logA1 := math.Inf(-1), math.Inf(-1)
	z0 := sigma*sigma*math.Log(1/q-1) + 0.5
	lq, l1q := math.Log(q), math.Log1p(-q)
	s2 := sigma * sigma
	for i := 0; i < 1_000_000; i++ {
		fi := float64(i)
		logCoef, sign := logBinomSigned(alpha, fi)
		j := alpha - fi
		logT0 := logCoef + fi*lq + j*l1q
		logT1 := logCoef + j*lq + fi*l1q
		logE0 := math.Log(0.5) + logErfc((fi-z0)/(math.Sqrt2*sigma))
		logE1 := math.Log(0.5) + logErfc((z0-j)/(math.Sqrt2*sigma))
		logS0 := logT0 + (fi*fi-fi)/(2*s2) + logE0
		logS1 := logT1 + (j*j-j)/(2*s2) + logE1
		if sign > 0 {
			logA0 = logAdd(logA0, logS0)
			logA1 = logAdd(logA1, logS1)
		} else {
			logA0 = logSub(logA0, logS0)
			logA1 = logSub(logA1, logS1)
		}
		if math.Max(logS0, logS1) < -30 {
			break
		}
	}
	return logAdd(logA0, logA1)
}

// RDPEpsilon converts the RDP curve rdp[k] at orders[k] into the smallest ε
// over the orders such that the mechanism is (ε, δ)-DP, with the conversion of
// Balle, Barthe, Gaboardi, Hsu and Sato (2020), Theorem 21:
//
//	ε = min_α  rdp(α) + log((α−1)/α) − (log δ + log α)/(α−1)
//
// and ε = 0 when δ² ≥ 1 − exp(−rdp(α)) (Bretagnolle–Huber). It returns ε
// and the order attaining it.
func RDPEpsilon(orders, rdp []float64, delta float64) (eps, order float64, err error) {
	if len(orders) != len(rdp) || len(orders) == 0 {
		return 0, 0, fmt.Errorf("dp: RDP curve has %d orders and %d values: need the same non-zero count", len(orders), len(rdp))
	}
	if !(delta > 0 && delta < 1) {
		return 0, 0, fmt.Errorf("dp: delta %v: must be in (0, 1)", delta)
	}
	eps, order = math.Inf(1), math.NaN()
	for k, a := range orders {
		r := rdp[k]
		if !(a > 1) || !(r >= 0) {
			return 0, 0, fmt.Errorf("dp: RDP order %v with value %v: need order > 1 and value ≥ 0", a, r)
		}
		var e float64
		switch {
		case delta*delta+math.Expm1(-r) >= 0:
			e = 0
		case a > 1.01:
			e = r + math.Log1p(-1/a) - math.Log(delta*a)/(a-1)
		default:
			e = math.Inf(1)
		}
		if e < eps {
			eps, order = e, a
		}
	}
	return math.Max(0, eps), order, nil
}

// checkStep validates one step's sampling rate and noise multiplier.
func checkStep(q, sigma float64) error {
	if !(q > 0 && q <= 1) {
		return fmt.Errorf("dp: sample rate %v: must be in (0, 1]", q)
	}
	if !(sigma > 0) || math.IsNaN(sigma) {
		return fmt.Errorf("dp: noise multiplier %v: must be > 0", sigma)
	}
	return nil
}

func logAdd(a, b float64) float64 {
	if a < b {
		a, b = b, a
	}
	if math.IsInf(b, -1) {
		return a
	}
	return a + math.Log1p(math.Exp(b-a))
}

// logSub returns log(e^a − e^b) for a ≥ b; −Inf when they are equal.
func logSub(a, b float64) float64 {
	if math.IsInf(b, -1) {
		return a
	}
	if a <= b {
		return math.Inf(-1)
	}
	return a + math.Log(-math.Expm1(b-a))
}

func logBinom(n, k float64) float64 {
	l, _ := logBinomSigned(n, k)
	return l
}

// logBinomSigned returns log|C(n,k)| and the sign of C(n,k) for real n ≥ 0
// and integer k ≥ 0.
func logBinomSigned(n, k float64) (float64, int) {
	a, _ := math.Lgamma(n + 1)
	b, _ := math.Lgamma(k + 1)
	c, sc := math.Lgamma(n - k + 1)
	if n-k+1 <= 0 && n-k+1 == math.Trunc(n-k+1) {
		return math.Inf(-1), 1 // C(n,k) = 0 for integer n < k
	}
	return a - b - c, sc
}

// logErfc returns log erfc(x), accurate also where erfc underflows.
func logErfc(x float64) float64 {
	if x < 25 {
		return math.Log(math.Erfc(x))
	}
	// Asymptotic expansion (Abramowitz & Stegun 7.1.23).
	x2 := x * x
	s := 1 - 1/(2*x2) + 3/(4*x2*x2) - 15/(8*x2*x2*x2) + 105/(16*x2*x2*x2*x2)
	return -x2 - math.Log(x) - 0.5*math.Log(math.Pi) + math.Log(s)
}
