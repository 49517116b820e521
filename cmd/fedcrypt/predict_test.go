package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/internal/sealedmodel"
	"github.com/fedcrypt/fedcrypt/model"
	"github.com/fedcrypt/fedcrypt/vault"
	"gonum.org/v1/gonum/mat"
)

// trainedModel is a logistic regression trained on train's rows, with the
// transform fitted on them.
type trainedModel struct {
	m  *model.Model
	tf *data.Transform
	sc data.Schema
}

func trainModel(t testing.TB, train *data.Dataset) trainedModel {
	t.Helper()
	tf, err := data.FitTransform(train.X, train.Options().Imputation(), data.NormalizeZScore)
	if err != nil {
		t.Fatal(err)
	}
	x := mat.NewDense(train.Rows(), len(train.Features), nil)
	if err := tf.Apply(x, train.X); err != nil {
		t.Fatal(err)
	}
	cfg, err := model.ParseSpec("logreg", len(train.Features), len(train.Classes))
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.New(cfg, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	if err := model.Fit(m, x, train.Y, model.FitConfig{Epochs: 30, BatchSize: 32, Seed: 1,
		Optimizer: model.OptimizerConfig{Name: model.OptAdam, LR: 0.01}}); err != nil {
		t.Fatal(err)
	}
	return trainedModel{m: m, tf: tf, sc: train.Schema()}
}

// predictFixture is a hospital's keys, a sealed model trained on part of
// wdbc, and the held-out rows, plain and encrypted.
type predictFixture struct {
	dir      string
	key      keygenResult
	tm       trainedModel
	test     *data.Dataset
	testCSV  []byte
	sealed   string
	rowsAge  string
	rowsPlan string
}

func newPredictFixture(t *testing.T) *predictFixture {
	t.Helper()
	f := &predictFixture{dir: t.TempDir()}
	f.key = keygenFor(t, f.dir, "hospital")
	id, err := vault.ReadIdentityFile(f.key.Identity, nil)
	if err != nil {
		t.Fatal(err)
	}
	ds, _, err := data.LoadEmbedded("wdbc", data.Options{})
	if err != nil {
		t.Fatal(err)
	}
	train, test, err := data.StratifiedSplit(ds, 0.25, 7)
	if err != nil {
		t.Fatal(err)
	}
	f.test = test
	f.tm = trainModel(t, train)
	f.sealed = filepath.Join(f.dir, "model.age")
	if err := sealedmodel.Seal(f.sealed, f.tm.m, f.tm.sc, f.tm.tf, id.SigningKey(), id.Recipient()); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := test.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	f.testCSV = buf.Bytes()
	f.rowsPlan = writeFile(t, f.dir, "rows.csv", buf.String())
	f.rowsAge = filepath.Join(f.dir, "rows.csv.age")
	w, err := vault.Create(f.rowsAge, id.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	w.Write(buf.Bytes())
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *predictFixture) run(t *testing.T, args ...string) result {
	t.Helper()
	base := []string{"predict", "--checkpoint", f.sealed, "-i", f.key.Identity, "--signer", filepath.Join(f.dir, "hospital", signingKeyFileName)}
	return runCLI(t, f.dir, append(base, args...)...)
}

func decodePredict(t *testing.T, r result) predictResult {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("predict: exit %d: %s", r.code, r.stderr)
	}
	var res predictResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("predict --json: %v\n%.300s", err, r.stdout)
	}
	return res
}

