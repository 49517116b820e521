package main

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/internal/provision"
	"github.com/fedcrypt/fedcrypt/vault"
)

// wdbcVariant returns the embedded wdbc CSV with column drop removed and
// every label value set to label (when not empty).
func wdbcVariant(t *testing.T, drop, label string) []byte {
	t.Helper()
	raw, opt, _ := data.Embedded("wdbc")
	rows, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	di, li := slices.Index(rows[0], drop), slices.Index(rows[0], opt.Label)
	if drop != "" && di < 0 || li < 0 {
		t.Fatalf("wdbc has no column %q or %q", drop, opt.Label)
	}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	for i, r := range rows {
		if i > 0 && label != "" {
			r[li] = label
		}
		if di >= 0 {
			r = slices.Delete(slices.Clone(r), di, di+1)
		}
		w.Write(r)
	}
	w.Flush()
	return b.Bytes()
}

// TestPreflightCatches runs preflight at member a's site with one thing
// wrong at a time: each fails with the check's line naming what to fix, and
// the run exits non-zero with one error line.
func TestPreflightCatches(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	o := onboard(t, dir, 1)
	ok := runCLI(t, dir, append([]string{"preflight"}, o.memberArgs("a")...)...)
	if ok.code != 0 || strings.Count(ok.stdout, "✓") != 5 {
		t.Fatalf("preflight of a sound site: exit %d\n%s%s", ok.code, ok.stdout, ok.stderr)
	}
	rcpt, err := vault.ParseRecipient(readTrim(t, filepath.Join(dir, "a", recipientFileName)))
	if err != nil {
		t.Fatal(err)
	}
	writeData := func(name string, csv []byte) string {
		enc, err := vault.EncryptBytes(csv, rcpt)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join("a", name)
		if err := os.WriteFile(filepath.Join(dir, p), enc, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Another CA, and a certificate from it for a, and one from the
	// federation's CA that has expired.
	runOK(t, dir, "ca", "init", "-i", o.coord("aggregator", identityFileName), "-o", "foreign-ca")
	runOK(t, dir, "ca", "sign", "--project", o.coord("fed.yaml"), "--ca", o.coord("ca"), "-i", o.coord("aggregator", identityFileName),
		"--csr", filepath.Join("a", csrFileName), "-o", filepath.Join("a", "expired.crt"), "--valid-for", "1m")
	if err := os.WriteFile(filepath.Join(dir, "a", "ledger-file"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		flags []string
		check string
		want  []string
	}{
		{"wrong address", []string{"--aggregator", "127.0.0.1:1", "--timeout", "5s"}, "TLS handshake", []string{"nothing listens there", "check the address and port"}},
		{"unresolvable name", []string{"--aggregator", "no-such-host.invalid:7443", "--timeout", "5s"}, "aggregator", []string{"does not resolve"}},
		{"another member's identity", []string{"--identity", filepath.Join("b", identityFileName)}, "keys", []string{"not the one the config lists for a"}},
		{"foreign CA", []string{"--ca", filepath.Join("foreign-ca", provision.FileCACert)}, "certificate", []string{"not issued by the federation CA"}},
		{"expired certificate", []string{"--cert", filepath.Join("a", "expired.crt")}, "certificate", []string{"expired", "fedcrypt ca sign"}},
		{"another member's certificate", []string{"--cert", filepath.Join("b", provision.FileTLSCert)}, "certificate", []string{"does not match the TLS key"}},
		{"data missing a column", []string{"--data", writeData("short.csv.age", wdbcVariant(t, "area_mean", ""))}, "data", []string{"lacks", `"area_mean"`}},
		{"label with an unknown class", []string{"--data", writeData("odd.csv.age", wdbcVariant(t, "", "X"))}, "data", []string{"not one of the classes", `"diagnosis"`}},
		{"data encrypted to someone else", []string{"--data", filepath.Join("b", "data.csv.age")}, "data", []string{"no identity matches", "encrypt the data set to your recipient"}},
		{"ledger not a directory", []string{"--ledger", filepath.Join("a", "ledger-file")}, "ledger", []string{"not a directory", "writable directory"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"preflight"}, o.memberArgs("a")...)
			args = append(args, tc.flags...)
			r := runCLI(t, dir, args...)
			wantOneLineError(t, r, "preflight: failed", tc.check)
			var line string
			for _, l := range strings.Split(r.stdout, "\n") {
				if strings.HasPrefix(l, "✗ "+tc.check+" ") {
					line = l
				}
			}
			if line == "" {
				t.Fatalf("no failed %q line:\n%s", tc.check, r.stdout)
			}
			for _, w := range tc.want {
				if !strings.Contains(line, w) {
					t.Errorf("line %q does not say %q", line, w)
				}
			}
			if strings.Contains(r.stdout+r.stderr, "AGE-SECRET-KEY") || strings.Contains(r.stdout+r.stderr, "PRIVATE KEY") {
				t.Error("preflight printed key material")
			}
		})
	}
}
