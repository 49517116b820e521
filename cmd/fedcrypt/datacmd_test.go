package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/internal/sealedmodel"
	"github.com/fedcrypt/fedcrypt/vault"
)

const smallCSV = "patient,radius,texture,diagnosis\np1,13.5,20.1,M\np2,11.2,NA,B\np3,9.8,15.0,B\np4,17.0,22.3,M\n"

// buildAgeTools builds the age and age-keygen commands of the age module
// fedcrypt uses, from that module's own directory (its go.sum applies).
func buildAgeTools(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "filippo.io/age").Output()
	if err != nil {
		t.Fatalf("locate filippo.io/age: %v", err)
	}
	bin := t.TempDir()
	cmd := exec.Command("go", "build", "-C", strings.TrimSpace(string(out)), "-o", bin+string(os.PathSeparator), "./cmd/age", "./cmd/age-keygen")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the age tools: %v\n%s", err, b)
	}
	return bin
}

func runTool(t *testing.T, dir, tool string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(tool, args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", filepath.Base(tool), args, err, stderr.String())
	}
	return out
}

// writeFile writes a test input into dir.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDataEncryptDecrypt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "rows.csv", smallCSV)
	hosp := keygenFor(t, dir, "hospital")
	aud := keygenFor(t, dir, "auditor")
	other := keygenFor(t, dir, "other")

	r := runCLI(t, dir, "data", "encrypt", "-r", hosp.Recipient, "-R", "auditor/recipient.txt", "-o", "rows.csv.age", "rows.csv")
	if r.code != 0 {
		t.Fatalf("encrypt: %s", r.stderr)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "rows.csv.age"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(raw, []byte("age-encryption.org/v1\n")) || bytes.Contains(raw, []byte("p1,13.5")) {
		t.Fatal("encrypted file is not an age file")
	}
	for _, key := range []string{hosp.Identity, aud.Identity} {
		r := runCLI(t, dir, "data", "decrypt", "-i", key, "rows.csv.age")
		if r.code != 0 || r.stdout != smallCSV {
			t.Errorf("decrypt with %s: exit %d, %q, %s", key, r.code, r.stdout, r.stderr)
		}
	}

	// Plaintext to a file only when asked for explicitly.
	r = runCLI(t, dir, "data", "decrypt", "-i", hosp.Identity, "-o", "plain.csv", "rows.csv.age")
	wantOneLineError(t, r, "-o plain.csv", "--plaintext-file")
	if r.code != 2 {
		t.Errorf("exit %d, want 2", r.code)
	}
	if _, err := os.Stat(filepath.Join(dir, "plain.csv")); err == nil {
		t.Fatal("refused decrypt created the plaintext file")
	}
	r = runCLI(t, dir, "data", "decrypt", "-i", hosp.Identity, "-o", "plain.csv", "--plaintext-file", "rows.csv.age")
	if r.code != 0 {
		t.Fatalf("decrypt -o --plaintext-file: %s", r.stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "plain.csv")); string(b) != smallCSV {
		t.Errorf("plaintext file %q", b)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "plain.csv")); fi.Mode().Perm() != 0o600 {
		t.Errorf("plaintext file mode %v, want 0600", fi.Mode().Perm())
	}
	r = runCLI(t, dir, "data", "decrypt", "-i", hosp.Identity, "-o", "plain.csv", "--plaintext-file", "rows.csv.age")
	wantOneLineError(t, r, "plain.csv", "exists")

	// Damaged files and wrong keys: one line naming the file and the cause.
	truncated := writeFile(t, dir, "truncated.age", string(raw[:len(raw)-20]))
	flipped := bytes.Clone(raw)
	flipped[len(flipped)-30] ^= 1
	writeFile(t, dir, "flipped.age", string(flipped))
	for _, tc := range []struct {
		name string
		args []string
		frag []string
	}{
		{"wrong identity", []string{"-i", other.Identity, "rows.csv.age"}, []string{"rows.csv.age", "no identity matches"}},
		{"truncated", []string{"-i", hosp.Identity, truncated}, []string{"truncated.age", "modified"}},
		{"modified", []string{"-i", hosp.Identity, "flipped.age"}, []string{"flipped.age", "authentication failed"}},
		{"missing", []string{"-i", hosp.Identity, "missing.age"}, []string{"missing.age", "no such file"}},
		{"not age", []string{"-i", hosp.Identity, "rows.csv"}, []string{"rows.csv", "not an age file"}},
		{"missing identity file", []string{"-i", "nokey.txt", "rows.csv.age"}, []string{"nokey.txt", "no such file"}},
		{"recipient as identity", []string{"-i", "hospital/recipient.txt", "rows.csv.age"}, []string{"recipient.txt", "line 1", "not an identity"}},
		{"no identity", []string{"rows.csv.age"}, []string{"-i IDENTITY"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, dir, append([]string{"data", "decrypt"}, tc.args...)...)
			wantOneLineError(t, r, tc.frag...)
			if strings.Contains(r.stderr, "AGE-SECRET-KEY") {
				t.Error("an error printed a secret key")
			}
		})
	}
}