func TestPredictSealedModel(t *testing.T) {
	t.Parallel()
	f := newPredictFixture(t)
	res := decodePredict(t, f.run(t, "--data", f.rowsAge, "--json"))
	if res.Rows != f.test.Rows() || res.Labelled != f.test.Rows() || len(res.Predictions) != f.test.Rows() {
		t.Fatalf("rows %d, labelled %d, predictions %d; want %d", res.Rows, res.Labelled, len(res.Predictions), f.test.Rows())
	}
	// The CLI's probabilities are the model's on the rows transformed with
	// the training statistics that travelled in the sealed file.
	x := mat.NewDense(f.test.Rows(), len(f.test.Features), nil)
	if err := f.tm.tf.Apply(x, f.test.X); err != nil {
		t.Fatal(err)
	}
	p := mat.NewDense(f.test.Rows(), 1, nil)
	f.tm.m.Predict(p, x)
	for i, pr := range res.Predictions {
		want, class := p.At(i, 0), f.test.Classes[1]
		if want < 0.5 {
			want, class = 1-want, f.test.Classes[0]
		}
		if pr.Class != class || math.Abs(pr.Probability-want) > 1e-9 {
			t.Fatalf("row %d: %s %.6f, want %s %.6f", pr.Row, pr.Class, pr.Probability, class, want)
		}
	}
	wantMetrics := model.Evaluate(f.tm.m, x, f.test.Y)
	if res.Metrics == nil || math.Abs(res.Metrics.Accuracy-wantMetrics.Accuracy) > 1e-12 {
		t.Fatalf("metrics %+v, want accuracy %.4f", res.Metrics, wantMetrics.Accuracy)
	}
	if res.Metrics.Accuracy < 0.9 {
		t.Errorf("accuracy %.3f on held-out wdbc rows: the transform did not travel with the model", res.Metrics.Accuracy)
	}

	// Unlabelled rows, columns reordered and an extra column: the same
	// predictions, no metrics.
	lines := strings.Split(strings.TrimSpace(string(f.testCSV)), "\n")
	var shuffled strings.Builder
	for _, line := range lines {
		cells := strings.Split(line, ",")
		cells = cells[:len(cells)-1] // drop the label
		for i, j := 0, len(cells)-1; i < j; i, j = i+1, j-1 {
			cells[i], cells[j] = cells[j], cells[i]
		}
		shuffled.WriteString("x," + strings.Join(cells, ",") + "\n")
	}
	unl := writeFile(t, f.dir, "unlabelled.csv", shuffled.String())
	res2 := decodePredict(t, f.run(t, "--data", unl, "--json"))
	if res2.Metrics != nil || res2.Labelled != 0 {
		t.Errorf("unlabelled rows got metrics %+v", res2.Metrics)
	}
	for i := range res.Predictions {
		if res2.Predictions[i] != res.Predictions[i] {
			t.Fatalf("row %d: reordered columns give %+v, want %+v", i+1, res2.Predictions[i], res.Predictions[i])
		}
	}

	// CSV on stdout, metrics on stderr.
	r := f.run(t, "--data", f.rowsPlan)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "row,class,probability\n1,") || !strings.Contains(r.stderr, "accuracy") {
		t.Errorf("plain output: %.80q / %q", r.stdout, r.stderr)
	}
}

func TestPredictEncryptedOutput(t *testing.T) {
	t.Parallel()
	f := newPredictFixture(t)
	r := f.run(t, "--data", f.rowsAge, "-o", "pred.csv.age", "-R", filepath.Join("hospital", recipientFileName))
	if r.code != 0 {
		t.Fatal(r.stderr)
	}
	if strings.Contains(r.stdout, ",0.") {
		t.Errorf("predictions printed although -o was given: %.80q", r.stdout)
	}
	id, err := vault.ReadIdentityFile(f.key.Identity, nil)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := vault.Open(filepath.Join(f.dir, "pred.csv.age"), id)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	b, err := io.ReadAll(rd)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(b), "\n"); got != f.test.Rows()+1 {
		t.Errorf("predictions file has %d lines, want %d", got, f.test.Rows()+1)
	}
}

