package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/fedcrypt/fedcrypt/aggregator"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/internal/provision"
	"github.com/fedcrypt/fedcrypt/transport/grpcnet"
	"github.com/fedcrypt/fedcrypt/vault"
	"github.com/fedcrypt/fedcrypt/version"
)

// tlsFlags name a party's TLS files; empty ones default to the federation
// directory's layout (written by init).
type tlsFlags struct{ ca, cert, key string }

func (t *tlsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&t.ca, "ca", "", "federation CA certificate `file` (default: ca.crt beside --config)")
	fs.StringVar(&t.cert, "cert", "", "this party's TLS certificate `file` (default: tls.crt beside --identity)")
	fs.StringVar(&t.key, "tls-key", "", "this party's TLS key `file`, age-encrypted to --identity (default: tls.key.age beside --identity)")
}

func (t *tlsFlags) defaults(config, identity string) {
	if t.ca == "" {
		t.ca = filepath.Join(filepath.Dir(config), provision.FileCACert)
	}
	if t.cert == "" {
		t.cert = filepath.Join(filepath.Dir(identity), provision.FileTLSCert)
	}
	if t.key == "" {
		t.key = filepath.Join(filepath.Dir(identity), provision.FileTLSKey)
	}
}

func runServe(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
	config := fs.String("config", "", "the federation config `file` (federation.json)")
	var keys keyFlags
	keys.register(fs)
	var tf tlsFlags
	tf.register(fs)
	listen := fs.String("listen", "localhost:7443", "`address` to accept members on")
	addressFile := fs.String("address-file", "", "once listening, write the address to this `file` (for scripts and supervisors, e.g. with --listen host:0)")
	metricsAddr := fs.String("metrics", "", "serve Prometheus metrics on this `address`")
	linger := fs.Duration("linger", 0, "keep serving --metrics this `long` after the run ends (or until SIGTERM), for a last scrape")
	timeout := fs.Duration("timeout", 2*time.Minute, "how long each phase waits for members")
	maxMsg := fs.Int("max-message", grpcnet.DefaultMaxMessageBytes, "largest message in `bytes`")
	resume := fs.Bool("resume", false, "continue the killed run whose audit log and sealed checkpoint are in --out")
	var out string
	(*outFlag)(&out).register(fs, "`directory` for the audit log and sealed checkpoints")
	var lf logFlags
	lf.register(fs)
	var jsonOut bool
	(*jsonFlag)(&jsonOut).register(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return usagef("aggregator serve: unexpected argument %q", pos[0])
	case *config == "":
		return usagef("aggregator serve: --config is required")
	case keys.identity == "":
		return usagef("aggregator serve: --identity is required")
	case out == "":
		return usagef("aggregator serve: -o DIR is required")
	case *timeout <= 0:
		return usagef("--timeout %v: must be positive", *timeout)
	case *linger < 0 || (*linger > 0 && *metricsAddr == ""):
		return usagef("--linger %v: must not be negative, and needs --metrics", *linger)
	case *maxMsg < 1<<20:
		return usagef("--max-message %d: must be at least 1 MiB", *maxMsg)
	}
	log, err := lf.logger(e.stderr)
	if err != nil {
		return err
	}
	tf.defaults(*config, keys.identity)
	fed, err := federation.Load(*config)
	if err != nil {
		return err
	}
	id, err := keys.load(e)
	if err != nil {
		return err
	}
	if pub, err := fed.Aggregator.PublicKey(); err != nil || !pub.Equal(id.SigningPublicKey()) {
		return fmt.Errorf("--identity %s: not the aggregator %q of federation %q", keys.identity, fed.Aggregator.ID, fed.Name)
	}
	var from *aggregator.Checkpoint
	if *resume {
		if from, err = resumePoint(out, fed, id); err != nil {
			return err
		}
		if from.Round >= uint64(fed.Training.Rounds) {
			return fmt.Errorf("--resume: the run in %s already completed all %d rounds; there is nothing to resume", out, fed.Training.Rounds)
		}
		fmt.Fprintf(e.stderr, "fedcrypt aggregator: resuming after round %d\n", from.Round)
	} else if _, err := os.Stat(filepath.Join(out, "audit.jsonl")); err == nil {
		return fmt.Errorf("-o %s: holds another run's audit log; --resume continues that run, or choose another directory", out)
	}
	creds, err := provision.LoadCredentials(tf.ca, tf.cert, tf.key, id)
	if err != nil {
		return err
	}
	defer clear(creds.Key)
	metrics := grpcnet.NewMetrics()
	metrics.SetBuildInfo(version.Software())
	var ids []string
	pins := map[string]string{}
	for _, m := range fed.Members {
		ids = append(ids, m.ID)
		pins[m.ID] = m.TLSKey
	}
	var removed []string
	if fed.Lineage != nil {
		removed = fed.Lineage.Removed
	}
	srv, err := grpcnet.NewServer(grpcnet.ServerConfig{Credentials: creds, Members: ids, Pins: pins, Removed: removed,
		MaxMessageBytes: *maxMsg, Logger: log, Metrics: metrics})
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	var ended atomic.Bool // the run is over: /readyz turns 503
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	fmt.Fprintf(e.stderr, "fedcrypt aggregator: federation %q (%s), listening on %s\n", fed.Name, fed.Hash(), l.Addr())
	if *addressFile != "" {
		// Written whole, then renamed: a reader never sees part of it.
		tmp := *addressFile + ".tmp"
		if err := os.WriteFile(tmp, []byte(l.Addr().String()+"\n"), 0o644); err != nil {
			srv.Shutdown(context.Background())
			return fmt.Errorf("--address-file: %w", err)
		}
		if err := os.Rename(tmp, *addressFile); err != nil {
			srv.Shutdown(context.Background())
			return fmt.Errorf("--address-file: %w", err)
		}
	}
	if *metricsAddr != "" {
		ml, err := net.Listen("tcp", *metricsAddr)
		if err != nil {
			srv.Shutdown(context.Background())
			return fmt.Errorf("--metrics: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", metrics.Handler())
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
		mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
			if ended.Load() {
				http.Error(w, "run ended", http.StatusServiceUnavailable)
				return
			}
			fmt.Fprintln(w, "ok")
		})
		hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go hs.Serve(ml)
		defer hs.Close()
		fmt.Fprintf(e.stderr, "fedcrypt aggregator: metrics on http://%s/metrics\n", ml.Addr())
	}

	sum, runErr := serveRun(ctx, e, fed, id, out, from, *timeout, log, metrics, srv)
	ended.Store(true)
	// Members read "done" before their sessions end: Shutdown drains what
	// is queued for them first.
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	if err := <-served; err != nil && runErr == nil {
		runErr = err
	}
	if runErr != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("aggregator serve: interrupted; the audit log and checkpoint are in %s", out)
		}
		return fmt.Errorf("aggregator serve: %w", runErr)
	}
	res := map[string]any{"rounds": sum.Rounds, "ended": sum.Ended, "audit": filepath.Join(out, "audit.jsonl"),
		"audit_head": fmt.Sprintf("%x", sum.AuditHead), "config_hash": fed.Hash().String(), "max_rss_bytes": maxRSS()}
	ev := sum.Evaluation
	if ev != nil {
		res["private_evaluation"] = ev
	}
	var outErr error
	if jsonOut {
		outErr = writeJSON(e.stdout, res)
	} else {
		fmt.Fprintf(e.stdout, "%d rounds completed (%s)\naudit log %s, head %s\n", sum.Rounds, sum.Ended, res["audit"], res["audit_head"])
		switch {
		case ev != nil && ev.Reason != "":
			fmt.Fprintf(e.stdout, "Private evaluation: not completed (%s)\n", ev.Reason)
		case ev != nil:
			printPrivateEvaluation(e.stdout, privateEvaluation{totals: ev.ScoreMetrics, contributors: len(ev.Contributors),
				epsilon: ev.Epsilon, noise: ev.NoiseStdDev, sealed: len(ev.Sealed)})
		}
	}
	if *linger > 0 {
		fmt.Fprintf(e.stderr, "fedcrypt aggregator: run ended; metrics stay up for %v\n", *linger)
		select {
		case <-time.After(*linger):
		case <-ctx.Done():
		}
	}
	return outErr
}