func TestDataDecryptProtectedIdentity(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "rows.csv", smallCSV)
	pass := writeFile(t, dir, "pass.txt", "long passphrase\n")
	k := keygenFor(t, dir, "h", "--passphrase-file", pass, "--work-factor", "10")
	if r := runCLI(t, dir, "data", "encrypt", "-R", "h/recipient.txt", "-o", "rows.csv.age", "rows.csv"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	wantOneLineError(t, runCLI(t, dir, "data", "decrypt", "-i", k.Identity, "rows.csv.age"), "identity.age", "passphrase", "--passphrase-file")
	if r := runCLI(t, dir, "data", "decrypt", "-i", k.Identity, "--passphrase-file", pass, "rows.csv.age"); r.stdout != smallCSV {
		t.Errorf("decrypt with a protected identity: %q %s", r.stdout, r.stderr)
	}
}

func TestDataInteropWithAge(t *testing.T) {
	long(t, "builds the age tools")
	t.Parallel()
	bin := buildAgeTools(t)
	dir := t.TempDir()
	writeFile(t, dir, "rows.csv", smallCSV)
	k := keygenFor(t, dir, "h")

	// fedcrypt → age -d, with fedcrypt's identity file.
	if r := runCLI(t, dir, "data", "encrypt", "-r", k.Recipient, "-o", "rows.csv.age", "rows.csv"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if got := runTool(t, dir, filepath.Join(bin, "age"), "-d", "-i", k.Identity, "rows.csv.age"); string(got) != smallCSV {
		t.Errorf("age -d of fedcrypt's file: %q", got)
	}

	// age-keygen key and age -e (binary and armored) → fedcrypt.
	runTool(t, dir, filepath.Join(bin, "age-keygen"), "-o", "agekey.txt")
	pub := strings.TrimSpace(string(runTool(t, dir, filepath.Join(bin, "age-keygen"), "-y", "agekey.txt")))
	for _, armor := range []bool{false, true} {
		args := []string{"-r", pub, "-o", "fromage.age"}
		if armor {
			args = append(args, "-a")
		}
		os.Remove(filepath.Join(dir, "fromage.age"))
		runTool(t, dir, filepath.Join(bin, "age"), append(args, "rows.csv")...)
		if r := runCLI(t, dir, "data", "decrypt", "-i", "agekey.txt", "fromage.age"); r.stdout != smallCSV {
			t.Errorf("armor=%v: fedcrypt decrypt of age's file: %q %s", armor, r.stdout, r.stderr)
		}
	}
	// A data set encrypted by age loads for training.
	if r := runCLI(t, dir, "data", "inspect", "--data", "fromage.age", "--identity", "agekey.txt", "--label", "diagnosis", "--drop", "patient", "--json"); r.code != 0 || !strings.Contains(r.stdout, `"rows": 4`) {
		t.Errorf("inspect of age's file: %s %s", r.stdout, r.stderr)
	}
	// A sealed model decrypts with age -d: the documented frame around the
	// model's JSON.
	ds, _, err := data.Load(strings.NewReader(smallCSV), "rows.csv", data.Options{Label: "diagnosis", Drop: []string{"patient"}})
	if err != nil {
		t.Fatal(err)
	}
	tm := trainModel(t, ds)
	id, err := vault.ReadIdentityFile(k.Identity, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := sealedmodel.Seal(filepath.Join(dir, "model.age"), tm.m, tm.sc, tm.tf, id.SigningKey(), id.Recipient()); err != nil {
		t.Fatal(err)
	}
	frame := runTool(t, dir, filepath.Join(bin, "age"), "-d", "-i", k.Identity, "model.age")
	if !bytes.HasPrefix(frame, []byte("fedcrypt-sealed-v1\n\x0efedcrypt/model")) || !bytes.Contains(frame, []byte(`{"format":"fedcrypt-model/v1"`)) {
		t.Errorf("age -d of a sealed model: %.60q", frame)
	}

	// Armored, with trailing garbage: refused with a one-line error.
	raw, _ := os.ReadFile(filepath.Join(dir, "fromage.age"))
	writeFile(t, dir, "garbage.age", string(raw)+"trailing garbage\n")
	wantOneLineError(t, runCLI(t, dir, "data", "decrypt", "-i", "agekey.txt", "garbage.age"), "garbage.age", "trailing data")
}

// runCLIEnv runs the binary like runCLI with extra environment variables.
func runCLIEnv(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	return runEnv(t, binPath(), dir, nil, env, args...)
}

// listFiles returns every regular file under dir.
func listFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// patientsCSV has two rows per patient, a missing cell and an id column.
const patientsCSV = "record,patient,age,marker,outcome\n" +
	"r1,P01,61,2.5,sick\nr2,P01,61,NA,sick\nr3,P02,45,1.1,well\nr4,P02,46,1.0,well\n" +
	"r5,P03,70,3.3,sick\nr6,P03,70,3.1,sick\nr7,P04,38,0.7,well\nr8,P04,38,0.9,well\n" +
	"r9,P05,55,2.0,sick\nr10,P05,55,?,sick\nr11,P06,29,0.5,well\nr12,P06,30,0.4,well\n"

func TestDataInspect(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	k := keygenFor(t, dir, "h")
	r := runCLIInput(t, dir, []byte(patientsCSV), "data", "encrypt", "-r", k.Recipient, "-o", "patients.csv.age", "-")
	if r.code != 0 {
		t.Fatal(r.stderr)
	}
	before := listFiles(t, dir)
	tmp, home := t.TempDir(), t.TempDir()
	r = runCLIEnv(t, dir, []string{"TMPDIR=" + tmp, "HOME=" + home}, "data", "inspect", "--data", "patients.csv.age",
		"--identity", k.Identity, "--label", "outcome", "--privacy-unit", "patient", "--drop", "record", "--json")
	if r.code != 0 {
		t.Fatal(r.stderr)
	}
	var res inspectResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatal(err)
	}
	if res.RowsRead != 12 || res.Rows != 12 || res.Units != 6 || res.Columns != 2 || !res.Encrypted ||
		res.Missing["marker"] != 2 || res.ClassCounts["sick"] != 6 || res.ClassCounts["well"] != 6 ||
		strings.Join(res.Classes, ",") != "sick,well" || strings.Join(res.Features, ",") != "age,marker" {
		t.Errorf("inspect found %+v", res)
	}
	if after := listFiles(t, dir); len(after) != len(before) {
		t.Errorf("inspect wrote files: %v", after)
	}
	if f := append(listFiles(t, tmp), listFiles(t, home)...); len(f) != 0 {
		t.Errorf("inspect wrote into TMPDIR or HOME: %v", f)
	}
	for _, cell := range []string{"P01", "r1,", "61"} {
		if strings.Contains(r.stdout+r.stderr, cell) {
			t.Errorf("inspect printed a cell value %q", cell)
		}
	}

	h := runCLI(t, dir, "data", "inspect", "--data", "patients.csv.age", "--identity", k.Identity, "--label", "outcome", "--drop", "record,patient")
	for _, want := range []string{"12 kept of 12 read", "class sick", "marker", "age-encrypted: true"} {
		if !strings.Contains(h.stdout, want) {
			t.Errorf("human output lacks %q:\n%s", want, h.stdout)
		}
	}
	other := keygenFor(t, dir, "other")
	wantOneLineError(t, runCLI(t, dir, "data", "inspect", "--data", "patients.csv.age", "--identity", other.Identity, "--label", "outcome"),
		"patients.csv.age", "no identity matches")
	wantOneLineError(t, runCLI(t, dir, "data", "inspect", "--data", "patients.csv.age", "--label", "outcome"),
		"patients.csv.age", "identity")
}

func TestDataSplit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "patients.csv", patientsCSV)
	var hs []keygenResult
	for _, n := range []string{"h1", "h2", "h3"} {
		hs = append(hs, keygenFor(t, dir, n))
	}
	aud := keygenFor(t, dir, "auditor")
	r := runCLI(t, dir, "data", "split", "--data", "patients.csv", "--label", "outcome", "--privacy-unit", "patient", "--drop", "record",
		"-r", hs[0].Recipient, "-r", hs[1].Recipient, "-r", hs[2].Recipient, "--auditor", aud.Recipient, "-o", "split", "--json")
	if r.code != 0 {
		t.Fatal(r.stderr)
	}
	var res splitResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Hospitals) != 3 || res.Partition != "iid" {
		t.Fatalf("split result %+v", res)
	}
	patientAt := map[string]int{}
	total := 0
	for i, h := range res.Hospitals {
		total += h.Rows
		// Only its hospital and the auditor can read a hospital's file.
		for j, k := range append(hs, aud) {
			d := runCLI(t, dir, "data", "decrypt", "-i", k.Identity, h.File)
			if canRead := j == i || j == 3; (d.code == 0) != canRead {
				t.Fatalf("%s readable by key %d: %v, want %v (%s)", h.File, j, d.code == 0, canRead, d.stderr)
			}
			if d.code != 0 {
				continue
			}
			lines := strings.Split(strings.TrimSpace(d.stdout), "\n")
			if len(lines)-1 != h.Rows || lines[0] != "age,marker,patient,outcome" {
				t.Fatalf("%s: %d rows, header %q", h.File, len(lines)-1, lines[0])
			}
			for _, line := range lines[1:] {
				p := strings.Split(line, ",")[2]
				if at, seen := patientAt[p]; seen && at != i {
					t.Fatalf("patient %s at hospitals %d and %d", p, at+1, i+1)
				}
				patientAt[p] = i
			}
		}
	}
	if total != 12 || len(patientAt) != 6 {
		t.Errorf("split holds %d rows of %d patients, want 12 of 6", total, len(patientAt))
	}
	for _, f := range listFiles(t, filepath.Join(dir, "split")) {
		if enc, _ := os.ReadFile(f); !bytes.HasPrefix(enc, []byte("age-encryption.org/v1\n")) {
			t.Errorf("%s is not an age file", f)
		}
	}

	for _, tc := range []struct {
		name string
		args []string
		frag []string
	}{
		{"one hospital", []string{"-r", hs[0].Recipient}, []string{"at least two hospitals"}},
		{"-r and -R", []string{"-r", hs[0].Recipient, "-R", "h2/recipient.txt"}, []string{"-r or with -R"}},
		{"bad partition", []string{"-r", hs[0].Recipient, "-r", hs[1].Recipient, "--partition", "zipf"}, []string{"--partition zipf"}},
		{"bad auditor", []string{"-r", hs[0].Recipient, "-r", hs[1].Recipient, "--auditor", "age1nope"}, []string{"--auditor"}},
		{"more hospitals than patients", []string{"-r", hs[0].Recipient, "-r", hs[1].Recipient, "-r", hs[2].Recipient,
			"-r", hs[0].Recipient, "-r", hs[1].Recipient, "-r", hs[2].Recipient, "-r", aud.Recipient}, []string{"data split"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"data", "split", "--data", "patients.csv", "--label", "outcome", "--privacy-unit", "patient", "--drop", "record", "-o", "bad"}, tc.args...)
			wantOneLineError(t, runCLI(t, dir, args...), tc.frag...)
			if _, err := os.Stat(filepath.Join(dir, "bad", "hospital-1.csv.age")); err == nil {
				t.Error("a refused split wrote a hospital file")
			}
		})
	}
}

