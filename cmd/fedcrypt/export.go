package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/internal/export"
	"github.com/fedcrypt/fedcrypt/internal/sealedmodel"
	"github.com/fedcrypt/fedcrypt/vault"
	"github.com/fedcrypt/fedcrypt/version"
)

type modelExportResult struct {
	Output      string   `json:"output"`
	Format      string   `json:"format"`
	Bytes       int      `json:"bytes"`
	Kind        string   `json:"kind"`
	Features    int      `json:"features"`
	Classes     []string `json:"classes"`
	Federation  string   `json:"federation,omitempty"`
	ModelDigest string   `json:"model_digest"`
}

func runModelExport(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
	var mf modelOutFlags
	mf.register(fs, "output `file` (plaintext)")
	format := fs.String("format", "onnx", "output `format`: onnx or json")
	if err := mf.parse(fs, args, "model export"); err != nil {
		return err
	}
	sf, out, force, jsonOut := mf.sealedModelFlags, mf.out, &mf.force, mf.json
	if *format != "onnx" && *format != "json" {
		return usagef("model export: --format %q: want onnx or json", *format)
	}
	if err := notAnInput("-o", out, sf.inputs()...); err != nil {
		return err
	}
	if err := notExisting("model export: -o", *force, out); err != nil {
		return err
	}
	writer, id, err := sf.open(e)
	if err != nil {
		return err
	}
	m, err := openForExport(sf.checkpoint, writer, id)
	if err != nil {
		return err
	}
	m.Federation = federationName(sf.signer)
	m.Producer = version.Version
	var b []byte
	if *format == "onnx" {
		b, err = export.ONNX(m)
	} else {
		b, err = export.JSON(m)
	}
	if err != nil {
		return fmt.Errorf("model export: %s: %w", sf.checkpoint, err)
	}
	if err := writeNew(out, b, *force); err != nil {
		return fmt.Errorf("model export: %w", err)
	}
	res := modelExportResult{Output: out, Format: *format, Bytes: len(b), Kind: m.Network.Config().Kind,
		Features: len(m.Schema.Features), Classes: m.Schema.Classes, Federation: m.Federation, ModelDigest: export.Digest(m.Network)}
	if jsonOut {
		return writeJSON(e.stdout, res)
	}
	fmt.Fprintf(e.stdout, "exported a %s model (%d features, classes %s) as %s: %s (%d bytes, not encrypted)\n",
		res.Kind, res.Features, strings.Join(res.Classes, ", "), res.Format, out, res.Bytes)
	return nil
}

// modelOutFlags are the flags of a model subcommand that reads a sealed model and writes a file.
type modelOutFlags struct {
	sealedModelFlags
	out         string
	force, json bool
}

func (f *modelOutFlags) register(fs *flag.FlagSet, outUsage string) {
	f.sealedModelFlags.register(fs)
	(*outFlag)(&f.out).register(fs, outUsage)
	fs.BoolVar(&f.force, "force", false, "replace an existing output file")
	(*jsonFlag)(&f.json).register(fs)
}

// parse parses args and reports a missing flag or an argument, as usage errors of cmd.
func (f *modelOutFlags) parse(fs *flag.FlagSet, args []string, cmd string) error {
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := f.check(cmd); err != nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return usagef("%s: unexpected argument %q", cmd, pos[0])
	case f.out == "":
		return usagef("%s: -o OUT is required", cmd)
	}
	return nil
}

// sealedModelFlags name a sealed model and how to open it: the file, the
// identity it is encrypted to, and the writer whose signature it must carry
// (the flags of predict, which declares them itself).
type sealedModelFlags struct {
	checkpoint, signer string
	keys               keyFlags
}

func (f *sealedModelFlags) register(fs *flag.FlagSet) {
	f.keys.register(fs)
	fs.StringVar(&f.checkpoint, "checkpoint", "", "sealed model `file` (.age)")
	fs.StringVar(&f.signer, "signer", "", "the model writer's signing `key` (ed25519:...), a file holding it, or the federation.json whose aggregator wrote the model")
}

// check reports a missing flag, as a usage error of cmd.
func (f *sealedModelFlags) check(cmd string) error {
	switch {
	case f.checkpoint == "":
		return usagef("%s: --checkpoint is required", cmd)
	case f.signer == "":
		return usagef("%s: --signer is required: a sealed model is accepted only from its expected writer", cmd)
	case f.keys.identity == "":
		return usagef("%s: -i IDENTITY is required to open the sealed model", cmd)
	}
	return nil
}

