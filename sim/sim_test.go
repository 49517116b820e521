package sim

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedcrypt/fedcrypt/audit"
	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/he"
	"github.com/fedcrypt/fedcrypt/internal/sealedmodel"
	"github.com/fedcrypt/fedcrypt/protocol"
	"github.com/fedcrypt/fedcrypt/vault"
)

func wdbc(t testing.TB) *data.Dataset {
	t.Helper()
	csv, opt, _ := data.Embedded("wdbc")
	ds, _, err := data.Load(bytes.NewReader(csv), "wdbc", opt)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func seeded(s uint64) *uint64 { return &s }

// run runs cfg on wdbc, with its published feature ranges unless cfg
// declares bounds, as `fedcrypt sim` does.
func run(t *testing.T, cfg Config) *Result {
	t.Helper()
	if cfg.Bounds == nil {
		cfg.Bounds, _ = data.EmbeddedBounds("wdbc")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := Run(ctx, wdbc(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestSmallFederations runs small federations with each protection on and
// off, and checks that they learn and account for privacy.
func TestSmallFederations(t *testing.T) {
	cases := []struct {
		name   string
		he, dp bool
		minAcc float64
	}{
		{"he+dp", true, true, 0.88},
		{"he only", true, false, 0.93},
		{"dp only", false, true, 0.88},
		{"neither", false, false, 0.93},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := Defaults()
			cfg.HE, cfg.DP, cfg.Seed = c.he, c.dp, seeded(7)
			res := run(t, cfg)
			if res.Rounds != cfg.Rounds || res.Ended != "all rounds completed" {
				t.Fatalf("%d rounds, ended %q", res.Rounds, res.Ended)
			}
			if res.Accuracy < c.minAcc {
				t.Errorf("accuracy %.4f < %.2f", res.Accuracy, c.minAcc)
			}
			if res.Encrypted != c.he || res.DP != c.dp {
				t.Errorf("result says encrypted=%v dp=%v", res.Encrypted, res.DP)
			}
			if c.dp {
				// The noise is calibrated so the planned steps spend the
				// whole budget, and never more.
				if res.Epsilon > cfg.Epsilon || res.Epsilon < 0.9*cfg.Epsilon {
					t.Errorf("ε spent %.4f, want just under the cap %g", res.Epsilon, cfg.Epsilon)
				}
				if !(res.NoiseMultiplier > 0.3) {
					t.Errorf("noise multiplier %v", res.NoiseMultiplier)
				}
			} else if res.Epsilon != 0 {
				t.Errorf("ε %v claimed without DP", res.Epsilon)
			}
			for i, h := range res.History {
				if i > 0 && c.dp && h.Epsilon < res.History[i-1].Epsilon {
					t.Errorf("ε decreased from round %d to %d", i, i+1)
				}
				if len(h.Contributors) != 3 || h.BytesUp <= 0 {
					t.Errorf("round %d: %d contributors, %d bytes", h.Round, len(h.Contributors), h.BytesUp)
				}
			}
		})
	}
}

// TestSeedReproduces runs one seeded simulation twice, encrypted and with
// the private evaluation, and once with another seed: the first two write
// the same result and rounds files, config hash included (the parties' keys
// come from the seed too), but for how long they took and where; the third
// another.
func TestSeedReproduces(t *testing.T) {
	files := func(seed uint64) (result, rounds string) {
		t.Helper()
		cfg := Defaults()
		cfg.Rounds, cfg.Seed, cfg.Epsilon, cfg.EvalEpsilon = 2, seeded(seed), 4, 2
		cfg.OutDir = filepath.Join(t.TempDir(), "run")
		res := run(t, cfg)
		if res.PrivateEvaluation == nil || len(res.PrivateEvaluation.Sites) != 3 || !res.Encrypted {
			t.Fatalf("evaluation %+v, encrypted %v", res.PrivateEvaluation, res.Encrypted)
		}
		return untimedResult(t, filepath.Join(cfg.OutDir, FileResult)), untimedRounds(t, filepath.Join(cfg.OutDir, FileRounds))
	}
	r1, c1 := files(11)
	r2, c2 := files(11)
	r3, c3 := files(12)
	if r1 != r2 {
		t.Errorf("two runs with one seed wrote different results:\n%s", firstDifference(r1, r2))
	}
	if c1 != c2 {
		t.Errorf("two runs with one seed wrote different rounds:\n%s", firstDifference(c1, c2))
	}
	if r1 == r3 || c1 == c3 {
		t.Error("runs with two seeds wrote the same result or rounds")
	}
}

// TestSeedRefusesGoogleNoise: Google's sampler cannot be seeded, so a
// seeded run refuses it.
func TestSeedRefusesGoogleNoise(t *testing.T) {
	cfg := Defaults()
	cfg.Noise, cfg.Seed = "google", seeded(1)
	if _, err := Run(context.Background(), wdbc(t), cfg); err == nil || !strings.Contains(err.Error(), "--noise") {
		t.Fatalf("a seeded run with Google's sampler: %v", err)
	}
}

// untimedResult returns the result file without what says how long and
// where: its "seconds" wherever they are and the output directory. The
// config's hash stays: under a seed the parties' keys repeat too.
func untimedResult(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	delete(v, "out")
	var strip func(any)
	strip = func(x any) {
		switch x := x.(type) {
		case map[string]any:
			delete(x, "seconds")
			for _, y := range x {
				strip(y)
			}
		case []any:
			for _, y := range x {
				strip(y)
			}
		}
	}
	strip(v)
	if b, err = json.MarshalIndent(v, "", "  "); err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// untimedRounds returns the rounds file without its seconds column.
func untimedRounds(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) < 2 {
		t.Fatalf("%s: %d rows, %v", path, len(rows), err)
	}
	col := slices.Index(rows[0], "seconds")
	if col < 0 {
		t.Fatalf("%s: no seconds column in %q", path, rows[0])
	}
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintln(&b, strings.Join(slices.Delete(r, col, col+1), ","))
	}
	return b.String()
}

// firstDifference shows the first line where a and b differ.
func firstDifference(a, b string) string {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			return fmt.Sprintf("line %d: %s\nvs      %s", i+1, la[i], lb[i])
		}
	}
	return fmt.Sprintf("%d lines vs %d", len(la), len(lb))
}

