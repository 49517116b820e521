package aggregator

import (
	"bufio"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"

	"github.com/fedcrypt/fedcrypt/audit"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/internal/sealedmodel"
	"github.com/fedcrypt/fedcrypt/model"
	"github.com/fedcrypt/fedcrypt/protocol"
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
	// Epoch is the key epoch of the last round: a resumed run starts the
	// next one.
	Epoch uint64 `json:"key_epoch,omitempty"`
	// Anchors are, by member, the latest claim and endorsement it signed:
	// what a member whose state was restored from an older copy is
	// checked against when it reconnects.
	Anchors map[string]Anchor `json:"anchors,omitempty"`
	// Stats is the statistics phase's result, nil if the run was killed
	// before it: a resumed run does not release the statistics again.
	Stats *protocol.StatsResult `json:"stats,omitempty"`
}

// Anchor is a member's latest signed claim and endorsement, each an encoded
// envelope.
type Anchor struct {
	Claim       []byte `json:"claim,omitempty"`
	Endorsement []byte `json:"endorsement,omitempty"`
}

// checkpoint seals the state after a completed round to the aggregator's
// own identity and the federation's auditors.
func (a *aggregator) checkpoint() error {
	st, err := a.server.MarshalBinary()
	if err != nil {
		return err
	}
	head := a.audit.Head()
	anchors := map[string]Anchor{}
	for id, w := range a.anchors {
		anchors[id] = Anchor{Claim: w.Claim, Endorsement: w.Endorsement}
	}
	cp := Checkpoint{ConfigHash: a.hash.String(), Round: a.completed, Model: a.model, ServerState: st,
		AuditHead: head[:], Anchors: anchors, Epoch: a.epoch}
	if s := a.stats; s != nil {
		cp.Stats = &protocol.StatsResult{Totals: s.Totals, NoiseStdDev: s.NoiseStdDev, Contributors: s.Contributors}
	}
	b, err := json.Marshal(cp)
	if err != nil {
		return err
	}
	auditors, err := a.fed.AuditorRecipients()
	if err != nil {
		return err
	}
	recipients := append(a.cfg.Identity.Recipients(), auditors...)
	path := filepath.Join(a.cfg.OutDir, "checkpoint.age")
	if err := vault.Seal(path, SealKindCheckpoint, b, a.cfg.Identity.SigningKey(), recipients...); err != nil {
		return fmt.Errorf("checkpoint round %d: %w", a.round, err)
	}
	return nil
}

// LoadCheckpoint opens the sealed checkpoint in dir with the aggregator's
// (or an auditor's) identity and checks it was written by the federation's
// aggregator.
func LoadCheckpoint(dir string, fed *federation.Config, id *vault.Identity) (*Checkpoint, error) {
	writer, err := fed.Aggregator.PublicKey()
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "checkpoint.age")
	b, err := vault.Unseal(path, SealKindCheckpoint, writer, id)
	if err != nil {
		return nil, err
	}
	var cp Checkpoint
	if err := json.Unmarshal(b, &cp); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if len(cp.AuditHead) != 32 {
		return nil, fmt.Errorf("checkpoint %s: audit head of %d bytes", path, len(cp.AuditHead))
	}
	return &cp, nil
}

// anchoredIn checks that the audit log at path still holds the entry whose
// hash a checkpoint anchored. Entries after it are allowed — they record
// what happened after the checkpoint, up to the crash — but a log cut
// short, or rewritten, before the anchor is refused.
func anchoredIn(path string, configHash, anchor [32]byte) error {
	if anchor == configHash {
		return nil // checkpointed before any entry
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), audit.MaxLine)
	for sc.Scan() {
		if sha256.Sum256(sc.Bytes()) == anchor {
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("audit log %s: %w", path, err)
	}
	return fmt.Errorf("audit log %s no longer holds the entry the checkpoint anchored (%x…): truncated or rewritten", path, anchor[:8])
}

// FileModel names the sealed model the aggregator writes in its output
// directory at the end of a run.
const FileModel = "model.age"

// writeModel seals the global model with the schema and the federation's
// transforms (for a text model, the text featurization with its IDF
// weights from the statistics phase), signed by the aggregator, to every
// member, every auditor and the aggregator itself: the file `fedcrypt
// predict` scores rows with.
func (a *aggregator) writeModel() error {
	n, err := a.fed.NumParams()
	if err != nil {
		return err
	}
	if len(a.model) != n {
		return fmt.Errorf("model: %d parameters, the federation's model has %d", len(a.model), n)
	}
	recipients, err := a.fed.AuditorRecipients()
	if err != nil {
		return err
	}
	recipients = append(recipients, a.cfg.Identity.Recipients()...)
	for _, mb := range a.fed.Members {
		r, err := vault.ParseRecipient(mb.Recipient)
		if err != nil {
			return fmt.Errorf("member %q: %w", mb.ID, err)
		}
		recipients = append(recipients, r)
	}
	path := filepath.Join(a.cfg.OutDir, FileModel)
	rng := mrand.New(mrand.NewPCG(0, 0)) // weights overwritten below
	if sc := a.fed.SparseModel; sc != nil {
		m, err := model.NewSparse(*sc, rng)
		if err != nil {
			return err
		}
		copy(m.Params(), a.model)
		err = sealedmodel.SealText(path, m, a.fed.Data.Schema, a.stats.Transform, a.stats.Text, a.cfg.Identity.SigningKey(), recipients...)
		if err != nil {
			return fmt.Errorf("model: %w", err)
		}
		return nil
	}
	m, err := model.New(a.fed.Model, rng)
	if err != nil {
		return err
	}
	copy(m.Params(), a.model)
	if err := sealedmodel.Seal(path, m, a.fed.Data.Schema, a.stats.Transform, a.cfg.Identity.SigningKey(), recipients...); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	return nil
}