func TestPredictErrors(t *testing.T) {
	t.Parallel()
	f := newPredictFixture(t)
	other := keygenFor(t, f.dir, "other")
	otherID, err := vault.ReadIdentityFile(other.Identity, nil)
	if err != nil {
		t.Fatal(err)
	}
	hospID, err := vault.ReadIdentityFile(f.key.Identity, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A sealed file of another kind, and a model sealed by someone else.
	ledger := filepath.Join(f.dir, "ledger.age")
	if err := vault.Seal(ledger, "ledger", []byte("{}"), hospID.SigningKey(), hospID.Recipient()); err != nil {
		t.Fatal(err)
	}
	forged := filepath.Join(f.dir, "forged.age")
	if err := sealedmodel.Seal(forged, f.tm.m, f.tm.sc, f.tm.tf, otherID.SigningKey(), hospID.Recipient()); err != nil {
		t.Fatal(err)
	}
	header := strings.SplitN(string(f.testCSV), "\n", 2)[0]
	firstFeature := f.test.Features[0]
	noFeature := writeFile(t, f.dir, "nofeature.csv", strings.Replace(header, firstFeature, "renamed", 1)+"\n")
	row := strings.Split(strings.SplitN(string(f.testCSV), "\n", 3)[1], ",")
	row[0] = "patient-secret-value"
	badCell := writeFile(t, f.dir, "badcell.csv", header+"\n"+strings.Join(row, ",")+"\n")
	signer := filepath.Join(f.dir, "hospital", signingKeyFileName)
	for _, tc := range []struct {
		name string
		args []string
		frag []string
		code int
	}{
		{"wrong signer", []string{"--checkpoint", f.sealed, "-i", f.key.Identity, "--signer", other.SigningKey, "--data", f.rowsAge},
			[]string{"model.age", "written by"}, 1},
		{"forged model", []string{"--checkpoint", forged, "-i", f.key.Identity, "--signer", signer, "--data", f.rowsAge},
			[]string{"forged.age", "written by"}, 1},
		{"not a model", []string{"--checkpoint", ledger, "-i", f.key.Identity, "--signer", signer, "--data", f.rowsAge},
			[]string{"ledger.age", `holds a "ledger"`}, 1},
		{"wrong identity", []string{"--checkpoint", f.sealed, "-i", other.Identity, "--signer", signer, "--data", f.rowsAge},
			[]string{"model.age", "no identity matches"}, 1},
		{"missing feature", []string{"--checkpoint", f.sealed, "-i", f.key.Identity, "--signer", signer, "--data", noFeature},
			[]string{"nofeature.csv", firstFeature}, 1},
		{"bad cell", []string{"--checkpoint", f.sealed, "-i", f.key.Identity, "--signer", signer, "--data", badCell},
			[]string{"badcell.csv", "line 2", "not a number"}, 1},
		{"missing data", []string{"--checkpoint", f.sealed, "-i", f.key.Identity, "--signer", signer, "--data", "nope.csv"},
			[]string{"nope.csv", "no such file"}, 1},
		{"no signer", []string{"--checkpoint", f.sealed, "-i", f.key.Identity, "--data", f.rowsAge}, []string{"--signer is required"}, 2},
		{"bad signer", []string{"--checkpoint", f.sealed, "-i", f.key.Identity, "--signer", "ed25519:AAAA", "--data", f.rowsAge}, []string{"signing key"}, 1},
		{"data as signer", []string{"--checkpoint", f.sealed, "-i", f.key.Identity, "--signer", badCell, "--data", f.rowsAge},
			[]string{"badcell.csv", "neither a signing key"}, 1},
		{"recipients without -o", []string{"--checkpoint", f.sealed, "-i", f.key.Identity, "--signer", signer, "--data", f.rowsAge, "-r", f.key.Recipient}, []string{"-r/-R are for -o"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, f.dir, append([]string{"predict"}, tc.args...)...)
			wantOneLineError(t, r, tc.frag...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d", r.code, tc.code)
			}
			if strings.Contains(r.stderr, "patient-secret-value") {
				t.Error("the error quotes a cell of patient data")
			}
		})
	}
}

