package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/internal/project"
	"github.com/fedcrypt/fedcrypt/internal/provision"
	"github.com/fedcrypt/fedcrypt/sim"
	"github.com/fedcrypt/fedcrypt/transport/grpcnet"
	"github.com/fedcrypt/fedcrypt/vault"
)

func runInit(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
	set := sim.Defaults()
	var members stringList
	fs.Var(&members, "members", "member `ids`, comma-separated or repeated (at least 2)")
	var df dataFlags
	df.register(fs, "wdbc")
	var bf boundsFlags
	bf.register(fs)
	name := fs.String("name", "federation", "the federation's `name`")
	fs.IntVar(&set.Threshold, "threshold", set.Threshold, "T: key holders needed to decrypt a sum (≥ 2)")
	fs.IntVar(&set.MinContributors, "min-contributors", 0, "fewest uploads a sum may have (default T+1, or T with only T members)")
	fs.IntVar(&set.Committee, "committee", 0, "how many members hold key shares: the first N of --members (default all)")
	fs.IntVar(&set.MaxDecryptions, "max-decryptions", set.MaxDecryptions, "decryption attempts per round's sum")
	fs.IntVar(&set.Rounds, "rounds", set.Rounds, "federated rounds")
	fs.IntVar(&set.LocalSteps, "local-steps", set.LocalSteps, "DP-SGD steps each hospital takes per round")
	spare := fs.Int("spare-rounds", 1, "rounds of privacy budget each hospital keeps for abandoned and retried rounds")
	fs.Float64Var(&set.Epsilon, "epsilon", set.Epsilon, "each hospital's privacy budget ε over the federation's life")
	fs.Float64Var(&set.Delta, "delta", set.Delta, "δ of every hospital's (ε, δ) guarantee")
	fs.StringVar(&set.Accountant, "accountant", set.Accountant, "privacy accountant: rdp or pld")
	fs.Float64Var(&set.ClipNorm, "clip", set.ClipNorm, "per-example (per-patient) L2 clipping norm C")
	fs.Float64Var(&set.SampleRate, "sample-rate", set.SampleRate, "Poisson sampling rate q of each DP-SGD step")
	fs.Float64Var(&set.Local.LR, "lr", set.Local.LR, "local learning rate")
	fs.StringVar(&set.Model, "model", set.Model, "model: logreg, softmax, mlp:H1[,H2...][:relu|sigmoid|tanh]; with --text: softmax, embag:DIM[:H1,...]")
	var sf serverOptFlags
	sf.register(fs, set.Server)
	var tf textFlags
	tf.register(fs, &df.Text, true)
	fs.StringVar(&set.Preset, "preset", set.Preset, "CKKS parameter preset: compact or precise")
	fs.StringVar(&set.Compress, "compress", "", "upload compression after DP: randk:FRACTION or srht:FRACTION, :ef for error feedback")
	fs.Float64Var(&set.UpdateBound, "update-bound", set.UpdateBound, "L2 bound every model update is clipped to before encryption")
	var hosts, auditors stringList
	fs.Var(&hosts, "hosts", "the aggregator's DNS `names` and IP addresses, for its certificate (default localhost,127.0.0.1)")
	fs.Var(&auditors, "auditor", "an auditor's age `recipient`, receiving the sealed checkpoints, model and each hospital's own evaluation release (repeatable)")
	fs.Float64Var(&set.EvalEpsilon, "private-eval", 0, "evaluate the final model privately: each member holds out --holdout of its rows and releases noisy confusion counts and score histograms costing this `ε` (within --epsilon), summed under encryption; its own release is sealed to the auditors")
	fs.Float64Var(&set.EvalHoldout, "holdout", set.EvalHoldout, "with --private-eval: the `fraction` of each member's rows held out for the evaluation, never trained on")
	validFor := fs.Duration("valid-for", 365*24*time.Hour, "validity of the certificates")
	var out string
	(*outFlag)(&out).register(fs, "federation `directory` to create")
	project := fs.String("project", "", "build the federation from this project `file` (YAML) of the members' public keys")
	previous := fs.String("previous", "", "with --project: the federation.json of the version the new one replaces (members added or removed)")
	var jsonOut bool
	(*jsonFlag)(&jsonOut).register(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return usagef("init: unexpected argument %q", pos[0])
	case *previous != "" && *project == "":
		return usagef("init: --previous goes with --project")
	case out == "":
		return usagef("init: -o DIR is required")
	case *project != "":
		var demo []string
		fs.Visit(func(f *flag.Flag) {
			if f.Name != "project" && f.Name != "previous" && f.Name != "out" && f.Name != "o" && f.Name != "json" {
				demo = append(demo, "--"+f.Name)
			}
		})
		if len(demo) > 0 {
			return usagef("init --project: %s belongs in the project file (only -o and --json go with --project)", strings.Join(demo, ", "))
		}
		return initProject(e, *project, *previous, out, jsonOut)
	case len(members) < 2:
		return usagef("--members: a federation needs at least 2 members, got %d", len(members))
	case *validFor <= 0:
		return usagef("--valid-for %v: must be positive", *validFor)
	}
	if len(hosts) == 0 {
		hosts = stringList{"localhost", "127.0.0.1"}
	}
	if err := textFederation(&set, df.Text, &tf, &sf, setFlags(fs)); err != nil {
		return err
	}
	if entries, err := os.ReadDir(out); err == nil && len(entries) > 0 {
		return fmt.Errorf("init: %s is not empty (init never overwrites keys)", out)
	}
	ds, rep, err := df.load(e)
	if err != nil {
		return err
	}
	set.PrivacyUnit = ds.Options().PrivacyUnit
	set.StatsShare = bf.share
	if set.Bounds, err = bf.load(df.Source, ds); err != nil {
		return usageError{err.Error()}
	}
	if *spare < 0 {
		return usagef("--spare-rounds %d: must not be negative", *spare)
	}
	fed, keys, err := newFederation(*name, set, *spare, ds, members, nil, auditors)
	if err != nil {
		return err
	}
	e = assumeInit(e, ds, rep, &df, set, *spare, len(members), jsonOut)
	now := time.Now().Add(-5 * time.Minute).UTC() // tolerate small clock skew
	notAfter := now.Add(*validFor)
	ca, err := grpcnet.NewCA(*name+" federation CA", now, notAfter)
	if err != nil {
		return err
	}
	if err := provision.WriteDir(out, fed, ca, keys, hosts, now, notAfter); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	res := map[string]any{
		"dir": out, "config": filepath.Join(out, provision.FileFederation), "config_hash": fed.Hash().String(),
		"ca": filepath.Join(out, provision.FileCACert), "members": []string(members), "threshold": fed.Threshold,
		"min_contributors": fed.MinContributors, "hosts": []string(hosts), "not_after": notAfter.Format(time.RFC3339),
	}
	if jsonOut {
		return writeJSON(e.stdout, res)
	}
	fmt.Fprintf(e.stdout, "federation %q: %d members, threshold %d, min-contributors %d\n", fed.Name, len(members), fed.Threshold, fed.MinContributors)
	fmt.Fprintf(e.stdout, "  config      %s (hash %s)\n", res["config"], res["config_hash"])
	fmt.Fprintf(e.stdout, "  CA          %s (certificates valid until %s)\n", res["ca"], res["not_after"])
	fmt.Fprintf(e.stdout, "  aggregator  %s (server certificate for %v)\n", filepath.Join(out, "aggregator"), []string(hosts))
	for _, id := range members {
		fmt.Fprintf(e.stdout, "  member      %s\n", filepath.Join(out, id))
	}
	fmt.Fprintln(e.stdout, "Demo mode: every party's secret keys are in this directory; hand each party only its own.")
	fmt.Fprintln(e.stdout, "For a real consortium, members make their own keys (fedcrypt keygen --csr) and the coordinator runs init --project.")
	return nil
}

