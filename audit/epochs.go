package audit

// Epoch is one collective key's life in a run: from the setup or rekey
// entry that made it.
type Epoch struct {
	Epoch         uint64 `json:"epoch"`
	Entry         int    `json:"entry"`
	Reason        string `json:"reason,omitempty"`
	CollectiveKey string `json:"collective_public_key"`
	// Budget is the key's decryption budget L in ciphertext decryptions,
	// Used the end of the last range a round's decryption took.
	Budget uint64 `json:"decryption_budget"`
	Used   uint64 `json:"decryptions_used"`
	// SecurityBits is the statistical security the flooding still gives
	// after Used of Budget decryptions (package he: s + log₂(L/used)).
	SecurityBits float64 `json:"security_bits"`
}

// securityLeft fills in each key epoch's security bits from the
// federation's key policy.
func (v *verifier) securityLeft() {
	p, err := v.fed.CKKS()
	if err != nil {
		return
	}
	for i := range v.run.Epochs {
		v.run.Epochs[i].SecurityBits = p.SecurityBits(v.run.Epochs[i].Used)
	}
}

func (v *verifier) rekey(e *Entry, n int) error {
	var b RekeyBody
	if err := e.DecodeBody(&b); err != nil {
		return err
	}
	if !v.fed.HE.Enabled {
		return fail(n, "a new key epoch in a run without encryption")
	}
	if k := len(v.run.Epochs); k > 0 && b.Epoch <= v.run.Epochs[k-1].Epoch {
		return fail(n, "key epoch %d after epoch %d: epochs only move forward", b.Epoch, v.run.Epochs[k-1].Epoch)
	}
	if want := v.fed.DecryptionBudget(); b.DecryptionBudget != want {
		return fail(n, "key epoch %d: decryption budget %d, the config gives %d", b.Epoch, b.DecryptionBudget, want)
	}
	v.run.Epochs = append(v.run.Epochs, Epoch{Epoch: b.Epoch, Entry: n, Reason: b.Reason, CollectiveKey: b.CollectiveKey, Budget: b.DecryptionBudget})
	return nil
}

// decryptions checks a round's decryption range against its key epoch's
// budget: ranges of one key only move forward and stay within it.
func (v *verifier) decryptions(n int, round uint64, epoch, first, count uint64) error {
	if !v.fed.HE.Enabled || count == 0 {
		return nil
	}
	k := len(v.run.Epochs)
	if k == 0 || v.run.Epochs[k-1].Epoch != epoch {
		return fail(n, "round %d decrypted under key epoch %d, which no setup or rekey entry began", round, epoch)
	}
	ep := &v.run.Epochs[k-1]
	switch {
	case first < ep.Used:
		return fail(n, "round %d: decryption range [%d, %d) of key epoch %d overlaps an earlier one (up to %d)", round, first, first+count, epoch, ep.Used)
	case first+count > ep.Budget:
		return fail(n, "round %d: decryption range [%d, %d) exceeds key epoch %d's budget of %d", round, first, first+count, epoch, ep.Budget)
	}
	ep.Used = first + count
	return nil
}
