package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestConfigKeysAreSnakeCase: every setting of the run record is keyed in
// snake case, by the name a record of the earlier version is read under.
func TestConfigKeysAreSnakeCase(t *testing.T) {
	for f := range reflect.TypeFor[Config]().Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "-" && name != snakeCase(f.Name) {
			t.Errorf("Config.%s is keyed %q, want %q", f.Name, name, snakeCase(f.Name))
		}
	}
	for in, want := range map[string]string{"HE": "he", "OutDir": "out_dir", "MinContributors": "min_contributors", "AUC": "auc", "EvalAUCBins": "eval_auc_bins"} {
		if got := snakeCase(in); got != want {
			t.Errorf("snakeCase(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRecordRoundTrip writes a run record and reads it back.
func TestRecordRoundTrip(t *testing.T) {
	cfg := Defaults()
	cfg.Seed, cfg.Dropout, cfg.Sites, cfg.Compress, cfg.StatsShare = seeded(4), 0.1, []string{"a", "b", "c"}, "randk:0.5", 0.2
	cfg.Bounds, cfg.Data, cfg.Timeout = map[string][2]float64{"Age": {0, 120}}, json.RawMessage(`{"path":"x.csv"}`), time.Minute
	cfg.Recipients = []string{"age1researcher"}
	w := &workspace{dir: t.TempDir()}
	if err := w.writeRecord(cfg, 77); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(w.dir, FileRecord))
	var keys struct{ Config map[string]json.RawMessage }
	if err := json.Unmarshal(raw, &keys); err != nil {
		t.Fatal(err)
	}
	for k := range keys.Config {
		if k != strings.ToLower(k) {
			t.Errorf("key %q in %s", k, FileRecord)
		}
	}
	r, err := readRecord(w.dir)
	if err != nil {
		t.Fatal(err)
	}
	var data bytes.Buffer
	if err := json.Compact(&data, r.Config.Data); err != nil || !bytes.Equal(data.Bytes(), cfg.Data) {
		t.Errorf("data %s, want %s", r.Config.Data, cfg.Data)
	}
	r.Config.Data = cfg.Data
	if !reflect.DeepEqual(r.Config, cfg) || r.SplitSeed != 77 {
		t.Fatalf("read back %+v, split seed %d; wrote %+v", r.Config, r.SplitSeed, cfg)
	}
}

// TestResumeRecordOfEarlierVersion resumes a run killed after its first
// round whose run record is of the earlier version (testdata, as that
// version wrote it, with the settings keyed by Go field names).
func TestResumeRecordOfEarlierVersion(t *testing.T) {
	old, err := os.ReadFile(filepath.Join("testdata", "run-pascalcase.json"))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "run")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, FileRecord), old, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := ReadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := Defaults()
	want.Rounds, want.Seed, want.Epsilon, want.EvalEpsilon = 3, seeded(21), 2, 0.5
	want.Bounds = map[string][2]float64{"radius_mean": {6.981, 28.11}, "texture_mean": {9.71, 39.28}}
	want.OutDir, want.Data = "runs/old", json.RawMessage(`{"embedded":"wdbc"}`)
	var data bytes.Buffer
	if err := json.Compact(&data, cfg.Data); err != nil || !bytes.Equal(data.Bytes(), want.Data) {
		t.Errorf("data %s, want %s", cfg.Data, want.Data)
	}
	cfg.Data = want.Data
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("read %+v\nwant %+v", cfg, want)
	}

	// The run's own split seed is the record's: the seed's.
	os.Remove(filepath.Join(dir, FileRecord))
	cfg.OutDir = dir
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg.OnRound = func(r RoundReport) {
		if r.Completed {
			cancel()
		}
	}
	if _, err := Run(ctx, wdbc(t), cfg); !errors.Is(err, context.Canceled) {
		t.Fatalf("the run killed after its first round: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, FileRecord), old, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := Resume(ctx, wdbc(t), dir, nil, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if res.ResumedAfter < 1 || res.Rounds != 3 || res.Ended != "all rounds completed" || res.PrivateEvaluation == nil {
		t.Fatalf("resumed after %d rounds, %d rounds, ended %q, evaluation %+v", res.ResumedAfter, res.Rounds, res.Ended, res.PrivateEvaluation)
	}
}
