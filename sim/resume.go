package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/fedcrypt/fedcrypt/aggregator"
	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/vault"
)

// FileRecord is the run record: the simulation's settings (Config's JSON,
// snake-case keys) and the seed of its split, so that a killed run can be
// resumed. It holds nothing secret. A record of an earlier version, whose
// settings' keys were Config's field names, is read too.
const FileRecord = "run.json"

type record struct {
	Config    Config `json:"config"`
	SplitSeed uint64 `json:"split_seed"`
}

func (w *workspace) writeRecord(cfg Config, splitSeed uint64) error {
	if w.temporary {
		return nil
	}
	b, err := json.MarshalIndent(record{Config: cfg, SplitSeed: splitSeed}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(w.dir, FileRecord), append(b, '\n'), 0o644)
}

// ReadConfig returns the settings a run in dir was started with.
func ReadConfig(dir string) (Config, error) {
	r, err := readRecord(dir)
	return r.Config, err
}

func readRecord(dir string) (record, error) {
	var r record
	b, err := os.ReadFile(filepath.Join(dir, FileRecord))
	if err != nil {
		return r, fmt.Errorf("resume %s: %w (was it run with --out?)", dir, err)
	}
	if b, err = snakeCaseRecord(b); err == nil {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		err = dec.Decode(&r)
	}
	if err != nil {
		return r, fmt.Errorf("resume %s: %s: %w", dir, FileRecord, err)
	}
	return r, nil
}

// snakeCaseRecord returns a run record with the settings' keys in snake
// case: a record written before they were (its keys the Go field names,
// "MinContributors") is rewritten, key by key ("min_contributors"), and any
// other record returned as it is. The settings' own values (optimizer,
// bounds by feature name) are left alone.
func snakeCaseRecord(b []byte) ([]byte, error) {
	var r struct {
		Config    map[string]json.RawMessage `json:"config"`
		SplitSeed json.RawMessage            `json:"split_seed"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	legacy := false
	cfg := map[string]json.RawMessage{}
	for k, v := range r.Config {
		s := snakeCase(k)
		legacy = legacy || s != k
		cfg[s] = v
	}
	if !legacy {
		return b, nil
	}
	r.Config = cfg
	return json.Marshal(r)
}

// snakeCase turns a Go field name into the key its JSON tag gives it:
// words split where a lower-case letter or digit meets an upper-case one, or
// before the last capital of an acronym ("HE" is "he", "OutDir" "out_dir").
func snakeCase(name string) string {
	rs := []rune(name)
	var b strings.Builder
	for i, c := range rs {
		if unicode.IsUpper(c) && i > 0 {
			prev := rs[i-1]
			if unicode.IsLower(prev) || unicode.IsDigit(prev) || unicode.IsUpper(prev) && i+1 < len(rs) && unicode.IsLower(rs[i+1]) {
				b.WriteByte('_')
			}
		}
		b.WriteRune(unicode.ToLower(c))
	}
	return b.String()
}

// Resume continues the run killed in dir, on the same data set ds: the
// parties' keys are opened from the sealed key file with id (nil: the
// researcher key the run generated in dir), each hospital restores its
// sealed setup state and ledger, and the aggregator continues from its
// sealed checkpoint after the last completed round. The result describes
// the whole run: the rounds before the checkpoint are rebuilt from the
// run's audit log and what its metrics file holds of them, and OnRound
// receives them first. Hooks (OnRound,
// Logger, AggregatorView, Timeout) are taken from hooks; every other
// setting is the run's own.
func Resume(ctx context.Context, ds *data.Dataset, dir string, id *vault.Identity, hooks Config) (*Result, error) {
	return ResumeSites(ctx, []Site{{Data: ds}}, dir, id, hooks)
}

// ResumeSites is [Resume] for a run of [RunSites], given the same sites.
func ResumeSites(ctx context.Context, sites []Site, dir string, id *vault.Identity, hooks Config) (*Result, error) {
	rec, err := readRecord(dir)
	if err != nil {
		return nil, err
	}
	cfg := rec.Config
	cfg.OutDir = dir
	cfg.OnRound, cfg.Logger, cfg.AggregatorView, cfg.Timeout = hooks.OnRound, hooks.Logger, hooks.AggregatorView, hooks.Timeout
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	fed, err := federation.Load(filepath.Join(dir, FileConfig))
	if err != nil {
		return nil, err
	}
	for _, s := range sites {
		if err := fed.Data.Schema.Check(s.Data); err != nil {
			return nil, fmt.Errorf("resume %s: the data set is not the run's: %w", dir, err)
		}
	}
	if id == nil {
		if id, err = vault.ReadIdentityFile(filepath.Join(dir, FileResearcher), nil); err != nil {
			return nil, fmt.Errorf("resume %s: no researcher key (give the identity the run was sealed to): %w", dir, err)
		}
	}
	aggPub, err := fed.Aggregator.PublicKey()
	if err != nil {
		return nil, err
	}
	raw, err := vault.Unseal(filepath.Join(dir, FileKeys), SealKindKeys, aggPub, id)
	if err != nil {
		return nil, fmt.Errorf("resume %s: %w", dir, err)
	}
	var texts map[string]string
	err = json.Unmarshal(raw, &texts)
	clear(raw)
	if err != nil {
		return nil, fmt.Errorf("resume %s: keys: %w", dir, err)
	}
	key := func(pid string) (*vault.Identity, error) {
		k, err := vault.ParseIdentity(bytes.NewReader([]byte(texts[pid])))
		if err != nil {
			return nil, fmt.Errorf("resume %s: key of %s: %w", dir, pid, err)
		}
		return k, nil
	}
	train, test, parts, tests, err := splitSites(sites, cfg, rec.SplitSeed)
	if err != nil {
		return nil, err
	}
	if len(parts) != len(fed.Members) {
		return nil, fmt.Errorf("resume %s: %d hospitals in the config, %d partitions", dir, len(fed.Members), len(parts))
	}
	aggKey, err := key(fed.Aggregator.ID)
	if err != nil {
		return nil, err
	}
	var parties []party
	for i, m := range fed.Members {
		k, err := key(m.ID)
		if err != nil {
			return nil, err
		}
		parties = append(parties, party{id: m.ID, key: k, data: parts[i]})
	}
	cp, err := aggregator.LoadCheckpoint(dir, fed, aggKey)
	if errors.Is(err, fs.ErrNotExist) {
		cp = &aggregator.Checkpoint{} // killed before the first round completed
	} else if err != nil {
		return nil, fmt.Errorf("resume %s: %w", dir, err)
	}
	w := &workspace{dir: dir, stateDir: filepath.Join(dir, DirHospitals), signer: aggKey}
	if w.recipients, err = fed.AuditorRecipients(); err != nil {
		return nil, err
	}
	prior, err := readHistory(dir, fed, cp)
	if err != nil {
		return nil, err
	}
	return execute(ctx, cfg, w, fed, parties, aggKey, train, test, tests, cp, prior)
}
