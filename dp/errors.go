package dp

import "errors"

// ErrBudgetExhausted is returned (wrapped) by [Ledger.Reserve],
// [Ledger.Check] and [Ledger.ReleaseCounts] when a spend would take ε over
// the ledger's cap, and by [CalibrateNoise] when the events already spent
// exceed the target. Callers branch on it with errors.Is.
var ErrBudgetExhausted = errors.New("privacy budget exhausted")
