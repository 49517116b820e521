package aggregator

import (
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/fedcrypt/fedcrypt/vault"
)

// SealKindCheckpoint names the aggregator's sealed checkpoints.
const SealKindCheckpoint = "fedcrypt/checkpoint"

// Checkpoint is what the aggregator needs to resume a run: the global model,
// the server optimizer's state, the last completed round and the audit log's
// head hash at that point (so a log cut short is detected).
type Checkpoint struct {
	ConfigHash  string    `json:"config_hash"`
	Round       uint64    `json:"round"`
	Model       []float64 `json:"model"`
	ServerState []byte    `json:"server_state"`
	AuditHead   []byte    `json:"audit_head"`
}

// checkpoint seals the state after a completed round to the aggregator's
// own identity and the federation's auditors.
func (a *aggregator) checkpoint() error {
	st, err := a.server.MarshalBinary()
	if err != nil {
		return err
	}
	head := a.audit.Head()
	b, err := json.Marshal(Checkpoint{ConfigHash: a.hash.String(), Round: a.round, Model: a.model, ServerState: st, AuditHead: head[:]})
	if err != nil {
		return err
	}
	recipients := a.cfg.Identity.Recipients()
	for _, au := range a.fed.Auditors {
		r, err := vault.ParseRecipient(au.Recipient)
		if err != nil {
			return fmt.Errorf("auditor %q: %w", au.ID, err)
		}
		recipients = append(recipients, r)
	}
	path := filepath.Join(a.cfg.OutDir, "checkpoint.age")
	if err := vault.Seal(path, SealKindCheckpoint, b, a.cfg.Identity.SigningKey(), recipients...); err != nil {
		return fmt.Errorf("checkpoint round %d: %w", a.round, err)
	}
	return nil
}
