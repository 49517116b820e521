package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/fedcrypt/fedcrypt/aggregator"
	"github.com/fedcrypt/fedcrypt/audit"
	"github.com/fedcrypt/fedcrypt/client"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/sim"
	"github.com/fedcrypt/fedcrypt/vault"
)

// verifyFlags are the flags that name what a verification reads; the
// report command shares them.
type verifyFlags struct {
	config           string
	checkpoint       string
	allowUnprotected bool
	keys             keyFlags
	witnesses        stringList
	witnessIdentity  stringList
	strict           bool
}

func (v *verifyFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&v.config, "config", "", "the federation config `file` (default: federation.json beside the log)")
	fs.StringVar(&v.checkpoint, "checkpoint", "", "the sealed checkpoint `file` whose audit head anchors the log (default: checkpoint.age beside the log; opened with --identity)")
	fs.BoolVar(&v.allowUnprotected, "allow-unprotected", false, "accept runs without DP (--no-dp) or encryption (--no-he); they are reported either way")
	fs.Var(&v.witnesses, "witness", "a hospital's state `dir` or sealed witness file (repeatable): the signed audit heads it kept, checked against the log (opened with --identity, or --witness-identity)")
	fs.Var(&v.witnessIdentity, "witness-identity", "age identity `file` that opens the --witness files, when not --identity's (a hospital's own; repeatable: each witness file opens with any of them)")
	fs.BoolVar(&v.strict, "strict", false, "fail unless the log is also anchored in the sealed checkpoint (--identity) and witnessed by the hospitals (--witness)")
	v.keys.register(fs)
}

// verifyTarget is what one verification reads: the log, the config, the
// anchor when an identity opened the checkpoint, and the hospitals'
// witnesses.
type verifyTarget struct {
	log        string
	dir        string
	config     string // the config file read
	checkpoint string // the checkpoint file opened, when one was
	fed        *federation.Config
	anchor     *audit.Anchor
	witnesses  []audit.Witness
	warning    string          // why the log is not anchored
	follows    string          // the previous version's log this run was checked to follow
	identity   *vault.Identity // --identity, which may be an auditor's
}

// resolve finds the log and config from a LOG or DIR argument, and opens
// the checkpoint when an identity is given.
func (v *verifyFlags) resolve(e *env, arg string) (*verifyTarget, error) {
	t := &verifyTarget{log: arg, dir: filepath.Dir(arg)}
	if st, err := os.Stat(arg); err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	} else if st.IsDir() {
		t.dir, t.log = arg, filepath.Join(arg, sim.FileAudit)
	}
	cfgPath := v.config
	if cfgPath == "" {
		cfgPath = filepath.Join(t.dir, sim.FileConfig)
	}
	fed, err := federation.Load(cfgPath)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && v.config == "" {
			return nil, usagef("no %s in %s: name the federation config with --config", sim.FileConfig, t.dir)
		}
		return nil, fmt.Errorf("federation config: %w", err)
	}
	t.fed, t.config = fed, cfgPath
	id, err := v.keys.load(e)
	t.identity = id
	if err != nil {
		return nil, fmt.Errorf("--identity: %w", err)
	}
	if t.witnesses, err = v.openWitnesses(e, fed, id); err != nil {
		return nil, err
	}
	cp := v.checkpoint
	if cp == "" {
		cp = filepath.Join(t.dir, sim.FileCheckpoint)
	}
	switch {
	case id == nil && v.checkpoint != "":
		return nil, usagef("--checkpoint %s: give --identity to open it", v.checkpoint)
	case id == nil:
		t.warning = "not anchored: without --identity the sealed checkpoint's head is not checked, so a log cut off after its end entry would pass"
		return t, nil
	}
	if t.anchor, err = openAnchor(cp, fed, id); err != nil {
		return nil, err
	}
	t.checkpoint = cp
	return t, nil
}

// openWitnesses opens the --witness files with --witness-identity, or
// else --identity (id).
func (v *verifyFlags) openWitnesses(e *env, fed *federation.Config, id *vault.Identity) ([]audit.Witness, error) {
	if len(v.witnesses) == 0 {
		if len(v.witnessIdentity) > 0 {
			return nil, usagef("--witness-identity: no --witness to open")
		}
		return nil, nil
	}
	if len(v.witnessIdentity) > 0 {
		var ids []*vault.Identity
		for _, f := range v.witnessIdentity {
			k, err := (&keyFlags{identity: f, passFile: v.keys.passFile}).load(e)
			if err != nil {
				return nil, fmt.Errorf("--witness-identity %s: %w", f, err)
			}
			ids = append(ids, k)
		}
		id = vault.JoinIdentities(ids...)
	}
	if id == nil {
		return nil, usagef("--witness: give --identity (an auditor's) or --witness-identity (the hospital's) to open it")
	}
	var out []audit.Witness
	for _, path := range v.witnesses {
		ws, err := client.LoadWitness(path, fed, id)
		if err != nil {
			return nil, fmt.Errorf("--witness %s: %w", path, err)
		}
		out = append(out, ws...)
	}
	return out, nil
}

