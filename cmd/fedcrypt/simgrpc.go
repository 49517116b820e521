package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/fedcrypt/fedcrypt/aggregator"
	"github.com/fedcrypt/fedcrypt/audit"
	"github.com/fedcrypt/fedcrypt/client"
	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/internal/sealedmodel"
	"github.com/fedcrypt/fedcrypt/internal/transport/grpcnet"
	"github.com/fedcrypt/fedcrypt/model"
	"github.com/fedcrypt/fedcrypt/sim"
	"github.com/fedcrypt/fedcrypt/vault"
	"gonum.org/v1/gonum/mat"
)

// fedcryptBinary is the executable the parties of a gRPC simulation run
// as: this one.
var fedcryptBinary = os.Executable

// simOverGRPC runs the simulation cfg on ds with every party a separate OS
// process of this binary: "aggregator serve" and one "client join" per
// hospital, over loopback with mutual TLS, exactly as a deployment runs.
// It splits and partitions the rows as cfg says, writes a federation
// directory (init's layout) with each hospital's rows age-encrypted to it,
// waits for the run, verifies the audit log and scores the final model,
// read from the aggregator's sealed checkpoint with the researcher's key,
// on the held-out rows. The processes draw keys and DP noise from the
// operating system, so a --seed fixes the split and partition only.
// Dropout is injected in each hospital (connection dropped at a random
// stage), and the hospital reconnects over the network.
func simOverGRPC(ctx context.Context, e *env, ds *data.Dataset, cfg sim.Config) (res *sim.Result, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, usageError{err.Error()}
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

	dir, cleanup, err := simWorkspace(cfg.OutDir)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	researcher, err := vault.GenerateIdentity()
	if err != nil {
		return nil, err
	}
	// As in memory: the researcher's key is kept only when no --recipient
	// was given; with one, nothing secret stays in the clear.
	if cfg.OutDir != "" && len(cfg.Recipients) == 0 {
		if err := vault.WriteIdentityFile(filepath.Join(dir, sim.FileResearcher), researcher, nil, 0); err != nil {
			return nil, err
		}
	}
	auditors := append([]string{researcher.Recipient().String()}, cfg.Recipients...)
	// As in memory: budget for one retried round when hospitals drop out.
	spare := 0
	if cfg.Dropout > 0 {
		spare = 1
	}
	fed, keys, err := newFederation("simulation", cfg, spare, ds, ids, rows, auditors)
	if err != nil {
		return nil, err
	}
	now := time.Now().Add(-5 * time.Minute)
	ca, err := grpcnet.NewCA("simulation federation CA", now, now.Add(24*time.Hour))
	if err != nil {
		return nil, err
	}
	fedDir := filepath.Join(dir, "federation")
	if err := writeFederationDir(fedDir, fed, ca, keys, []string{"127.0.0.1"}, now, now.Add(24*time.Hour)); err != nil {
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
			fmt.Fprintf(e.stderr, "fedcrypt: the parties' identity files stay in %s/*/%s for a resume; delete them if the run is abandoned\n", fedDir, fileIdentity)
			return
		}
		if err := sealPartyKeys(dir, fedDir, keys, append([]string{researcher.Recipient().String()}, cfg.Recipients...)); err != nil {
			fmt.Fprintf(e.stderr, "fedcrypt: warning: the parties' identity files may still be in %s: %v\n", fedDir, err)
		}
	}()
	// The run directory has an in-memory run's layout where it matters:
	// the config, audit log and checkpoint at its top, for audit verify
	// and report.
	if err := os.WriteFile(filepath.Join(dir, sim.FileConfig), fed.Marshal(), 0o644); err != nil {
		return nil, err
	}
	for i, p := range parts {
		if err := writeSealedCSV(filepath.Join(dir, "data", ids[i]+".csv.age"), p, keys[ids[i]]); err != nil {
			return nil, err
		}
	}

	exe, err := fedcryptBinary()
	if err != nil {
		return nil, err
	}
	verbose := cfg.Logger != nil
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	aggArgs := []string{"aggregator", "serve", "--config", filepath.Join(fedDir, fileFederation),
		"--identity", filepath.Join(fedDir, "aggregator", fileIdentity), "--listen", "127.0.0.1:0",
		"-o", dir, "--timeout", timeout.String(), "--json"}
	agg, err := startParty(ctx, exe, "aggregator", aggArgs, verbose, e.stderr)
	if err != nil {
		return nil, err
	}
	defer agg.stop()
	addr, err := agg.address(30 * time.Second)
	if err != nil {
		return nil, err
	}
	var hospitals []*party
	for _, id := range ids {
		hd := filepath.Join(fedDir, id)
		args := []string{"client", "join", "--config", filepath.Join(fedDir, fileFederation), "--member", id,
			"--identity", filepath.Join(hd, fileIdentity), "--data", filepath.Join(dir, "data", id+".csv.age"),
			"--ledger", filepath.Join(dir, sim.DirHospitals, id), "--aggregator", addr, "--retry-for", "1m", "--json"}
		if cfg.Dropout > 0 {
			args = append(args, "--sim-dropout", strconv.FormatFloat(cfg.Dropout, 'g', -1, 64))
		}
		h, err := startParty(ctx, exe, id, args, verbose, e.stderr)
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
	return simResult(fed, cfg, dir, researcher, keys["aggregator"], train, test, rows, start)
}