// TestOutputsVerifyAndOpen checks the artefacts of a run with --out: the
// audit log verifies against the written config, and sealed files open with
// the researcher's key and name the right writer.
func TestOutputsVerifyAndOpen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	cfg := Defaults()
	cfg.Rounds, cfg.Seed, cfg.OutDir = 3, seeded(3), dir
	res := run(t, cfg)
	fed, err := federation.Load(filepath.Join(dir, FileConfig))
	if err != nil {
		t.Fatal(err)
	}
	if fed.Hash().String() != res.ConfigHash {
		t.Fatal("written config's hash differs from the run's")
	}
	entries, _, err := audit.Verify(filepath.Join(dir, FileAudit), fed.Hash(), fed.SigningKey)
	if err != nil {
		t.Fatal(err)
	}
	var rounds int
	for _, e := range entries {
		if e.Type == "round" {
			rounds++
		}
	}
	if entries[0].Type != "setup" || entries[len(entries)-1].Type != "end" || rounds != 3 {
		t.Fatalf("audit log: first %q, last %q, %d rounds", entries[0].Type, entries[len(entries)-1].Type, rounds)
	}
	researcher, err := vault.ReadIdentityFile(filepath.Join(dir, FileResearcher), nil)
	if err != nil {
		t.Fatal(err)
	}
	aggPub, _ := fed.Aggregator.PublicKey()
	m, sm, err := sealedmodel.Unseal(filepath.Join(dir, FileModel), aggPub, researcher)
	if err != nil {
		t.Fatal(err)
	}
	if m.NumParams() != res.Params || len(sm.Schema.Features) != 30 {
		t.Fatalf("sealed model: %d parameters, %d features", m.NumParams(), len(sm.Schema.Features))
	}
	if _, err := vault.Unseal(filepath.Join(dir, FileCheckpoint), "fedcrypt/checkpoint", aggPub, researcher); err != nil {
		t.Fatalf("checkpoint does not open for the researcher: %v", err)
	}
	// Every file but the public ones is an age file.
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if d.IsDir() {
			return nil
		}
		switch filepath.Base(path) {
		case FileConfig, FileAudit, FileRounds, FileResult, FileResearcher, FileRecord:
			return nil
		}
		if enc, err := vault.IsEncrypted(path); err != nil || !enc {
			t.Errorf("%s is not an age file", path)
		}
		return nil
	})
}

