package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/fedcrypt/fedcrypt/vault"
)

func init() {
	register(&command{name: "data", summary: "data sets at rest: encrypt, decrypt, inspect, split (age)", run: runData})
}

// dataSubcommands are the subcommands of "fedcrypt data".
var dataSubcommands = map[string]struct {
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}{
	"encrypt": {"encrypt a data file to age recipients", runDataEncrypt},
	"decrypt": {"decrypt an age data file to stdout (or, explicitly, to a file)", runDataDecrypt},
}

func runData(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprint(e.stderr, "usage: fedcrypt data <subcommand> [flags]\n\nsubcommands:\n")
		names := make([]string, 0, len(dataSubcommands))
		for n := range dataSubcommands {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(e.stderr, "  %-9s %s\n", n, dataSubcommands[n].summary)
		}
		fmt.Fprintln(e.stderr, "\nRun 'fedcrypt data <subcommand> --help' for its flags.")
		return flag.ErrHelp
	}
	if len(args) == 0 {
		return usagef("data: missing subcommand (run 'fedcrypt data --help')")
	}
	if strings.HasPrefix(args[0], "-") {
		return usagef("data: flag provided but not defined: %s (flags follow the subcommand)", args[0])
	}
	sub, ok := dataSubcommands[args[0]]
	if !ok {
		return usagef("data: unknown subcommand %q (run 'fedcrypt data --help')", args[0])
	}
	return sub.run(ctx, e, args[1:])
}

// recipientFlags are the flags naming who a file is encrypted to.
type recipientFlags struct {
	recipients stringList
	files      stringList
	passFile   string
	workFactor int
}

func (r *recipientFlags) register(fs *flag.FlagSet, withPassphrase bool) {
	fs.Var(&r.recipients, "r", "age `recipient` (age1...) to encrypt to; repeat for several (a hospital and its auditor)")
	fs.Var(&r.recipients, "recipient", "age `recipient` (same as -r)")
	fs.Var(&r.files, "R", "`file` of recipients, one per line (recipient.txt from keygen, or an age recipients file)")
	if withPassphrase {
		fs.StringVar(&r.passFile, "passphrase-file", "", "encrypt to the passphrase on the first line of `file` instead (alone: no -r)")
		fs.IntVar(&r.workFactor, "work-factor", vault.DefaultWorkFactor, "scrypt work factor log2(N) with --passphrase-file")
	}
}

// parse returns the recipients the flags name.
func (r *recipientFlags) parse(e *env) ([]vault.Recipient, error) {
	var out []vault.Recipient
	for _, s := range r.recipients {
		rc, err := vault.ParseRecipient(s)
		if err != nil {
			return nil, usageError{"-r: " + err.Error()}
		}
		out = append(out, rc)
	}
	for _, path := range r.files {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("-R: %w", err)
		}
		rs, err := vault.ParseRecipients(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("-R %s: %w", path, err)
		}
		out = append(out, rs...)
	}
	if r.passFile != "" {
		if len(out) > 0 {
			return nil, usagef("--passphrase-file: a passphrase must be the only recipient (age refuses to mix it with -r/-R)")
		}
		pass, err := readPassphrase(e, r.passFile)
		if err != nil {
			return nil, err
		}
		rc, err := vault.NewPassphraseRecipient(pass, r.workFactor)
		if err != nil {
			return nil, usageError{err.Error()}
		}
		out = append(out, rc)
	}
	if len(out) == 0 {
		return nil, usagef("no recipients: give -r AGE1..., -R FILE or --passphrase-file")
	}
	return out, nil
}

type dataEncryptResult struct {
	Input      string `json:"input"`
	Output     string `json:"output"`
	Recipients int    `json:"recipients"`
	Bytes      int64  `json:"bytes"`
}

