package sim

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fedcrypt/fedcrypt/aggregator"
	"github.com/fedcrypt/fedcrypt/audit"
	"github.com/fedcrypt/fedcrypt/client"
	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/internal/provision"
	"github.com/fedcrypt/fedcrypt/internal/sealedmodel"
	"github.com/fedcrypt/fedcrypt/transport/grpcnet"
	"github.com/fedcrypt/fedcrypt/vault"
)

// Processes says how RunProcesses starts a federation's parties.
type Processes struct {
	// Binary is the fedcrypt executable every party runs as.
	Binary string
	// Stderr receives the runner's warnings and, with Config.Logger set,
	// every party's log lines, each prefixed with its name.
	Stderr io.Writer
}

// RunProcesses runs the simulation cfg on ds with every party a separate
// OS process of p.Binary: "aggregator serve" and one "client join" per
// hospital, over loopback with mutual TLS, exactly as a deployment runs.
// It splits and partitions the rows as cfg says, writes a federation
// directory (init's layout) with each hospital's rows age-encrypted to it,
// waits for the run, verifies the audit log and scores the final model,
// read from the aggregator's sealed checkpoint with the researcher's key,
// on the held-out rows. The processes draw keys and DP noise from the
// operating system, so a seed fixes the split and partition only.
// Dropout is injected in each hospital (its connection wrapped by
// [Faults]), and the hospital reconnects over the network. The run's
// directory has an in-memory run's layout: config, audit log, checkpoint,
// model, rounds.csv and result.json at its top.
func RunProcesses(ctx context.Context, ds *data.Dataset, cfg Config, p Processes) (res *Result, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	stderr := p.Stderr
	if stderr == nil {
		stderr = io.Discard
	}
	start := time.Now()
	seed := randomSeed()
	if cfg.Seed != nil {
		seed = *cfg.Seed
	}
	train, test, err := data.StratifiedSplit(ds, cfg.TestFraction, seed)
	if err != nil {
		return nil, err
	}
	parts, err := data.Partition(train, cfg.Hospitals, cfg.Partition, seed)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(parts))
	rows := make([]int, len(parts))
	for i, p := range parts {
		if p.Rows() == 0 {
			return nil, fmt.Errorf("hospital h%d would get no rows: fewer hospitals, or another partition", i+1)
		}
		ids[i], rows[i] = fmt.Sprintf("h%d", i+1), p.Rows()
	}

	dir, cleanup, err := processesWorkspace(cfg.OutDir)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	researcher, err := identity(cfg.Seed, "researcher")
	if err != nil {
		return nil, err
	}
	// As in memory: the researcher's key is kept only when no --recipient
	// was given; with one, nothing secret stays in the clear.
	if cfg.OutDir != "" && len(cfg.Recipients) == 0 {
		if err := vault.WriteIdentityFile(filepath.Join(dir, FileResearcher), researcher, nil, 0); err != nil {
			return nil, err
		}
	}
	auditors := []vault.Recipient{researcher.Recipient()}
	for _, s := range cfg.Recipients {
		r, err := vault.ParseRecipient(s)
		if err != nil {
			return nil, fmt.Errorf("--recipient: %w", err)
		}
		auditors = append(auditors, r)
	}
	fed, keys, err := NewFederation(cfg, ds, Parties{Name: "simulation", Members: ids, Rows: rows, Auditors: auditors, SpareRounds: cfg.SpareRounds()})
	if err != nil {
		return nil, err
	}
	now := time.Now().Add(-5 * time.Minute)
	ca, err := grpcnet.NewCA("simulation federation CA", now, now.Add(24*time.Hour))
	if err != nil {
		return nil, err
	}
	fedDir := filepath.Join(dir, "federation")
	if err := provision.WriteDir(fedDir, fed, ca, keys, []string{"127.0.0.1"}, now, now.Add(24*time.Hour)); err != nil {
		return nil, err
	}
	// The parties need their identity files while they run; after a run
	// that finished the keys are kept only sealed, as an in-memory run
	// keeps them. A run that stopped early keeps them, since its parties
	// resume with them (aggregator serve --resume, client join).
	defer func() {
		if cfg.OutDir == "" {
			return
		}
		if err != nil {
			fmt.Fprintf(stderr, "fedcrypt: the parties' identity files stay in %s/*/%s for a resume; delete them if the run is abandoned\n", fedDir, provision.FileIdentity)
			return
		}
		if err := sealPartyKeys(dir, fedDir, keys, auditors); err != nil {
			fmt.Fprintf(stderr, "fedcrypt: warning: the parties' identity files may still be in %s: %v\n", fedDir, err)
		}
	}()
	// The run directory has an in-memory run's layout where it matters:
	// the config, audit log and checkpoint at its top, for audit verify
	// and report.
	if err := os.WriteFile(filepath.Join(dir, FileConfig), fed.Marshal(), 0o644); err != nil {
		return nil, err
	}
	for i, p := range parts {
		if err := writeSealedCSV(filepath.Join(dir, "data", ids[i]+".csv.age"), p, keys[ids[i]]); err != nil {
			return nil, err
		}
	}

	exe := p.Binary
	verbose := cfg.Logger != nil
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	addressFile := filepath.Join(fedDir, "aggregator", "address")
	aggArgs := []string{"aggregator", "serve", "--config", filepath.Join(fedDir, provision.FileFederation),
		"--identity", filepath.Join(fedDir, "aggregator", provision.FileIdentity), "--listen", "127.0.0.1:0",
		"-o", dir, "--timeout", timeout.String(), "--json", "--address-file", addressFile}
	agg, err := startProcess(ctx, exe, "aggregator", aggArgs, verbose, stderr)
	if err != nil {
		return nil, err
	}
	defer agg.stop()
	addr, err := agg.address(addressFile, 30*time.Second)
	if err != nil {
		return nil, err
	}
	var hospitals []*process
	for _, id := range ids {
		hd := filepath.Join(fedDir, id)
		args := []string{"client", "join", "--config", filepath.Join(fedDir, provision.FileFederation), "--member", id,
			"--identity", filepath.Join(hd, provision.FileIdentity), "--data", filepath.Join(dir, "data", id+".csv.age"),
			"--ledger", filepath.Join(dir, DirHospitals, id), "--aggregator", addr, "--retry-for", "1m", "--json"}
		if cfg.Dropout > 0 {
			args = append(args, "--sim-dropout", strconv.FormatFloat(cfg.Dropout, 'g', -1, 64))
		}
		h, err := startProcess(ctx, exe, id, args, verbose, stderr)
		if err != nil {
			return nil, err
		}
		defer h.stop()
		hospitals = append(hospitals, h)
	}

	aggErr := agg.wait()
	var errs []error
	if aggErr != nil {
		errs = append(errs, fmt.Errorf("aggregator: %w: %s", aggErr, agg.lastLine()))
	}
	for _, h := range hospitals {
		// Hospitals end on the aggregator's "done"; one that did not is
		// stopped after a grace period.
		if err := h.waitFor(15 * time.Second); err != nil && aggErr == nil {
			errs = append(errs, fmt.Errorf("hospital %s: %w: %s", h.name, err, h.lastLine()))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return processesResult(fed, cfg, dir, researcher, keys["aggregator"], train, test, rows, start)
}

// sealPartyKeys seals every party's identity into the run's key file, to
// the auditors, and removes the identity files the parties ran with.
func sealPartyKeys(dir, fedDir string, keys map[string]*vault.Identity, auditors []vault.Recipient) error {
	texts := map[string]string{}
	for id, k := range keys {
		texts[id] = string(vault.IdentityFileText(k))
	}
	b, err := json.Marshal(texts)
	clear(texts)
	if err != nil {
		return err
	}
	defer clear(b)
	if err := vault.Seal(filepath.Join(dir, FileKeys), SealKindKeys, b, keys["aggregator"].SigningKey(), auditors...); err != nil {
		return err
	}
	var errs []error
	for id := range keys {
		if err := os.Remove(filepath.Join(fedDir, id, provision.FileIdentity)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// processesResult reads a finished multi-process simulation's audit log and checkpoint and
// scores its final model on the held-out rows.
func processesResult(fed *federation.Config, cfg Config, dir string, researcher, aggKey *vault.Identity, train, test *data.Dataset, rows []int, start time.Time) (*Result, error) {
	ws, err := client.LoadWitness(filepath.Join(dir, DirHospitals), fed, researcher)
	if err != nil {
		return nil, fmt.Errorf("hospitals of the gRPC run: %w", err)
	}
	run, err := audit.VerifyFile(filepath.Join(dir, FileAudit), fed, audit.Options{AllowUnprotected: !cfg.DP || !cfg.HE, Witnesses: ws})
	if err != nil {
		return nil, fmt.Errorf("audit log of the gRPC run: %w", err)
	}
	writer, err := fed.Aggregator.PublicKey()
	if err != nil {
		return nil, err
	}
	// The aggregator seals the final model with the federation's
	// transform, computed from the statistics phase: scored here as
	// predict scores it.
	path := filepath.Join(dir, aggregator.FileModel)
	loaded, err := sealedmodel.Load(path, writer, researcher)
	if err != nil {
		return nil, fmt.Errorf("final model: %w", err)
	}
	if loaded.Transform == nil && loaded.Text == nil {
		return nil, fmt.Errorf("final model %s: no transform", path)
	}
	sc, err := loaded.Scorer(test.Text, test.X)
	if err != nil {
		return nil, fmt.Errorf("final model %s: %w", path, err)
	}
	all := make([]int, test.Rows())
	for i := range all {
		all[i] = i
	}
	metrics, params := sc.Evaluate(all, test.Y), sc.Params()
	if want, err := fed.NumParams(); err != nil {
		return nil, err
	} else if params != want {
		return nil, fmt.Errorf("final model: %d parameters, the federation's model has %d", params, want)
	}
	res := &Result{Metrics: metrics, Delta: cfg.Delta, Accountant: cfg.Accountant,
		Hospitals: cfg.Hospitals, Threshold: cfg.Threshold, MinContributors: fed.MinContributors, Encrypted: cfg.HE, DP: cfg.DP,
		PrivacyUnit: cfg.PrivacyUnit, Seeded: cfg.Seed != nil, Params: params, TrainRows: rows, TestRows: test.Rows(),
		ConfigHash: fed.Hash().String(), OutDir: cfg.OutDir, Ended: run.Ended}
	epsilonBy, epsilon, noise := claims(run) // the largest ε claimed in each round
	res.Epsilon, res.NoiseMultiplier = epsilon, noise
	if ev := run.Evaluation; ev != nil && ev.Totals != nil {
		if err := ev.OpenSites(fed, researcher); err != nil {
			return nil, fmt.Errorf("the sites' evaluation releases: %w", err)
		}
		res.PrivateEvaluation = &aggregator.Evaluation{Contributors: ev.Contributors, ScoreMetrics: *ev.Totals, Bins: ev.Bins,
			Epsilon: ev.Epsilon, NoiseStdDev: ev.NoiseStdDev, Spent: map[string]float64{}, Sites: ev.Sites, SiteMean: ev.SiteMean}
		for _, h := range run.Hospitals {
			if n := len(h.Spends); n > 0 && h.Spends[n-1].Release == audit.TypeEvaluation {
				res.PrivateEvaluation.Spent[h.ID] = h.Spends[n-1].Claimed
			}
		}
	}
	var bytesUp int64
	eps := 0.0
	for _, r := range run.Rounds {
		eps = max(eps, epsilonBy[r.Round])
		rep := RoundReport{Round: r.Round, Attempt: r.Attempt, Completed: r.Completed, Reason: r.Reason,
			Contributors: r.Contributors, Dropped: r.Dropped, DecryptSet: r.DecryptionSet, Epsilon: eps, BytesUp: r.BytesUp}
		for id := range r.Declined {
			rep.Declined = append(rep.Declined, id)
		}
		slices.Sort(rep.Declined)
		if r.Completed {
			res.Rounds++
			bytesUp += r.BytesUp
		}
		res.History = append(res.History, rep)
		if cfg.OnRound != nil {
			cfg.OnRound(rep)
		}
	}
	if res.Rounds > 0 {
		res.BytesUpPerRound = float64(bytesUp) / float64(res.Rounds)
	}
	res.Seconds = time.Since(start).Seconds()
	if cfg.OutDir != "" {
		if err := writeRounds(filepath.Join(dir, FileRounds), res.History); err != nil {
			return nil, err
		}
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, FileResult), append(b, '\n'), 0o644); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// processesWorkspace returns the run's directory: outDir (which must be empty or
// absent), or a temporary one removed by cleanup.
func processesWorkspace(outDir string) (dir string, cleanup func(), err error) {
	if outDir == "" {
		dir, err := os.MkdirTemp("", "fedcrypt-sim-processes-")
		if err != nil {
			return "", nil, err
		}
		return dir, func() { os.RemoveAll(dir) }, nil
	}
	if entries, err := os.ReadDir(outDir); err == nil && len(entries) > 0 {
		return "", nil, fmt.Errorf("--out %s: directory is not empty (a run never overwrites another's artefacts)", outDir)
	}
	if err := os.MkdirAll(outDir, 0o700); err != nil {
		return "", nil, err
	}
	return outDir, func() {}, nil
}

// writeSealedCSV writes a hospital's rows age-encrypted to it.
func writeSealedCSV(path string, d *data.Dataset, owner *vault.Identity) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := vault.Create(path, owner.Recipient())
	if err != nil {
		return err
	}
	if err := d.WriteCSV(f); err != nil {
		f.Abort()
		return err
	}
	return f.Close()
}

func randomSeed() uint64 {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("fedcrypt: crypto/rand failed: " + err.Error())
	}
	return binary.LittleEndian.Uint64(b[:])
}

// process is one party of a multi-process simulation: an OS process.
type process struct {
	name  string
	cmd   *exec.Cmd
	lines chan string // stderr lines, until the process exits
	last  string      // the last stderr line read
	done  chan struct{}
	err   error
}

func startProcess(ctx context.Context, exe, name string, args []string, verbose bool, log io.Writer) (*process, error) {
	if verbose {
		args = append(args, "--verbose")
	}
	p := &process{name: name, cmd: exec.CommandContext(ctx, exe, args...), lines: make(chan string, 256), done: make(chan struct{})}
	p.cmd.Cancel = func() error { return p.cmd.Process.Signal(syscall.SIGTERM) }
	p.cmd.WaitDelay = 15 * time.Second
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	p.cmd.Stdout = io.Discard
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if verbose {
				fmt.Fprintf(log, "[%s] %s\n", name, line)
			}
			select {
			case p.lines <- line:
			default: // nobody is waiting for lines
			}
			p.last = line
		}
		io.Copy(io.Discard, stderr)
		p.err = p.cmd.Wait()
		close(p.lines)
		close(p.done)
	}()
	return p, nil
}

// address waits for the aggregator to write where it listens to file.
func (p *process) address(file string, timeout time.Duration) (string, error) {
	go func() {
		for range p.lines {
		}
	}()
	deadline := time.After(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if b, err := os.ReadFile(file); err == nil {
			return strings.TrimSpace(string(b)), nil
		}
		select {
		case <-p.done:
			return "", fmt.Errorf("aggregator exited before listening: %v: %s", p.err, p.last)
		case <-deadline:
			return "", fmt.Errorf("aggregator not listening after %v", timeout)
		case <-tick.C:
		}
	}
}

func (p *process) wait() error {
	go func() {
		for range p.lines {
		}
	}()
	<-p.done
	return p.err
}

// waitFor waits up to d for the process, then stops it.
func (p *process) waitFor(d time.Duration) error {
	go func() {
		for range p.lines {
		}
	}()
	select {
	case <-p.done:
		return p.err
	case <-time.After(d):
		p.stop()
		return fmt.Errorf("still running %v after the aggregator ended", d)
	}
}

// stop ends the process (SIGTERM, then SIGKILL) if it is still running.
func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *process) lastLine() string { return p.last }