func TestAbsurdWorkFactorIdentity(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pass := writeFile(t, dir, "pass.txt", "pw\n")
	k := keygenFor(t, dir, "h", "--passphrase-file", pass, "--work-factor", "10")
	raw, err := os.ReadFile(k.Identity)
	if err != nil {
		t.Fatal(err)
	}
	// The scrypt stanza's work factor 10 becomes 2^50: refused at once.
	lines := bytes.SplitN(raw, []byte("\n"), 3)
	lines[1] = bytes.Replace(lines[1], []byte(" 10"), []byte(" 50"), 1)
	writeFile(t, dir, "absurd.age", string(bytes.Join(lines, []byte("\n"))))
	writeFile(t, dir, "rows.csv", smallCSV)
	if r := runCLI(t, dir, "data", "encrypt", "-r", k.Recipient, "-o", "rows.csv.age", "rows.csv"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	r := runCLI(t, dir, "data", "decrypt", "-i", "absurd.age", "--passphrase-file", pass, "rows.csv.age")
	wantOneLineError(t, r, "absurd.age", "work factor 2^50 exceeds the limit 2^22")
}

// TestDataRefusesExistingOutputs: data encrypt and data split never replace
// an existing .age file without --force; the refusal is one line naming the
// file and the flag, and leaves every file as it was.
