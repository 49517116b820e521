package dp

import "errors"

// ErrBudgetExhausted is returned (wrapped) by [Ledger.Reserve] and
// [CalibrateNoise] when the privacy spent, or about to be spent, would exceed
// the cap. Callers branch on it with errors.Is.
var ErrBudgetExhausted = errors.New("privacy budget exhausted")
