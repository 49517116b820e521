package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/fedcrypt/fedcrypt/client"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/internal/provision"
	"github.com/fedcrypt/fedcrypt/sim"
	"github.com/fedcrypt/fedcrypt/transport"
	"github.com/fedcrypt/fedcrypt/transport/grpcnet"
	"github.com/fedcrypt/fedcrypt/vault"
)

func runJoin(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
	config := fs.String("config", "", "the federation config `file` (federation.json)")
	member := fs.String("member", "", "this hospital's member `id`")
	var keys keyFlags
	keys.register(fs)
	var tf tlsFlags
	tf.register(fs)
	var dataPath rowsFile
	dataPath.register(fs, "this hospital's training data", true)
	ledger := fs.String("ledger", "", "`directory` of the sealed privacy ledger, key-holder state and audit witness (kept across runs)")
	addr := fs.String("aggregator", "", "the aggregator's `address` (host:port)")
	serverName := fs.String("server-name", "", "`name` the aggregator's certificate must be valid for (default: the address's host)")
	retryFor := fs.Duration("retry-for", 10*time.Minute, "how long to keep trying to reach the aggregator")
	connectTimeout := fs.Duration("connect-timeout", 10*time.Second, "bound on one attempt to reach the aggregator: connection, TLS handshake and its first answer")
	seed := fs.String("seed", "", "refused: a hospital draws its keys and noise from the operating system")
	dropout := fs.Float64("sim-dropout", 0, "simulation only: drop the connection with this `probability` per round, at a random stage")
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
		return usagef("client join: unexpected argument %q", pos[0])
	case !(*dropout >= 0 && *dropout < 1):
		return usagef("--sim-dropout %v: must be in [0, 1)", *dropout)
	case *seed != "":
		return usagef("--seed: client join never runs seeded (keys and DP noise must come from the operating system)")
	case *config == "", *member == "", keys.identity == "", string(dataPath) == "", *ledger == "", *addr == "":
		return usagef("client join: --config, --member, --identity, --data, --ledger and --aggregator are required")
	case *retryFor < 0:
		return usagef("--retry-for %v: must not be negative", *retryFor)
	case *connectTimeout <= 0:
		return usagef("--connect-timeout %v: must be positive", *connectTimeout)
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
	if _, ok := fed.Member(*member); !ok {
		return usagef("--member %q: not a member of federation %q", *member, fed.Name)
	}
	if err := checkAccepted(*ledger, fed, *config, *member); err != nil {
		return fmt.Errorf("client join: %w", err)
	}
	id, err := keys.load(e)
	if err != nil {
		return err
	}
	creds, err := provision.LoadCredentials(tf.ca, tf.cert, tf.key, id)
	if err != nil {
		return err
	}
	defer clear(creds.Key)
	if sealed, err := vault.IsEncrypted(string(dataPath)); err != nil {
		return fmt.Errorf("--data: %w", err)
	} else if !sealed {
		m, _ := fed.Member(*member)
		return usagef("--data %s: not age-encrypted; a hospital's data stays encrypted at rest: fedcrypt data encrypt -r %s -o %[1]s.age %[1]s", string(dataPath), m.Recipient)
	}
	ds, err := loadMemberData(string(dataPath), id, fed.Data.Options)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*ledger, 0o700); err != nil {
		return fmt.Errorf("--ledger: %w", err)
	}
	c, err := client.New(client.Config{Federation: fed, Member: *member, Identity: id, Data: ds, StateDir: *ledger, Logger: log})
	if err != nil {
		return err
	}
	var dial client.Dialer = grpcnet.Dialer(grpcnet.DialConfig{Addr: *addr, Member: *member, Credentials: creds, ServerName: *serverName,
		RetryFor: *retryFor, ConnectTimeout: *connectTimeout, Logger: log})
	if *dropout > 0 {
		// A simulation's faults, injected into the connection as a crash
		// shows them, as the in-memory runner injects them; their
		// randomness need not be secret.
		dial = sim.NewFaults(sim.Dropouts(*dropout, rand.Reader)).Dialer(dial)
	}
	fmt.Fprintf(e.stderr, "fedcrypt client: %s joining federation %q at %s\n", *member, fed.Name, *addr)
	if err := runMember(ctx, c, dial, log); err != nil {
		return fmt.Errorf("client join: %w", err)
	}
	res := map[string]any{"member": *member, "epsilon": c.Epsilon(), "steps": c.Steps(),
		"noise_multiplier": c.NoiseMultiplier(), "delta": fed.DP.Delta, "config_hash": fed.Hash().String()}
	ev := c.Evaluation()
	if ev != nil {
		res["evaluation"] = ev
	}
	if jsonOut {
		return writeJSON(e.stdout, res)
	}
	fmt.Fprintf(e.stdout, "%s: run complete; ε spent %.4g (δ = %g) over %d DP-SGD steps; ledger in %s\n",
		*member, c.Epsilon(), fed.DP.Delta, c.Steps(), *ledger)
	if ev != nil {
		fmt.Fprintf(e.stdout, "%s: its evaluation release (noisy counts on ≈%.0f held-out rows, as the auditors read them): accuracy %.4f   AUC %.4f\n",
			*member, ev.Rows, ev.Accuracy, ev.AUC)
	}
	if s := spareNote(c.Epsilon(), fed.DP.Epsilon, fed.Training.SpareRounds); fed.DP.Enabled && s != "" {
		fmt.Fprintf(e.stdout, "%s.\n", s)
	}
	return nil
}

// runMember runs c until the aggregator ends the run, reconnecting after a
// lost connection. The dialer retries an unreachable aggregator with
// backoff and gives up after its retry period; sessions that keep ending at
// once are spaced out with backoff here. A simulated fault is a crash and
// restart: the member is back at once, as in an in-memory simulation.
func runMember(ctx context.Context, c *client.Client, dial client.Dialer, log *slog.Logger) error {
	backoff := 100 * time.Millisecond
	for {
		start := time.Now()
		err := c.Run(ctx, dial)
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return fmt.Errorf("interrupted: %w", ctx.Err())
		case errors.Is(err, sim.ErrFault):
			continue
		case !errors.Is(err, transport.ErrClosed):
			return err
		}
		if time.Since(start) > time.Minute {
			backoff = 100 * time.Millisecond
		}
		log.Info("connection to the aggregator lost; reconnecting", "wait", backoff, "err", err)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return fmt.Errorf("interrupted: %w", ctx.Err())
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}
