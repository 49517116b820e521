package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/fedcrypt/fedcrypt/internal/pki"
	"github.com/fedcrypt/fedcrypt/internal/provision"
	"github.com/fedcrypt/fedcrypt/vault"
)

// Files written by keygen in its output directory.
const (
	identityFileName          = "identity.txt"
	protectedIdentityFileName = "identity.age"
	recipientFileName         = "recipient.txt"
	signingKeyFileName        = "signing-key.pub"
	csrFileName               = "tls.csr" // with --csr: the certificate request (public); the key is tls.key.age
)

type keygenResult struct {
	Identity    string `json:"identity"`
	Recipient   string `json:"recipient"`
	SigningKey  string `json:"signing_key"`
	PostQuantum bool   `json:"post_quantum"`
	Protected   bool   `json:"passphrase_protected"`
	CSR         string `json:"csr,omitempty"`
	TLSKey      string `json:"tls_key,omitempty"`
	Member      string `json:"member,omitempty"`
}

func runKeygen(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
	var out string
	(*outFlag)(&out).register(fs, "output `directory` (created if missing)")
	passFile := fs.String("passphrase-file", "", "protect the identity with the passphrase on the first line of `file` (- for stdin)")
	workFactor := fs.Int("work-factor", vault.DefaultWorkFactor, "scrypt work factor log2(N) of the passphrase protection")
	pq := fs.Bool("pq", false, "generate a post-quantum hybrid (ML-KEM-768 + X25519) identity; its recipient cannot be mixed with classical ones")
	csr := fs.Bool("csr", false, "also make a TLS key and a certificate signing request for the federation CA")
	member := fs.String("member", "", "with --csr: the member `id` the request names")
	aggregator := fs.Bool("aggregator", false, "with --csr: request the aggregator's server certificate (give --host)")
	var hosts stringList
	fs.Var(&hosts, "host", "with --csr: a DNS `name` or IP address the certificate is valid for (repeatable)")
	var jsonOut bool
	(*jsonFlag)(&jsonOut).register(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return usagef("keygen: unexpected argument %q", pos[0])
	case out == "":
		return usagef("keygen: -o DIR is required")
	case !*csr && (*member != "" || *aggregator || len(hosts) > 0):
		return usagef("keygen: --member, --aggregator and --host go with --csr")
	case *csr && (*member == "") == !*aggregator:
		return usagef("keygen --csr: give --member ID or --aggregator")
	case *aggregator && len(hosts) == 0:
		return usagef("keygen --csr --aggregator: give the --host names members reach it at")
	case *workFactor < 1 || *workFactor > vault.MaxWorkFactor:
		return usagef("--work-factor %d: must be in [1, %d]", *workFactor, vault.MaxWorkFactor)
	}
	var pass []byte
	if *passFile != "" {
		if pass, err = readPassphrase(e, *passFile); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(out, 0o700); err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	res := keygenResult{PostQuantum: *pq, Protected: pass != nil}
	res.Identity = filepath.Join(out, identityFileName)
	if pass != nil {
		res.Identity = filepath.Join(out, protectedIdentityFileName)
	}
	files := []string{res.Identity, filepath.Join(out, recipientFileName), filepath.Join(out, signingKeyFileName)}
	if *csr {
		res.CSR, res.TLSKey, res.Member = filepath.Join(out, csrFileName), filepath.Join(out, provision.FileTLSKey), *member
		files = append(files, res.CSR, res.TLSKey)
	}
	for _, p := range files {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("keygen: %s exists: refusing to overwrite keys", p)
		}
	}
	var id *vault.Identity
	if *pq {
		id, err = vault.GenerateHybridIdentity()
	} else {
		id, err = vault.GenerateIdentity()
	}
	if err != nil {
		return err
	}
	if err := vault.WriteIdentityFile(res.Identity, id, pass, *workFactor); err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	clear(pass)
	res.Recipient = id.Recipient().String()
	res.SigningKey = vault.FormatSigningKey(id.SigningPublicKey())
	for name, text := range map[string]string{recipientFileName: res.Recipient, signingKeyFileName: res.SigningKey} {
		if err := os.WriteFile(filepath.Join(out, name), []byte(text+"\n"), 0o644); err != nil {
			return fmt.Errorf("keygen: %w", err)
		}
	}
	if *csr {
		if err := writeRequest(res.CSR, res.TLSKey, pki.Subject{Member: *member, Hosts: hosts}, id); err != nil {
			return fmt.Errorf("keygen --csr: %w", err)
		}
	}
	if jsonOut {
		return writeJSON(e.stdout, res)
	}
	fmt.Fprintf(e.stdout, "identity:    %s (secret)\n", res.Identity)
	fmt.Fprintf(e.stdout, "recipient:   %s\n", res.Recipient)
	fmt.Fprintf(e.stdout, "signing key: %s\n", res.SigningKey)
	if *csr {
		fmt.Fprintf(e.stdout, "TLS key:     %s (secret, encrypted to the identity)\n", res.TLSKey)
		fmt.Fprintf(e.stdout, "request:     %s (for the coordinator's fedcrypt ca sign)\n", res.CSR)
	}
	return nil
}

// writeRequest makes a TLS key and a certificate request for s, and writes
// the key sealed to its owner and the request beside it.
func writeRequest(csrPath, keyPath string, s pki.Subject, owner *vault.Identity) error {
	csr, key, err := pki.NewRequest(s)
	if err != nil {
		return err
	}
	err = pki.WriteKey(keyPath, key, owner.Recipient())
	clear(key)
	if err != nil {
		return err
	}
	return os.WriteFile(csrPath, csr, 0o644)
}

// readPassphrase reads a passphrase from the first line of a file, or of
// standard input for "-". Passphrases are never flag values.
func readPassphrase(e *env, path string) ([]byte, error) {
	var r io.Reader
	if path == "-" {
		r = e.stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("--passphrase-file: %w", err)
		}
		defer f.Close()
		r = f
	}
	line, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadBytes('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("--passphrase-file %s: %w", path, err)
	}
	line = []byte(strings.TrimRight(string(line), "\r\n"))
	if len(line) == 0 {
		return nil, usagef("--passphrase-file %s: the first line is empty", path)
	}
	return line, nil
}