// sealPartyKeys seals every party's identity into the run's key file, to
// the auditors, and removes the identity files the parties ran with.
func sealPartyKeys(dir, fedDir string, keys map[string]*vault.Identity, auditors []string) error {
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
	var rs []vault.Recipient
	for _, a := range auditors {
		r, err := vault.ParseRecipient(a)
		if err != nil {
			return err
		}
		rs = append(rs, r)
	}
	if err := vault.Seal(filepath.Join(dir, sim.FileKeys), sim.SealKindKeys, b, keys["aggregator"].SigningKey(), rs...); err != nil {
		return err
	}
	var errs []error
	for id := range keys {
		if err := os.Remove(filepath.Join(fedDir, id, fileIdentity)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// simResult reads a finished gRPC simulation's audit log and checkpoint and
// scores its final model on the held-out rows.
func simResult(fed *federation.Config, cfg sim.Config, dir string, researcher, aggKey *vault.Identity, train, test *data.Dataset, rows []int, start time.Time) (*sim.Result, error) {
	ws, err := client.LoadWitness(filepath.Join(dir, sim.DirHospitals), fed, researcher)
	if err != nil {
		return nil, fmt.Errorf("hospitals of the gRPC run: %w", err)
	}
	run, err := audit.VerifyFile(filepath.Join(dir, sim.FileAudit), fed, audit.Options{AllowUnprotected: !cfg.DP || !cfg.HE, Witnesses: ws})
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
	m, payload, err := sealedmodel.Unseal(filepath.Join(dir, aggregator.FileModel), writer, researcher)
	if err != nil {
		return nil, fmt.Errorf("final model: %w", err)
	}
	if want, err := model.New(fed.Model, mrand.New(mrand.NewPCG(0, 0))); err != nil {
		return nil, err
	} else if m.NumParams() != want.NumParams() {
		return nil, fmt.Errorf("final model: %d parameters, the federation's model has %d", m.NumParams(), want.NumParams())
	}
	tf := payload.Transform
	if tf == nil {
		return nil, fmt.Errorf("final model %s: no transform", filepath.Join(dir, aggregator.FileModel))
	}
	xtest := mat.NewDense(test.Rows(), len(test.Features), nil)
	if err := tf.Apply(xtest, test.X); err != nil {
		return nil, err
	}
	res := &sim.Result{Metrics: model.Evaluate(m, xtest, test.Y), Delta: cfg.Delta, Accountant: cfg.Accountant,
		Hospitals: cfg.Hospitals, Threshold: cfg.Threshold, MinContributors: fed.MinContributors, Encrypted: cfg.HE, DP: cfg.DP,
		PrivacyUnit: cfg.PrivacyUnit, Seeded: cfg.Seed != nil, Params: m.NumParams(), TrainRows: rows, TestRows: test.Rows(),
		ConfigHash: fed.Hash().String(), OutDir: cfg.OutDir, Ended: run.Ended}
	epsilonBy := map[uint64]float64{} // largest ε claimed up to each round
	for _, h := range run.Hospitals {
		for _, s := range h.Spends {
			epsilonBy[s.Round] = max(epsilonBy[s.Round], s.Claimed)
			res.Epsilon = max(res.Epsilon, s.Claimed)
			if s.Release == "" {
				res.NoiseMultiplier = max(res.NoiseMultiplier, s.NoiseMultiplier)
			}
		}
	}
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
		rep := sim.RoundReport{Round: r.Round, Attempt: r.Attempt, Completed: r.Completed, Reason: r.Reason,
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
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, sim.FileResult), append(b, '\n'), 0o644); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// simWorkspace returns the run's directory: outDir (which must be empty or
// absent), or a temporary one removed by cleanup.
func simWorkspace(outDir string) (dir string, cleanup func(), err error) {
	if outDir == "" {
		dir, err := os.MkdirTemp("", "fedcrypt-simgrpc-")
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

// party is one process of a gRPC simulation.
type party struct {
	name  string
	cmd   *exec.Cmd
	lines chan string // stderr lines, until the process exits
	last  string      // the last stderr line read
	done  chan struct{}
	err   error
}

func startParty(ctx context.Context, exe, name string, args []string, verbose bool, log io.Writer) (*party, error) {
	if verbose {
		args = append(args, "--verbose")
	}
	p := &party{name: name, cmd: exec.CommandContext(ctx, exe, args...), lines: make(chan string, 256), done: make(chan struct{})}
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

var listenLine = regexp.MustCompile(`listening on (\S+)$`)

// address waits for the aggregator to say where it listens.
func (p *party) address(timeout time.Duration) (string, error) {
	deadline := time.After(timeout)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				<-p.done
				return "", fmt.Errorf("aggregator exited before listening: %v: %s", p.err, p.last)
			}
			if m := listenLine.FindStringSubmatch(line); m != nil {
				go func() {
					for range p.lines {
					}
				}()
				return m[1], nil
			}
		case <-deadline:
			return "", fmt.Errorf("aggregator not listening after %v", timeout)
		}
	}
}

func (p *party) wait() error {
	go func() {
		for range p.lines {
		}
	}()
	<-p.done
	return p.err
}

// waitFor waits up to d for the process, then stops it.
func (p *party) waitFor(d time.Duration) error {
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
func (p *party) stop() {
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

func (p *party) lastLine() string { return p.last }