// TestCollusionCannotDecryptAnUpload gives an adversary everything the
// aggregator received and the key-holder states of T−1 hospitals, and checks
// that no single upload decrypts: every combination of decryption shares
// it can assemble is refused or yields a vector that cannot be an update
// (an update is clipped to L2 ≤ the federation's bound).
func TestCollusionCannotDecryptAnUpload(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	var mu sync.Mutex
	var view [][]byte
	cfg := Defaults()
	cfg.Rounds, cfg.Seed, cfg.OutDir = 2, seeded(5), dir
	cfg.AggregatorView = func(from string, msg []byte) {
		mu.Lock()
		view = append(view, msg)
		mu.Unlock()
	}
	run(t, cfg)
	fed, _ := federation.Load(filepath.Join(dir, FileConfig))
	params, err := fed.CKKS()
	if err != nil {
		t.Fatal(err)
	}
	// The colluders: T−1 = 1 key holder, h1, whose sealed state the
	// adversary opens with h1's identity.
	researcher, _ := vault.ReadIdentityFile(filepath.Join(dir, FileResearcher), nil)
	aggPub, _ := fed.Aggregator.PublicKey()
	rawKeys, err := vault.Unseal(filepath.Join(dir, FileKeys), SealKindKeys, aggPub, researcher)
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]string
	json.Unmarshal(rawKeys, &keys)
	h1, err := vault.ParseIdentity(strings.NewReader(keys["h1"]))
	if err != nil {
		t.Fatal(err)
	}
	h1Pub, _ := fed.SigningKey("h1")
	raw, err := vault.Unseal(filepath.Join(dir, DirHospitals, "h1.setup.age"), "fedcrypt/setup-state", h1Pub, h1)
	if err != nil {
		t.Fatal(err)
	}
	var state struct{ Holder []byte }
	if err := json.Unmarshal(raw, &state); err != nil {
		t.Fatal(err)
	}
	colluder, err := he.UnmarshalKeyHolder(params, state.Holder)
	if err != nil {
		t.Fatal(err)
	}
	var uploads [][]byte
	var honestShares [][]byte
	for _, raw := range view {
		env, err := protocol.ParseEnvelope(raw)
		if err != nil {
			t.Fatal(err)
		}
		switch env.Kind {
		case protocol.KindUpload:
			u, _ := protocol.ParseUpload(env.Body)
			uploads = append(uploads, u.Payload)
		case protocol.KindShare:
			s, _ := protocol.ParseShare(env.Body)
			if env.From != "h1" {
				honestShares = append(honestShares, s.Share)
			}
		}
	}
	if len(uploads) != 6 || len(honestShares) == 0 {
		t.Fatalf("aggregator saw %d uploads and %d honest decryption shares", len(uploads), len(honestShares))
	}
	bound := fed.HE.UpdateBound
	for i, up := range uploads {
		for _, other := range []string{"h2", "h3"} {
			set := []int{fed.Index("h1"), fed.Index(other)}
			own, err := colluder.DecryptionShare(up, set, rand.Reader)
			if err != nil {
				continue // refused (e.g. the decryption cap): nothing learned
			}
			for _, hs := range honestShares {
				sum := he.NewSum(params)
				if err := sum.Add(up); err != nil {
					t.Fatal(err)
				}
				vals, err := sum.Decrypt([][]byte{own, hs})
				if err != nil {
					continue
				}
				var ss float64
				for _, v := range vals {
					ss += v * v
				}
				if math.Sqrt(ss) <= bound*1.01 {
					t.Fatalf("upload %d decrypted by h1 with a share the aggregator saw: L2 %.3g ≤ bound", i, math.Sqrt(ss))
				}
			}
		}
	}
}