// initProject writes the federation's config built from a project file:
// the next version of the federation in previous, when given.
func initProject(e *env, path, previous, out string, jsonOut bool) error {
	pf, err := project.Load(path)
	if err != nil {
		return err
	}
	fed, err := buildProject(pf, previous)
	if err != nil {
		return err
	}
	cfg := filepath.Join(out, provision.FileFederation)
	if _, err := os.Lstat(cfg); err == nil {
		return fmt.Errorf("init: %s exists (init never overwrites a federation)", cfg)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	if err := os.WriteFile(cfg, fed.Marshal(), 0o644); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	res := map[string]any{"dir": out, "config": cfg, "config_hash": fed.Hash().String(), "members": memberIDs(fed),
		"threshold": fed.Threshold, "min_contributors": fed.MinContributors, "revision": fed.Revision()}
	if fed.Lineage != nil {
		res["lineage"] = fed.Lineage
	}
	if jsonOut {
		return writeJSON(e.stdout, res)
	}
	fmt.Fprintf(e.stdout, "federation %q: %d members, threshold %d, min-contributors %d\n", fed.Name, len(fed.Members), fed.Threshold, fed.MinContributors)
	fmt.Fprintf(e.stdout, "  config  %s (hash %s)\n", cfg, res["config_hash"])
	if l := fed.Lineage; l != nil {
		fmt.Fprintf(e.stdout, "  revision %d after %s: adds %q, removes %q (their certificates are refused)\n", l.Revision, l.Previous, l.Added, l.Removed)
		fmt.Fprintln(e.stdout, "Members accept it (fedcrypt member accept --config NEW --previous OLD) before they join; new members' requests are signed with ca sign.")
		return nil
	}
	fmt.Fprintln(e.stdout, "Next: fedcrypt ca init, then fedcrypt ca sign for each member's tls.csr; hand each party federation.json, ca.crt and its certificate.")
	return nil
}

// buildProject builds a project's federation: its first version, or the
// one after the config at previous.
func buildProject(pf *project.File, previous string) (*federation.Config, error) {
	if previous == "" {
		return pf.Build()
	}
	prev, err := federation.Load(previous)
	if err != nil {
		return nil, fmt.Errorf("--previous: %w", err)
	}
	return pf.BuildNext(prev)
}

func memberIDs(fed *federation.Config) []string {
	ids := make([]string, len(fed.Members))
	for i, m := range fed.Members {
		ids[i] = m.ID
	}
	return ids
}

// newFederation builds the config of a federation of s's settings and
// every party's keys (sim.NewFederation), its errors as usage errors.
func newFederation(name string, s sim.Config, spareRounds int, ds *data.Dataset, members []string, rows []int, auditors []string) (*federation.Config, map[string]*vault.Identity, error) {
	p := sim.Parties{Name: name, Members: members, Rows: rows, SpareRounds: spareRounds}
	for _, a := range auditors {
		r, err := vault.ParseRecipient(a)
		if err != nil {
			return nil, nil, usagef("--auditor: %v", err)
		}
		p.Auditors = append(p.Auditors, r)
	}
	fed, keys, err := sim.NewFederation(s, ds, p)
	if err != nil {
		return nil, nil, usageError{err.Error()}
	}
	return fed, keys, nil
}

// loadMemberData reads a member's data set (age-encrypted to id, or
// plain) with the federation's options, decrypting in memory only.
func loadMemberData(path string, id *vault.Identity, opt data.Options) (*data.Dataset, error) {
	r, err := vault.Open(path, id)
	if err != nil {
		return nil, fmt.Errorf("--data: %w", err)
	}
	defer r.Close()
	ds, _, err := data.Load(r, path, opt)
	if err != nil {
		return nil, fmt.Errorf("--data: %w", err)
	}
	return ds, nil
}
