package vault

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildAgeTools builds the age, age-keygen and age-plugin-batchpass commands
// of the filippo.io/age module this package uses, from its own module
// directory (so its own go.sum applies), into a fresh directory.
func buildAgeTools(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "filippo.io/age").Output()
	if err != nil {
		t.Fatalf("locate filippo.io/age: %v", err)
	}
	modDir := strings.TrimSpace(string(out))
	bin := t.TempDir()
	cmd := exec.Command("go", "build", "-C", modDir, "-o", bin+string(os.PathSeparator),
		"./cmd/age", "./cmd/age-keygen", "./cmd/age-plugin-batchpass")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the age tools from %s: %v\n%s", modDir, err, b)
	}
	return bin
}

// ageTool runs one of the built tools and returns its stdout.
func ageTool(t *testing.T, bin string, env []string, stdin []byte, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, name), args...)
	cmd.Env = append(append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH")), env...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

func readAll(t *testing.T, path string, id *Identity) []byte {
	t.Helper()
	r, err := Open(path, id)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAgeToolInterop(t *testing.T) {
	bin := buildAgeTools(t)
	dir := t.TempDir()
	csv := []byte("patient,radius,diagnosis\np1,13.5,M\np2,11.2,B\n")
	csvPath := filepath.Join(dir, "rows.csv")
	if err := os.WriteFile(csvPath, csv, 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("age-keygen key and age file load in vault", func(t *testing.T) {
		for _, pq := range []bool{false, true} {
			keyPath := filepath.Join(t.TempDir(), "key.txt")
			args := []string{"-o", keyPath}
			if pq {
				args = append(args, "-pq")
			}
			ageTool(t, bin, nil, nil, "age-keygen", args...)
			id, err := ReadIdentityFile(keyPath, nil)
			if err != nil {
				t.Fatal(err)
			}
			if id.Recipient().IsPostQuantum() != pq {
				t.Errorf("pq=%v: identity read as post-quantum=%v", pq, id.Recipient().IsPostQuantum())
			}
			pub := strings.TrimSpace(string(ageTool(t, bin, nil, nil, "age-keygen", "-y", keyPath)))
			if pub != id.Recipient().String() {
				t.Fatalf("age-keygen -y says %s, vault says %s", pub, id.Recipient())
			}
			for _, armor := range []bool{false, true} {
				enc := filepath.Join(t.TempDir(), "rows.csv.age")
				args := []string{"-r", pub, "-o", enc}
				if armor {
					args = append(args, "-a")
				}
				ageTool(t, bin, nil, nil, "age", append(args, csvPath)...)
				if got := readAll(t, enc, id); !bytes.Equal(got, csv) {
					t.Errorf("pq=%v armor=%v: vault read %q", pq, armor, got)
				}
			}
		}
	})

	t.Run("vault files decrypt with age -d", func(t *testing.T) {
		d := t.TempDir()
		id := mustIdentity(t)
		keyPath := filepath.Join(d, "key.txt")
		if err := WriteIdentityFile(keyPath, id, nil, 0); err != nil {
			t.Fatal(err)
		}
		ageKey := filepath.Join(d, "auditor.txt")
		ageTool(t, bin, nil, nil, "age-keygen", "-o", ageKey)
		auditorPub := strings.TrimSpace(string(ageTool(t, bin, nil, nil, "age-keygen", "-y", ageKey)))
		auditor, err := ParseRecipient(auditorPub)
		if err != nil {
			t.Fatal(err)
		}
		enc := filepath.Join(d, "rows.csv.age")
		f, err := Create(enc, id.Recipient(), auditor)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(csv)
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{keyPath, ageKey} {
			if got := ageTool(t, bin, nil, nil, "age", "-d", "-i", k, enc); !bytes.Equal(got, csv) {
				t.Errorf("age -d -i %s: %q", filepath.Base(k), got)
			}
		}

		// A sealed file: age -d gives the documented frame, payload at its
		// offset, and the frame verifies.
		sealed := filepath.Join(d, "checkpoint.age")
		payload := []byte(`{"weights":[0.5,0.25]}`)
		if err := Seal(sealed, "checkpoint", payload, id.SigningKey(), id.Recipient()); err != nil {
			t.Fatal(err)
		}
		plain := ageTool(t, bin, nil, nil, "age", "-d", "-i", keyPath, sealed)
		if !bytes.HasPrefix(plain, []byte("fedcrypt-sealed-v1\n\x0acheckpoint")) {
			t.Fatalf("age -d of a sealed file starts %.40q", plain)
		}
		off := len(sealMagic) + 1 + len("checkpoint") + 32 + 8
		if !bytes.Equal(plain[off:off+len(payload)], payload) || len(plain) != off+len(payload)+64 {
			t.Errorf("payload not at the documented offset %d of %d bytes", off, len(plain))
		}
		if got, err := unframeSealed(plain, "checkpoint", id.SigningPublicKey()); err != nil || !bytes.Equal(got, payload) {
			t.Errorf("frame from age -d does not verify: %v", err)
		}
	})

	t.Run("passphrase files both ways", func(t *testing.T) {
		d := t.TempDir()
		env := []string{"AGE_PASSPHRASE=correct horse", "AGE_PASSPHRASE_WORK_FACTOR=10"}
		// age -j batchpass (scrypt) → vault.
		enc := filepath.Join(d, "rows.csv.age")
		ageTool(t, bin, env, nil, "age", "-e", "-j", "batchpass", "-o", enc, csvPath)
		pid, err := NewPassphraseIdentity([]byte("correct horse"))
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, enc, pid); !bytes.Equal(got, csv) {
			t.Errorf("vault read of an age passphrase file: %q", got)
		}
		// A passphrase-protected identity file written by vault opens with
		// age, and the key inside decrypts a vault file.
		id := mustIdentity(t)
		keyPath := filepath.Join(d, "key.age")
		if err := WriteIdentityFile(keyPath, id, []byte("correct horse"), testWorkFactor); err != nil {
			t.Fatal(err)
		}
		keyText := ageTool(t, bin, env, nil, "age", "-d", "-j", "batchpass", keyPath)
		if !bytes.Contains(keyText, []byte(id.secrets[0])) {
			t.Fatal("age -d of the protected identity file does not give the key")
		}
		ct, err := EncryptBytes(csv, id.Recipient())
		if err != nil {
			t.Fatal(err)
		}
		plainKey := filepath.Join(d, "key.txt")
		if err := os.WriteFile(plainKey, keyText, 0o600); err != nil {
			t.Fatal(err)
		}
		if got := ageTool(t, bin, nil, ct, "age", "-d", "-i", plainKey); !bytes.Equal(got, csv) {
			t.Errorf("age -d with the recovered key: %q", got)
		}
	})
}