// TestNoPlaintextAtRest plants canary patients in a data set, takes it
// through data encrypt (from stdin), data split, data inspect, train and
// predict on age files with passphrase-protected keys, then scans the
// working directories, TMPDIR and HOME: every file is an age file except the
// public keys, and no file in the clear holds a canary, a row, weights or a
// key.
func TestNoPlaintextAtRest(t *testing.T) {
	const (
		canaryID    = "CANARY-PATIENT-7c1e"
		canaryValue = "4242.4242"
	)
	t.Parallel()
	work, tmp, home := t.TempDir(), t.TempDir(), t.TempDir()
	env := []string{"TMPDIR=" + tmp, "HOME=" + home}
	pass := []byte("canary test passphrase\n")

	// The source: wdbc with a record-number column, and canary rows.
	src, _, ok := data.Embedded("wdbc")
	if !ok {
		t.Fatal("no embedded wdbc")
	}
	lines := strings.Split(strings.TrimSpace(string(src)), "\n")
	var csvText strings.Builder
	csvText.WriteString(lines[0] + ",mrn\n")
	for i, line := range lines[1:] {
		id := fmt.Sprintf("MRN-%05d", i)
		if i%50 == 7 {
			cells := strings.Split(line, ",")
			cells[0], id = canaryValue, canaryID+fmt.Sprint(i)
			line = strings.Join(cells, ",")
		}
		csvText.WriteString(line + "," + id + "\n")
	}

	keys := map[string]keygenResult{}
	for _, n := range []string{"coordinator", "h1", "h2", "h3"} {
		r := runEnv(t, binPath(), work, pass, env, "keygen", "-o", filepath.Join("keys", n), "--passphrase-file", "-", "--work-factor", "10", "--json")
		if r.code != 0 {
			t.Fatalf("keygen %s: %s", n, r.stderr)
		}
		var k keygenResult
		if err := json.Unmarshal([]byte(r.stdout), &k); err != nil {
			t.Fatal(err)
		}
		keys[n] = k
	}
	step := func(stdin []byte, args ...string) result {
		t.Helper()
		r := runEnv(t, binPath(), work, stdin, env, args...)
		if r.code != 0 {
			t.Fatalf("%s: exit %d: %s", strings.Join(args[:2], " "), r.code, r.stderr)
		}
		return r
	}
	step([]byte(csvText.String()), "data", "encrypt", "-R", "keys/coordinator/recipient.txt", "-o", "source.csv.age", "-")
	step(pass, "data", "inspect", "--data", "source.csv.age", "--identity", keys["coordinator"].Identity, "--passphrase-file", "-", "--label", "diagnosis", "--privacy-unit", "mrn")
	step(pass, "data", "split", "--data", "source.csv.age", "--identity", keys["coordinator"].Identity, "--passphrase-file", "-",
		"--label", "diagnosis", "--positive", "M", "--privacy-unit", "mrn",
		"-R", "keys/h1/recipient.txt", "-R", "keys/h2/recipient.txt", "-R", "keys/h3/recipient.txt",
		"--auditor", keys["coordinator"].Recipient, "-o", "split")
	h1 := filepath.Join("split", "hospital-1.csv.age")
	step(pass, "train", "--data", h1, "--identity", keys["h1"].Identity, "--passphrase-file", "-", "--label", "diagnosis", "--positive", "M", "--privacy-unit", "mrn")

	// A sealed model of hospital 1, trained in memory on its decrypted rows.
	id, err := vault.ReadIdentityFile(filepath.Join(work, keys["h1"].Identity), func() ([]byte, error) { return bytes.TrimSpace(pass), nil })
	if err != nil {
		t.Fatal(err)
	}
	rd, err := vault.Open(filepath.Join(work, h1), id)
	if err != nil {
		t.Fatal(err)
	}
	ds, _, err := data.Load(rd, h1, data.Options{Label: "diagnosis", Positive: "M", PrivacyUnit: "mrn"})
	rd.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(ds.UnitIDs, func(u string) bool { return strings.HasPrefix(u, canaryID) }) {
		t.Fatal("no canary patient reached hospital 1: the scan would prove nothing")
	}
	tm := trainModel(t, ds)
	coord, err := vault.ParseRecipient(keys["coordinator"].Recipient)
	if err != nil {
		t.Fatal(err)
	}
	if err := sealedmodel.Seal(filepath.Join(work, "model.age"), tm.m, tm.sc, tm.tf, id.SigningKey(), id.Recipient(), coord); err != nil {
		t.Fatal(err)
	}
	step(pass, "predict", "--checkpoint", "model.age", "-i", keys["h1"].Identity, "--passphrase-file", "-",
		"--signer", "keys/h1/signing-key.pub", "--data", h1, "-o", "predictions.csv.age", "-R", "keys/h1/recipient.txt")

	// The scan.
	public := map[string]string{recipientFileName: "age1", signingKeyFileName: "ed25519:"}
	scanned := 0
	for _, root := range []string{work, tmp, home} {
		for _, p := range listFiles(t, root) {
			scanned++
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.HasPrefix(b, []byte("age-encryption.org/v1\n")) {
				continue
			}
			if prefix, ok := public[filepath.Base(p)]; ok && bytes.HasPrefix(b, []byte(prefix)) && bytes.Count(b, []byte("\n")) == 1 {
				continue
			}
			t.Errorf("%s is not an age file", p)
			for _, secret := range []string{canaryID, canaryValue, "AGE-SECRET-KEY", "FCMW", "diagnosis", "radius_mean"} {
				if bytes.Contains(b, []byte(secret)) {
					t.Errorf("%s holds %q in the clear", p, secret)
				}
			}
		}
	}
	if len(listFiles(t, tmp))+len(listFiles(t, home)) != 0 {
		t.Errorf("files were written into TMPDIR or HOME: %v %v", listFiles(t, tmp), listFiles(t, home))
	}
	if scanned < 16 {
		t.Errorf("scanned only %d files: the pipeline did not write what it should", scanned)
	}
}

// TestPredictSignerFromFederation: a simulation's model is accepted with its
// federation.json as --signer (the aggregator signs the model), and refused
// with another federation's.
func TestPredictSignerFromFederation(t *testing.T) {
	t.Parallel()
	out := simRun(t)
	other := simRun(t, "--hospitals", "4", "--seed", "4") // another federation: its keys come from its seed
	rows, err := filepath.Abs(filepath.Join("..", "..", "data", "embedded", "wdbc.csv"))
	if err != nil {
		t.Fatal(err)
	}
	args := func(fed string) []string {
		return []string{"predict", "--checkpoint", filepath.Join(out, "model.age"), "-i", filepath.Join(out, "researcher.key"),
			"--signer", fed, "--data", rows}
	}
	r := runIn(t, t.Context(), args(filepath.Join(out, "federation.json"))...)
	if r.code != 0 || !strings.Contains(r.stderr, "accuracy") {
		t.Fatalf("own federation: exit %d\n%s%s", r.code, r.stderr, r.stdout)
	}
	r = runIn(t, t.Context(), args(filepath.Join(other, "federation.json"))...)
	wantOneLineError(t, r, "model.age", "written by")
}