func runDataEncrypt(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "data encrypt", "fedcrypt data encrypt -r RECIPIENT [-r ...] -o OUT.age IN.csv", `
Encrypts a data file (IN, or - for stdin) with age to every recipient, into
OUT.age. The output is written atomically (temporary file in the same directory,
fsync, rename) and decrypts with "age -d" as well as with fedcrypt. Recipients:
several X25519 (age1...) ones, several post-quantum (age1pq1...) ones, or one
passphrase; age refuses the other mixes and so does fedcrypt.`)
	var rf recipientFlags
	rf.register(fs, true)
	var out string
	fs.StringVar(&out, "out", "", "output `file` (.age)")
	fs.StringVar(&out, "o", "", "output `file` (shorthand for --out)")
	jsonOut := fs.Bool("json", false, "print one JSON object on stdout")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("data encrypt: want one input file, got %d", len(pos))
	}
	if out == "" {
		return usagef("data encrypt: -o OUT.age is required")
	}
	in := pos[0]
	rs, err := rf.parse(e)
	if err != nil {
		return err
	}
	var src io.Reader = e.stdin
	if in != "-" {
		f, err := os.Open(in)
		if err != nil {
			return fmt.Errorf("data encrypt: %w", err)
		}
		defer f.Close()
		src = f
	}
	dst, err := vault.Create(out, rs...)
	if err != nil {
		return fmt.Errorf("data encrypt: %w", err)
	}
	n, err := io.Copy(dst, src)
	if err != nil {
		dst.Abort()
		return fmt.Errorf("data encrypt: %w", err)
	}
	if err := dst.Close(); err != nil {
		return fmt.Errorf("data encrypt: %w", err)
	}
	res := dataEncryptResult{Input: in, Output: out, Recipients: len(rs), Bytes: n}
	if *jsonOut {
		return writeJSON(e.stdout, res)
	}
	fmt.Fprintf(e.stdout, "encrypted %s (%d bytes) to %d recipient(s): %s\n", in, n, len(rs), out)
	return nil
}

func runDataDecrypt(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "data decrypt", "fedcrypt data decrypt -i IDENTITY IN.age [-o OUT --plaintext-file]", `
Decrypts an age data file with an identity (or, without -i, with the passphrase
of --passphrase-file) and writes the plaintext to standard output, for a pipe.
Patient data must not sit on disk in the clear, so writing the plaintext to a
file with -o also needs --plaintext-file; the file is created with mode 0600
and never overwrites an existing one. age authenticates the file chunk by
chunk: if the file was truncated or modified, the command fails (exit 1) and
what was written before the damaged chunk must be discarded (a file given
with -o is removed).`)
	var kf keyFlags
	kf.register(fs)
	var out string
	fs.StringVar(&out, "out", "", "write the plaintext to `file` (needs --plaintext-file)")
	fs.StringVar(&out, "o", "", "write the plaintext to `file` (shorthand for --out)")
	allowFile := fs.Bool("plaintext-file", false, "allow -o to write the decrypted data to disk in the clear")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("data decrypt: want one input file, got %d", len(pos))
	}
	if out != "" && out != "-" && !*allowFile {
		return usagef("data decrypt: -o %s would write patient data to disk in the clear: add --plaintext-file if that is intended, or omit -o for stdout", out)
	}
	id, err := kf.load(e)
	if err != nil {
		return err
	}
	if id == nil {
		return usagef("data decrypt: -i IDENTITY (or --passphrase-file for a passphrase-encrypted file) is required")
	}
	in := pos[0]
	if enc, err := vault.IsEncrypted(in); err != nil {
		return fmt.Errorf("data decrypt: %w", err)
	} else if !enc {
		return fmt.Errorf("data decrypt: %s is not an age file", in)
	}
	r, err := vault.Open(in, id)
	if err != nil {
		return fmt.Errorf("data decrypt: %w", err)
	}
	defer r.Close()
	if out == "" || out == "-" {
		if _, err := io.Copy(e.stdout, r); err != nil {
			return fmt.Errorf("data decrypt: %w", err)
		}
		return nil
	}
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("data decrypt: %w", err)
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(out)
		return fmt.Errorf("data decrypt: %w", err)
	}
	return nil
}
