package sim

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/vault"
)

// Names of the files a run writes to its output directory.
const (
	FileConfig     = "federation.json"   // the federation's config (public)
	FileAudit      = "audit.jsonl"       // the signed, hash-chained audit log (public)
	FileCheckpoint = "checkpoint.age"    // the aggregator's sealed checkpoint
	FileModel      = "model.age"         // the final model and its feature transform, sealed
	FileRounds     = "rounds.csv"        // per-round metrics (public)
	FileResult     = "result.json"       // the run's summary (public)
	FileKeys       = "keys.age"          // every party's identity, sealed to the researcher
	FileResearcher = "researcher.key"    // the researcher's age identity, when no --recipient was given
	DirHospitals   = "hospitals"         // the hospitals' sealed ledgers, key-holder state and audit witnesses
	SealKindModel  = "fedcrypt/model"    // sealed kind of FileModel
	SealKindKeys   = "fedcrypt/sim-keys" // sealed kind of FileKeys
)

// workspace is where a run keeps its files.
type workspace struct {
	dir        string // output directory (a temporary one without OutDir)
	temporary  bool
	stateDir   string // hospitals' sealed state; "" keeps it in memory
	recipients []vault.Recipient
	researcher *vault.Identity // generated when no recipient was given
	signer     *vault.Identity // the aggregator, which seals the run's outputs
	keys       map[string]string
}

func newWorkspace(cfg Config) (*workspace, error) {
	w := &workspace{keys: map[string]string{}}
	for _, s := range cfg.Recipients {
		r, err := vault.ParseRecipient(s)
		if err != nil {
			return nil, fmt.Errorf("--recipient: %w", err)
		}
		w.recipients = append(w.recipients, r)
	}
	if cfg.OutDir == "" {
		dir, err := os.MkdirTemp("", "fedcrypt-sim-")
		if err != nil {
			return nil, err
		}
		w.dir, w.temporary = dir, true
		// The researcher audits the run: the hospitals' own evaluation
		// releases are sealed to it. Its key lives as long as the run.
		if len(w.recipients) == 0 {
			if w.researcher, err = identity(cfg.Seed, "researcher"); err != nil {
				return nil, err
			}
			w.recipients = append(w.recipients, w.researcher.Recipient())
		}
		return w, nil
	}
	w.dir = cfg.OutDir
	if err := CheckOutDir(w.dir); err != nil {
		return nil, err
	}
	w.stateDir = filepath.Join(w.dir, DirHospitals)
	if err := os.MkdirAll(w.stateDir, 0o700); err != nil {
		return nil, err
	}
	if len(w.recipients) == 0 {
		id, err := identity(cfg.Seed, "researcher")
		if err != nil {
			return nil, err
		}
		if err := vault.WriteIdentityFile(filepath.Join(w.dir, FileResearcher), id, nil, 0); err != nil {
			return nil, err
		}
		w.researcher = id
		w.recipients = append(w.recipients, id.Recipient())
	}
	return w, nil
}

func (w *workspace) cleanup() {
	if w.temporary {
		os.RemoveAll(w.dir)
	}
}

// federation builds the federation of cfg's settings over parts, one
// member per part, with every party's keys, and writes its config.
func (w *workspace) federation(cfg Config, ds *data.Dataset, parts []*data.Dataset) (*federation.Config, []party, *vault.Identity, error) {
	p := Parties{Name: "simulation", Auditors: w.recipients, SpareRounds: cfg.SpareRounds()}
	for i, part := range parts {
		p.Members = append(p.Members, fmt.Sprintf("h%d", i+1))
		p.Rows = append(p.Rows, part.Rows())
	}
	fed, keys, err := NewFederation(cfg, ds, p)
	if err != nil {
		return nil, nil, nil, err
	}
	for id, k := range keys {
		w.keys[id] = string(vault.IdentityFileText(k))
	}
	w.signer = keys["aggregator"]
	var parties []party
	for i, part := range parts {
		id := p.Members[i]
		parties = append(parties, party{id: id, key: keys[id], data: part})
	}
	if err := os.WriteFile(filepath.Join(w.dir, FileConfig), fed.Marshal(), 0o644); err != nil {
		return nil, nil, nil, err
	}
	if !w.temporary {
		keys, err := json.Marshal(w.keys)
		if err != nil {
			return nil, nil, nil, err
		}
		if err := vault.Seal(filepath.Join(w.dir, FileKeys), SealKindKeys, keys, w.signer.SigningKey(), w.recipients...); err != nil {
			return nil, nil, nil, err
		}
	}
	w.keys = nil
	return fed, parties, w.signer, nil
}

// writeArtifacts writes the public per-round metrics and summary.
func (w *workspace) writeArtifacts(res *Result) error {
	if w.temporary {
		return nil
	}
	// The aggregator sealed the model (FileModel) to the members and the
	// auditors: the researcher's recipients.
	if err := writeRounds(filepath.Join(w.dir, FileRounds), res.History); err != nil {
		return err
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(w.dir, FileResult), append(b, '\n'), 0o644)
}

// CheckOutDir refuses an output directory that already holds files: a run
// never overwrites another's artefacts.
func CheckOutDir(dir string) error {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("--out %s: directory is not empty (a run never overwrites another's artefacts)", dir)
	}
	return nil
}