// resumePoint returns where a killed run in out continues: its sealed
// checkpoint, or round 0 when it was killed before its first one.
func resumePoint(out string, fed *federation.Config, id *vault.Identity) (*aggregator.Checkpoint, error) {
	if _, err := os.Stat(filepath.Join(out, "audit.jsonl")); err != nil {
		return nil, fmt.Errorf("--resume: no run to continue in %s: %w", out, err)
	}
	if _, err := os.Stat(filepath.Join(out, "checkpoint.age")); errors.Is(err, fs.ErrNotExist) {
		return &aggregator.Checkpoint{}, nil
	}
	cp, err := aggregator.LoadCheckpoint(out, fed, id)
	if err != nil {
		return nil, fmt.Errorf("--resume: %w", err)
	}
	return cp, nil
}

// serveRun runs the aggregator over srv, from a fresh initial model or from
// a checkpoint, printing one line per round on stderr and recording it in
// metrics.
func serveRun(ctx context.Context, e *env, fed *federation.Config, id *vault.Identity, out string, from *aggregator.Checkpoint, timeout time.Duration,
	log *slog.Logger, metrics *grpcnet.Metrics, srv *grpcnet.Server) (*aggregator.Summary, error) {
	var seed [32]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return nil, err
	}
	// The federation's own initialiser: a dense model, or a text model's
	// sparse network.
	init, err := fed.NewParams(mrand.New(mrand.NewChaCha8(seed)))
	clear(seed[:])
	if err != nil {
		return nil, err
	}
	onRound := func(r *aggregator.Round) {
		metrics.ObserveRound(r.Completed, len(r.Included), r.BytesUp, r.Duration, len(r.Refused))
		eps := map[string]float64{}
		for id, c := range r.Claims {
			if c.DP.Enabled {
				eps[id] = c.DP.Epsilon
			}
		}
		metrics.ObserveProgress(r.Number, eps)
		outcome := "completed"
		if !r.Completed {
			outcome = "abandoned: " + r.Reason
		}
		fmt.Fprintf(e.stderr, "round %d attempt %d %s: %d contributors, %d dropped, %d refused, %.2fs\n",
			r.Number, r.Attempt, outcome, len(r.Included), len(r.Dropped), len(r.Refused), r.Duration.Seconds())
	}
	return aggregator.Run(ctx, aggregator.Config{Federation: fed, Identity: id, OutDir: out, InitialModel: init,
		Logger: log, Timeout: timeout, OnRound: onRound, Software: version.Software(), Resume: from}, srv)
}