func TestInvalidSettings(t *testing.T) {
	cases := map[string]func(*Config){
		"T > N":            func(c *Config) { c.Threshold = 4 },
		"T < 2":            func(c *Config) { c.Threshold = 1 },
		"ε ≤ 0":            func(c *Config) { c.Epsilon = 0 },
		"unknown model":    func(c *Config) { c.Model = "forest" },
		"too many parties": func(c *Config) { c.Hospitals = 500 },
		"dropout 1":        func(c *Config) { c.Dropout = 1 },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := Defaults()
			mutate(&cfg)
			if _, err := Run(context.Background(), wdbc(t), cfg); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// TestPatientLevelPrivacy runs a federation whose rows belong to patients
// (two visits each): sampling and clipping are per patient, the result and
// every hospital's signed claim name the privacy unit, and ε stays under
// the cap.
func TestPatientLevelPrivacy(t *testing.T) {
	csv, _, _ := data.Embedded("wdbc")
	lines := strings.Split(strings.TrimSpace(string(csv)), "\n")
	var b strings.Builder
	b.WriteString(lines[0] + ",patient\n")
	for i, l := range lines[1:] {
		fmt.Fprintf(&b, "%s,P%04d\n", l, i/2)
	}
	ds, _, err := data.Load(strings.NewReader(b.String()), "visits.csv", data.Options{Label: "diagnosis", Positive: "M", PrivacyUnit: "patient"})
	if err != nil {
		t.Fatal(err)
	}
	if ds.NumUnits() != (len(lines)-1+1)/2 {
		t.Fatalf("%d patients", ds.NumUnits())
	}
	dir := filepath.Join(t.TempDir(), "run")
	cfg := Defaults()
	cfg.PrivacyUnit, cfg.Seed, cfg.OutDir = "patient", seeded(4), dir
	cfg.Bounds, _ = data.EmbeddedBounds("wdbc")
	res, err := Run(context.Background(), ds, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.PrivacyUnit != "patient" || res.Epsilon > cfg.Epsilon || res.Accuracy < 0.85 {
		t.Fatalf("privacy unit %q, ε %v, accuracy %v", res.PrivacyUnit, res.Epsilon, res.Accuracy)
	}
	fed, _ := federation.Load(filepath.Join(dir, FileConfig))
	entries, _, err := audit.Verify(filepath.Join(dir, FileAudit), fed.Hash(), fed.SigningKey)
	if err != nil {
		t.Fatal(err)
	}
	claims := 0
	for _, e := range entries {
		if e.Type != "round" {
			continue
		}
		var body struct {
			Uploads []struct{ Claim []byte }
		}
		json.Unmarshal(e.Body, &body)
		for _, u := range body.Uploads {
			env, err := protocol.ParseEnvelope(u.Claim)
			if err != nil {
				t.Fatal(err)
			}
			c, _ := protocol.ParseClaim(env.Body)
			if c.DP.PrivacyUnit != "patient" {
				t.Fatalf("claim of %s names privacy unit %q", env.From, c.DP.PrivacyUnit)
			}
			claims++
		}
	}
	if claims != 3*cfg.Rounds {
		t.Fatalf("%d claims in the audit log, want %d", claims, 3*cfg.Rounds)
	}
}

// TestCommittee runs a federation in which only a committee of hospitals
// holds key shares: the others contribute, and decryption sets are drawn
// from the committee only.
func TestCommittee(t *testing.T) {
	cfg := Defaults()
	cfg.Hospitals, cfg.Committee, cfg.Threshold, cfg.Rounds, cfg.Seed = 6, 3, 2, 2, seeded(6)
	res := run(t, cfg)
	for _, h := range res.History {
		if len(h.Contributors) != 6 {
			t.Fatalf("round %d: %d contributors, want all 6", h.Round, len(h.Contributors))
		}
		for _, id := range h.DecryptSet {
			if id != "h1" && id != "h2" && id != "h3" {
				t.Fatalf("round %d: %s decrypted, not a committee member", h.Round, id)
			}
		}
	}
}

// TestPrivateEvaluation asks each hospital for noisy confusion counts on
// its own held-out rows: the federation learns only their sum, every
// hospital's ledger stays within the cap with the release included, and
// the log records the evaluation.
func TestPrivateEvaluation(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	cfg := Defaults()
	// A budget of 4 with 2 for the release keeps the noise on each count
	// near 5 (sensitivity √2 with the score histograms), so the bounds
	// below sit five standard deviations out or more: the noise is drawn
	// from the system's randomness, not the seed.
	cfg.Epsilon, cfg.EvalEpsilon, cfg.Seed, cfg.OutDir = 4, 2, seeded(8), dir
	res := run(t, cfg)
	ev := res.PrivateEvaluation
	if ev == nil || ev.Reason != "" || len(ev.Contributors) != 3 {
		t.Fatalf("evaluation %+v", ev)
	}
	var total float64
	for _, row := range ev.Confusion {
		for _, c := range row {
			total += c
		}
	}
	// About a fifth of 455 training rows are held out: the noisy total
	// must be of that order.
	if total < 40 || total > 160 || ev.Accuracy < 0 || ev.Accuracy > 1 || ev.NoiseStdDev <= 0 {
		t.Fatalf("total count %v, accuracy %v, noise %v", total, ev.Accuracy, ev.NoiseStdDev)
	}
	if trained := res.History[len(res.History)-1].Epsilon; trained > cfg.Epsilon-0.01 {
		t.Fatalf("training spent ε %v, leaving no room for the release under the cap %v", trained, cfg.Epsilon)
	}
	if slices.Contains(ev.Undefined, "auc") || ev.AUC < 0 || ev.AUC > 1 {
		t.Errorf("the federation's AUC %v (undefined: %v)", ev.AUC, ev.Undefined)
	}
	// Each site's own release, sealed to the researcher, is what the site
	// added to the sum: its clamped counts add up to at least the clamped
	// totals, and each counts about its fifth of a third of the rows.
	if len(ev.Sites) != 3 || ev.SiteMean == nil || ev.SiteMean.Sites != 3 {
		t.Fatalf("sites %+v, mean %+v", ev.Sites, ev.SiteMean)
	}
	var sites float64
	for _, s := range ev.Sites {
		sites += s.Rows
		if s.Rows < 5 || s.Rows > 80 || s.NoiseStdDev <= 0 || s.NoiseStdDev >= ev.NoiseStdDev {
			t.Errorf("site %s: %v rows, noise %v (the federation's %v)", s.ID, s.Rows, s.NoiseStdDev, ev.NoiseStdDev)
		}
	}
	if sites < total-1e-9 {
		t.Errorf("the sites' counts add up to %v, below the federation's %v", sites, total)
	}
	fed, _ := federation.Load(filepath.Join(dir, FileConfig))
	entries, _, err := audit.Verify(filepath.Join(dir, FileAudit), fed.Hash(), fed.SigningKey)
	if err != nil {
		t.Fatal(err)
	}
	if entries[len(entries)-2].Type != "evaluation" {
		t.Fatalf("the entry before the end is %q, want the evaluation", entries[len(entries)-2].Type)
	}
	// The ε the run reports is the ledgers' final one, the release
	// included: what the audit recomputes from the signed claims.
	verified, err := audit.VerifyFile(filepath.Join(dir, FileAudit), fed, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The log carries the same sealed releases: the researcher opens them
	// from it, and nobody else can.
	researcher, err := vault.ReadIdentityFile(filepath.Join(dir, FileResearcher), nil)
	if err != nil {
		t.Fatal(err)
	}
	if verified.Evaluation == nil || verified.Evaluation.Totals == nil || verified.Evaluation.Totals.Accuracy != ev.Accuracy {
		t.Fatalf("the log's evaluation %+v, the run's accuracy %v", verified.Evaluation, ev.Accuracy)
	}
	stranger, _ := vault.GenerateIdentity()
	if err := verified.Evaluation.OpenSites(fed, stranger); !errors.Is(err, vault.ErrNoIdentityMatch) {
		t.Errorf("a key that is not an auditor's opened the site releases: %v", err)
	}
	if err := verified.Evaluation.OpenSites(fed, researcher); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(verified.Evaluation.Sites, ev.Sites) {
		t.Errorf("sites from the log %+v, from the run %+v", verified.Evaluation.Sites, ev.Sites)
	}
	var recomputed float64
	for _, h := range verified.Hospitals {
		_, r := h.Epsilon()
		recomputed = max(recomputed, r)
	}
	var written Result
	if b, err := os.ReadFile(filepath.Join(dir, FileResult)); err != nil || json.Unmarshal(b, &written) != nil {
		t.Fatalf("%s: %v", FileResult, err)
	}
	for name, eps := range map[string]float64{"result": res.Epsilon, FileResult: written.Epsilon} {
		if math.Abs(eps-recomputed) > 1e-9*recomputed {
			t.Errorf("%s: ε %v, the audit recomputes %v", name, eps, recomputed)
		}
	}
}

// TestNoiseMultiplierIsTheRunsOwn checks the noise multiplier said before a
// run against the one its hospitals calibrated: with the statistics
// release, a private evaluation and a spare round for dropouts.
func TestNoiseMultiplierIsTheRunsOwn(t *testing.T) {
	cfg := Defaults()
	cfg.HE, cfg.Seed, cfg.Rounds = false, seeded(5), 2
	cfg.EvalEpsilon, cfg.Dropout = 0.2, 0.01
	want, err := cfg.NoiseMultiplier(wdbc(t).Schema(), cfg.SpareRounds())
	if err != nil {
		t.Fatal(err)
	}
	res := run(t, cfg)
	if math.Abs(res.NoiseMultiplier-want) > 1e-6*want {
		t.Fatalf("the run's noise multiplier %v, said before it %v", res.NoiseMultiplier, want)
	}
	// Without the spare round the same budget buys less noise.
	if less, _ := cfg.NoiseMultiplier(wdbc(t).Schema(), 0); !(less < want) {
		t.Fatalf("without the spare round %v, with it %v", less, want)
	}
}