// openAnchor unseals the aggregator's checkpoint and returns the audit
// head it records.
func openAnchor(path string, fed *federation.Config, id *vault.Identity) (*audit.Anchor, error) {
	aggPub, err := fed.Aggregator.PublicKey()
	if err != nil {
		return nil, err
	}
	raw, err := vault.Unseal(path, aggregator.SealKindCheckpoint, aggPub, id)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	var cp aggregator.Checkpoint
	if err := json.Unmarshal(raw, &cp); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if cp.ConfigHash != fed.Hash().String() {
		return nil, fmt.Errorf("checkpoint %s: of another federation (config hash %.16s…)", path, cp.ConfigHash)
	}
	if len(cp.AuditHead) != 32 {
		return nil, fmt.Errorf("checkpoint %s: audit head of %d bytes, want 32", path, len(cp.AuditHead))
	}
	a := &audit.Anchor{Round: cp.Round}
	copy(a.Head[:], cp.AuditHead)
	return a, nil
}

// verify runs the verification; a log that does not verify is a result,
// not an error (failure is set).
func (t *verifyTarget) verify(allowUnprotected bool) (run *audit.Run, failure *audit.Failure, err error) {
	run, err = audit.VerifyFile(t.log, t.fed, audit.Options{Anchor: t.anchor, AllowUnprotected: allowUnprotected, Witnesses: t.witnesses})
	if errors.As(err, &failure) {
		return run, failure, nil
	}
	if ev := run.Evaluation; err == nil && ev != nil && t.identity != nil && len(ev.Sealed) > 0 {
		// The hospitals' own releases open with an auditor's identity; with
		// another (a hospital's), they stay sealed and the output says so.
		if oerr := ev.OpenSites(t.fed, t.identity); oerr != nil && !errors.Is(oerr, vault.ErrNoIdentityMatch) {
			return run, nil, oerr
		}
	}
	return run, nil, err
}

// followsPrevious verifies the previous version's run (its config, by
// default beside it; the checkpoint opened with the same --identity, no witnesses) and
// checks that run follows it. A failure of either is a result.
func (v *verifyFlags) followsPrevious(e *env, previous, config string, t *verifyTarget, run *audit.Run) (*audit.Failure, error) {
	pv := verifyFlags{keys: v.keys, config: config}
	pt, err := pv.resolve(e, previous)
	if err != nil {
		return nil, fmt.Errorf("--previous: %w", err)
	}
	prun, failure, err := pt.verify(v.allowUnprotected)
	if err != nil {
		return nil, fmt.Errorf("--previous: %w", err)
	}
	if failure != nil {
		return &audit.Failure{Entry: failure.Entry, Reason: fmt.Sprintf("the previous version's log %s: entry %d: %s", pt.log, failure.Entry, failure.Reason)}, nil
	}
	if err := audit.CheckLineage(pt.fed, prun, t.fed, run); err != nil {
		return &audit.Failure{Entry: 1, Reason: fmt.Sprintf("does not follow %s: %s", pt.log, strings.TrimPrefix(err.Error(), audit.ErrBadLog.Error()+": "))}, nil
	}
	t.follows = pt.log
	return nil, nil
}

// errNotVerified makes the exit status non-zero after the verdict has
// been printed.
type errNotVerified struct{ msg string }

func (e errNotVerified) Error() string { return e.msg }