// open reads the writer's key and the identity the flags name.
func (f *sealedModelFlags) open(e *env) (ed25519.PublicKey, *vault.Identity, error) {
	writer, err := readSigner(f.signer)
	if err != nil {
		return nil, nil, err
	}
	id, err := f.keys.load(e)
	if err != nil {
		return nil, nil, err
	}
	return writer, id, nil
}

// inputs are the files the flags name, which an output must not replace.
func (f *sealedModelFlags) inputs() []input {
	return []input{{"sealed model", f.checkpoint}, {"identity file", f.keys.identity}, {"signer file", f.signer}}
}

// openForExport opens a sealed model as sealedmodel.Unseal does (the
// writer's signature, the identity, the payload's checks) and refuses a
// payload with any field that a numeric model does not have: a model of
// another kind (a text model's tokenizer, say) would otherwise be exported
// without what it needs to score a row. The plaintext stays in memory.
func openForExport(path string, writer ed25519.PublicKey, id *vault.Identity) (export.Model, error) {
	payload, err := vault.Unseal(path, sealedmodel.Kind, writer, id)
	if err != nil {
		return export.Model{}, err
	}
	defer clear(payload)
	var kind struct {
		Text json.RawMessage `json:"text"`
	}
	if json.Unmarshal(payload, &kind) == nil && len(kind.Text) > 0 && string(kind.Text) != "null" {
		return export.Model{}, fmt.Errorf("model export: %s: not a numeric model: a text model (its \"text\" featurization is not an ONNX operator); export numeric models", path)
	}
	net, p, err := sealedmodel.Decode(payload)
	if err != nil {
		return export.Model{}, fmt.Errorf("sealed model %s: %w", path, err)
	}
	if f, err := lostField(payload, &p); err != nil {
		return export.Model{}, fmt.Errorf("sealed model %s: %w", path, err)
	} else if f != "" {
		return export.Model{}, fmt.Errorf("model export: %s: not a numeric model: it has a field %q that export does not know, so the export could not score as fedcrypt does", path, f)
	}
	return export.Model{Network: net, Schema: p.Schema, Transform: p.Transform}, nil
}

// lostField returns the first field of the JSON object raw, or of an object
// within it, that is set in raw but lost when raw is decoded into v (which
// must hold raw decoded already) and encoded again: a field v's type does
// not know. It returns "" when nothing is lost.
func lostField(raw []byte, v any) (string, error) {
	var in map[string]any
	if err := json.Unmarshal(raw, &in); err != nil {
		return "", err
	}
	again, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	var back map[string]any
	if err := json.Unmarshal(again, &back); err != nil {
		return "", err
	}
	return missingKey("", in, back), nil
}

// missingKey returns the first key (dotted path, in sorted order) of in,
// with a value other than null, "", false, 0 or empty, that back lacks.
func missingKey(prefix string, in, back map[string]any) string {
	keys := make([]string, 0, len(in))
	for k := range in {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := in[k]
		switch x := v.(type) {
		case nil:
			continue
		case string, bool, float64:
			if x == "" || x == false || x == 0.0 {
				continue
			}
		case []any:
			if len(x) == 0 {
				continue
			}
		}
		bv, ok := back[k]
		if !ok {
			return prefix + k
		}
		if im, ok := v.(map[string]any); ok {
			bm, _ := bv.(map[string]any)
			if f := missingKey(prefix+k+".", im, bm); f != "" {
				return f
			}
		}
	}
	return ""
}

// federationName returns the federation's name when signer is a federation
// config (readSigner has read it already), else "".
func federationName(signer string) string {
	b, err := os.ReadFile(signer)
	if err != nil || !strings.HasPrefix(strings.TrimSpace(string(b)), "{") {
		return ""
	}
	fed, err := federation.Parse(strings.NewReader(string(b)), signer)
	if err != nil {
		return ""
	}
	return fed.Name
}

// writeNew writes b to path through a temporary file in the same directory
// (fsync, then a hard link that fails if path exists, or with force a
// rename over it), so that path is either absent, as it was, or complete,
// and a file that appeared since the command checked is not replaced.
func writeNew(path string, b []byte, force bool) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if force {
		return os.Rename(tmp.Name(), path)
	}
	err = os.Link(tmp.Name(), path)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, os.ErrExist):
		return notExisting("-o", false, path)
	}
	// A file system without hard links: check, then rename.
	if err := notExisting("-o", false, path); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
