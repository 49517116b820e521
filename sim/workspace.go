package sim

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/model"
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
			if w.researcher, err = vault.GenerateIdentity(); err != nil {
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
		id, err := vault.GenerateIdentity()
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

// federation generates every party's keys and writes the federation config.
func (w *workspace) federation(cfg Config, ds *data.Dataset, mcfg model.Config, parts []*data.Dataset) (*federation.Config, []party, *vault.Identity, error) {
	newParty := func(id string) (federation.Party, *vault.Identity, error) {
		key, err := vault.GenerateIdentity()
		if err != nil {
			return federation.Party{}, nil, err
		}
		w.keys[id] = string(vault.IdentityFileText(key))
		return federation.Party{ID: id, Recipient: key.Recipient().String(), SigningKey: vault.FormatSigningKey(key.SigningPublicKey())}, key, nil
	}
	aggParty, aggKey, err := newParty("aggregator")
	if err != nil {
		return nil, nil, nil, err
	}
	w.signer = aggKey
	fed := &federation.Config{
		Version: federation.Version, Name: "simulation", Aggregator: aggParty,
		Threshold: cfg.Threshold, MinContributors: cfg.minContributors(), MaxDecryptions: cfg.MaxDecryptions,
		HE: federation.HE{Enabled: cfg.HE, Preset: cfg.Preset, UpdateBound: cfg.UpdateBound},
		DP: federation.DP{Enabled: cfg.DP, Epsilon: cfg.Epsilon, Delta: cfg.Delta, Accountant: cfg.Accountant, Noise: cfg.Noise,
			ClipNorm: cfg.ClipNorm, SampleRate: cfg.SampleRate, PrivacyUnit: cfg.PrivacyUnit},
		Model: mcfg,
		Data:  federation.DataSpec{Options: ds.Options(), Schema: ds.Schema(), Normalize: cfg.Normalize, Stats: cfg.StatsSpec(ds.Schema())},
		Training: federation.Training{Rounds: cfg.Rounds, LocalSteps: cfg.LocalSteps, Local: cfg.Local, Server: cfg.Server,
			Weighting: cfg.Weighting, Compress: cfg.Compress, SpareRounds: cfg.SpareRounds()},
	}
	// The researcher's (or --recipient's) keys receive every sealed output,
	// the aggregator's checkpoints included.
	if cfg.EvalEpsilon > 0 {
		fed.Evaluation = federation.Evaluation{Enabled: true, Epsilon: cfg.EvalEpsilon, Holdout: cfg.EvalHoldout, Bins: federation.DefaultEvalBins}
	}
	for i, r := range w.recipients {
		fed.Auditors = append(fed.Auditors, federation.Party{ID: fmt.Sprintf("auditor%d", i+1), Recipient: r.String()})
	}
	var parties []party
	for i, p := range parts {
		mp, key, err := newParty(fmt.Sprintf("h%d", i+1))
		if err != nil {
			return nil, nil, nil, err
		}
		holder := cfg.Committee == 0 || i < cfg.Committee
		fed.Members = append(fed.Members, federation.Member{Party: mp, Contributor: true, KeyHolder: holder, Rows: p.Rows()})
		parties = append(parties, party{id: mp.ID, key: key, data: p})
	}
	if err := fed.Validate(); err != nil {
		return nil, nil, nil, err
	}
	if err := os.WriteFile(filepath.Join(w.dir, FileConfig), fed.Marshal(), 0o644); err != nil {
		return nil, nil, nil, err
	}
	if !w.temporary {
		keys, err := json.Marshal(w.keys)
		if err != nil {
			return nil, nil, nil, err
		}
		if err := vault.Seal(filepath.Join(w.dir, FileKeys), SealKindKeys, keys, aggKey.SigningKey(), w.recipients...); err != nil {
			return nil, nil, nil, err
		}
	}
	w.keys = nil
	return fed, parties, aggKey, nil
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