func runAuditVerify(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
	var vf verifyFlags
	vf.register(fs)
	previous := fs.String("previous", "", "the run `dir` (or log) of the federation version this one replaces: it is verified too, with the federation.json beside it, and this run must follow it (lineage, new key epochs, members' ledgers carried over)")
	previousConfig := fs.String("previous-config", "", "the previous version's federation config `file` (default: federation.json beside --previous)")
	var jsonOut bool
	(*jsonFlag)(&jsonOut).register(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("audit verify: want one LOG or DIR argument, got %d", len(pos))
	}
	if *previousConfig != "" && *previous == "" {
		return usagef("audit verify: --previous-config goes with --previous")
	}
	t, err := vf.resolve(e, pos[0])
	if err != nil {
		return err
	}
	run, failure, err := t.verify(vf.allowUnprotected)
	if err != nil {
		return err
	}
	if failure == nil && *previous != "" {
		if failure, err = vf.followsPrevious(e, *previous, *previousConfig, t, run); err != nil {
			return err
		}
	}
	verdict := verdictLine(t, run, failure)
	if jsonOut {
		out := map[string]any{"verified": failure == nil, "log": t.log, "verdict": verdict, "anchored": run.Anchored,
			"entries": run.Entries, "head": run.Head, "config_hash": run.ConfigHash, "unprotected": run.Unprotected,
			"hospitals": hospitalsJSON(run), "witnesses": witnessesJSON(run)}
		if run.Lineage != nil {
			out["lineage"], out["follows"] = run.Lineage, t.follows
		}
		if run.Evaluation != nil {
			out["evaluation"] = run.Evaluation
		}
		if failure != nil {
			out["entry"], out["reason"] = failure.Entry, failure.Reason
		}
		if t.warning != "" {
			out["warning"] = t.warning
		}
		if err := writeJSON(e.stdout, out); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(e.stdout, verdict)
		if t.warning != "" && failure == nil {
			fmt.Fprintf(e.stderr, "warning: %s\n", t.warning)
		}
		if ev := run.Evaluation; ev != nil && failure == nil && ev.Totals != nil {
			printPrivateEvaluation(e.stdout, privateEvaluation{totals: *ev.Totals, contributors: len(ev.Contributors),
				epsilon: ev.Epsilon, noise: ev.NoiseStdDev, sealed: len(ev.Sealed), sites: ev.Sites, mean: ev.SiteMean})
		}
	}
	if failure != nil {
		return errReported // the verdict says why
	}
	if vf.strict && !(run.Anchored && len(run.Witnesses) > 0) {
		return errNotVerified{fmt.Sprintf("audit verify --strict %s: chain and signatures verified, but the log is %s", t.log, incomplete(run))}
	}
	return nil
}

// incomplete says what a verified log lacks: an anchor, witnesses.
func incomplete(run *audit.Run) string {
	var lacks []string
	if !run.Anchored {
		lacks = append(lacks, "not anchored (no --identity)")
	}
	if len(run.Witnesses) == 0 {
		lacks = append(lacks, "not witnessed (no --witness)")
	}
	return strings.Join(lacks, " and ")
}

// verdictLine is the one-line verdict.
func verdictLine(t *verifyTarget, run *audit.Run, f *audit.Failure) string {
	if f != nil {
		return fmt.Sprintf("FAILED: %s: entry %d: %s", t.log, f.Entry, f.Reason)
	}
	completed := 0
	for _, r := range run.Rounds {
		if r.Completed {
			completed++
		}
	}
	var b strings.Builder
	// VERIFIED alone only for a log that is also anchored and witnessed:
	// without them a log cut short or rewritten by the aggregator, which
	// writes both the log and its checkpoint, could still pass.
	head := "VERIFIED"
	if !run.Anchored || len(run.Witnesses) == 0 {
		head = "CHAIN AND SIGNATURES VERIFIED"
	}
	fmt.Fprintf(&b, "%s: %s: %d entries, %d rounds, %d hospitals", head, t.log, run.Entries, completed, len(run.Hospitals))
	if run.DP {
		maxEps := 0.0
		for _, h := range run.Hospitals {
			c, _ := h.Epsilon()
			maxEps = max(maxEps, c)
		}
		fmt.Fprintf(&b, ", largest ε %.4g (δ = %g, %s) recomputed and within caps", maxEps, run.Delta, run.Accountant.Kind)
	}
	if run.Anchored {
		fmt.Fprintf(&b, ", anchored at entry %d", run.AnchorEntry)
	} else {
		b.WriteString(", NOT anchored (no --identity)")
	}
	if len(run.Witnesses) > 0 {
		var ids []string
		for _, w := range run.Witnesses {
			ids = append(ids, w.Hospital)
		}
		fmt.Fprintf(&b, ", witnessed by %s", strings.Join(ids, ", "))
	} else {
		b.WriteString(", NOT witnessed (no --witness)")
	}
	if l := run.Lineage; l != nil && t.follows != "" {
		fmt.Fprintf(&b, ", revision %d following %s", l.Revision, t.follows)
	} else if l != nil {
		fmt.Fprintf(&b, ", revision %d (give --previous to check it follows %.16s…)", l.Revision, l.Previous)
	}
	if len(run.Unprotected) > 0 {
		fmt.Fprintf(&b, "; UNPROTECTED RUN: %s", strings.Join(run.Unprotected, "; "))
	}
	return b.String()
}

// witnessesJSON lists the hospitals whose witnesses were checked; an empty
// list, not null, when none were.
func witnessesJSON(run *audit.Run) []audit.WitnessFacts {
	return append([]audit.WitnessFacts{}, run.Witnesses...)
}

func hospitalsJSON(run *audit.Run) []map[string]any {
	var out []map[string]any
	for _, h := range run.Hospitals {
		m := map[string]any{"id": h.ID, "rounds": h.TrainingRounds()}
		if run.DP && h.Contributor {
			c, r := h.Epsilon()
			m["claimed_epsilon"], m["recomputed_epsilon"], m["cap"] = c, r, h.Cap
		}
		out = append(out, m)
	}
	return out
}
