package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/fedcrypt/fedcrypt/internal/pki"
	"github.com/fedcrypt/fedcrypt/internal/project"
	"github.com/fedcrypt/fedcrypt/transport/grpcnet"
)

func runCAInit(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
	var keys keyFlags
	keys.register(fs)
	name := fs.String("name", "fedcrypt consortium CA", "the CA's `name`")
	validFor := fs.Duration("valid-for", 5*365*24*time.Hour, "validity of the CA certificate; members' certificates cannot outlive it")
	var out string
	(*outFlag)(&out).register(fs, "`directory` for ca.crt and ca.key.age")
	var jsonOut bool
	(*jsonFlag)(&jsonOut).register(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return usagef("ca init: unexpected argument %q", pos[0])
	case out == "" || keys.identity == "":
		return usagef("ca init: -i IDENTITY and -o DIR are required")
	case *validFor <= 0:
		return usagef("--valid-for %v: must be positive", *validFor)
	}
	id, err := keys.load(e)
	if err != nil {
		return err
	}
	now := time.Now().Add(-5 * time.Minute).UTC()
	ca, err := pki.InitCA(out, *name, id.Recipient(), now, now.Add(*validFor))
	if err != nil {
		return fmt.Errorf("ca init: %w", err)
	}
	c := ca.Certificate()
	res := map[string]any{"ca": filepath.Join(out, pki.CACertFile), "key": filepath.Join(out, pki.CAKeyFile),
		"name": c.Subject.CommonName, "not_after": c.NotAfter.Format(time.RFC3339)}
	if jsonOut {
		return writeJSON(e.stdout, res)
	}
	fmt.Fprintf(e.stdout, "CA %q valid until %s\n  certificate %s (public: hand it to every party)\n  key         %s (encrypted to %s)\n",
		res["name"], res["not_after"], res["ca"], res["key"], keys.identity)
	return nil
}

func runCASign(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
	projectPath := fs.String("project", "", "the project `file` (YAML)")
	caDir := fs.String("ca", "", "the CA `directory` (from fedcrypt ca init)")
	var keys keyFlags
	keys.register(fs)
	csrPath := fs.String("csr", "", "the certificate request `file`")
	validFor := fs.Duration("valid-for", 365*24*time.Hour, "validity of the certificate")
	var out string
	(*outFlag)(&out).register(fs, "certificate `file` to write")
	var jsonOut bool
	(*jsonFlag)(&jsonOut).register(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return usagef("ca sign: unexpected argument %q", pos[0])
	case *projectPath == "", *caDir == "", keys.identity == "", *csrPath == "", out == "":
		return usagef("ca sign: --project, --ca, -i, --csr and -o are required")
	case *validFor <= 0:
		return usagef("--valid-for %v: must be positive", *validFor)
	}
	if _, err := os.Lstat(out); err == nil {
		return fmt.Errorf("ca sign: %s exists: refusing to overwrite a certificate", out)
	}
	pf, err := project.Load(*projectPath)
	if err != nil {
		return err
	}
	if _, err := pf.Build(); err != nil {
		return err
	}
	csr, err := os.ReadFile(*csrPath)
	if err != nil {
		return fmt.Errorf("--csr: %w", err)
	}
	id, err := keys.load(e)
	if err != nil {
		return err
	}
	ca, err := pki.LoadCA(*caDir, id)
	if err != nil {
		return fmt.Errorf("--ca: %w", err)
	}
	now := time.Now().Add(-5 * time.Minute).UTC()
	cert, who, err := pf.Sign(ca, csr, now, now.Add(*validFor))
	if err != nil {
		return fmt.Errorf("ca sign %s: %w", *csrPath, err)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return fmt.Errorf("ca sign: %w", err)
	}
	if err := writeNew(out, cert, false); err != nil {
		return fmt.Errorf("ca sign: %w", err)
	}
	c, err := grpcnet.ParseCertificate(cert)
	if err != nil {
		return err
	}
	res := map[string]any{"cert": out, "for": who, "not_after": c.NotAfter.Format(time.RFC3339), "serial": c.SerialNumber.Text(16)}
	if jsonOut {
		return writeJSON(e.stdout, res)
	}
	fmt.Fprintf(e.stdout, "certificate for %s: %s (valid until %s)\n", who, out, res["not_after"])
	return nil
}
