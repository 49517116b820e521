package client

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"path/filepath"

	"github.com/fedcrypt/fedcrypt/audit"
	"github.com/fedcrypt/fedcrypt/compress"
	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/dp"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/he"
	"github.com/fedcrypt/fedcrypt/protocol"
	"github.com/fedcrypt/fedcrypt/stats"
	"github.com/fedcrypt/fedcrypt/transport"
	"github.com/fedcrypt/fedcrypt/vault"
)

// Config sets up a client.
type Config struct {
	Federation *federation.Config
	Member     string          // this hospital's member id
	Identity   *vault.Identity // its age identity and signing key
	// Data holds the hospital's training rows, read with the federation's
	// data options; it must match the federation's schema.
	Data *data.Dataset
	// StateDir is where the ledger and key-holder state are sealed to the
	// hospital's own identity. Empty keeps them in memory only (simulations
	// without an output directory).
	StateDir string
	// Rand is the source of key material and encryption randomness;
	// TrainRand that of the validation hold-out, Poisson sampling and DP
	// noise (DP-SGD's with the fast sampler, the statistics release's and the
	// evaluation release's). nil means crypto/rand, and Google's sampler for
	// the evaluation release; anything else is for reproducible simulations
	// only. Two sources keep a seeded run's DP noise the same with and
	// without encryption.
	Rand      io.Reader
	TrainRand io.Reader
	Logger    *slog.Logger
}

// Client is one hospital's node. Create it with [New]; [Client.Run] takes
// part in a run until the aggregator ends it.
type Client struct {
	cfg       Config
	fed       *federation.Config
	hash      federation.Hash
	me        federation.Member
	index     int
	log       *slog.Logger
	rand      io.Reader
	trainRand io.Reader
	rows      *data.Dataset // training rows, as read
	val       *data.Dataset // validation rows held out for private evaluation
	// learner is the model bound to the training rows through the
	// federation's transforms, and xval the validation rows through them;
	// both nil until the statistics phase gave the transforms.
	learner dp.Learner
	xval    dp.Input
	// evaluation is the hospital's own evaluation release, read as scores.
	evaluation *stats.ScoreMetrics
	units      []int
	params     *he.Params // nil without encryption

	// the statistics phase: the vector's layout, the release's noise (with
	// DP), the noisy vector once released, and the federation's transform
	// once received
	layout *stats.Layout
	// feedback is the error-feedback residual of compressed uploads, when
	// the federation's compression keeps one: post-processing of this
	// hospital's DP outputs, kept in memory.
	feedback  *compress.Feedback
	release   stats.Release
	statsSent []float64
	inputs    *federation.Transforms

	// setup
	holder  *he.KeyHolder
	pk      *he.PublicKey
	pkShare []byte
	// commits are the key holders' commitments to their public-key shares,
	// commitList the digest of their list; acked is set once every key
	// holder acknowledged that same list.
	commits    map[string][32]byte
	commitList [32]byte
	acked      bool
	dealt      bool
	shamir     map[string][]byte // received Shamir shares by sender
	ready      bool

	// epoch is the collective key's epoch, budget its decryption budget L
	// (ciphertext decryptions), and sums what this key holder endorsed and
	// decrypted under it (sealed with the key-holder state).
	epoch  uint64
	budget uint64
	sums   sumRecord

	// rounds
	round   uint64
	nonce   []byte
	global  []float64
	nparams int // the federation model's parameters
	ledger  *ledger
	dataset [32]byte // keyed commitment to the data set, carried by every claim
	// upload is the payload this contributor sent in the current round, and
	// uploadDigest the digest of its signed header, until the next round.
	upload       []byte
	uploadDigest [32]byte

	// witnesses are the aggregator's signed heads of its audit log, oldest
	// first, kept sealed beside the ledger.
	witnesses []audit.Witness
	// took is the last round this hospital took part in (an upload, a
	// decryption share, an evaluation release), 0 before any; after a
	// restart, the last round its ledger charged.
	took uint64
	// answers holds, by request kind, what this member sent in answer to
	// the latest request of that kind (answerAgain).
	answers map[string]answer
}

// New validates the configuration, checks the data against the federation's
// schema and prepares the rows.
func New(cfg Config) (*Client, error) {
	fed := cfg.Federation
	if fed == nil || cfg.Identity == nil || cfg.Data == nil {
		return nil, errors.New("client: federation, identity and data are required")
	}
	me, ok := fed.Member(cfg.Member)
	if !ok {
		return nil, fmt.Errorf("client: %q is not a member of federation %q", cfg.Member, fed.Name)
	}
	pub, err := me.PublicKey()
	if err != nil {
		return nil, err
	}
	if !pub.Equal(cfg.Identity.SigningPublicKey()) {
		return nil, fmt.Errorf("client %q: the identity's signing key is not the one the federation config lists", cfg.Member)
	}
	c := &Client{cfg: cfg, fed: fed, hash: fed.Hash(), me: me, index: fed.Index(cfg.Member),
		log: cfg.Logger, rand: cfg.Rand, trainRand: cfg.TrainRand, shamir: map[string][]byte{}}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.log = c.log.With("hospital", cfg.Member)
	if c.rand == nil {
		c.rand = rand.Reader
	}
	if c.trainRand == nil {
		c.trainRand = rand.Reader
	}
	if c.nparams, err = fed.NumParams(); err != nil {
		return nil, err
	}
	if fed.HE.Enabled {
		if c.params, err = fed.CKKS(); err != nil {
			return nil, fmt.Errorf("client %q: %w", cfg.Member, err)
		}
		c.budget = fed.DecryptionBudget()
	}
	if c.layout, err = fed.StatsLayout(); err != nil {
		return nil, fmt.Errorf("client %q: statistics layout: %w", cfg.Member, err)
	}
	if me.Contributor {
		if err := c.prepareData(); err != nil {
			return nil, fmt.Errorf("client %q: %w", cfg.Member, err)
		}
	}
	if me.Contributor {
		if c.dataset, err = datasetCommitment(c); err != nil {
			return nil, fmt.Errorf("client %q: %w", cfg.Member, err)
		}
	}
	c.ledger, err = openLedger(c)
	if err != nil {
		return nil, fmt.Errorf("client %q: %w", cfg.Member, err)
	}
	c.took = c.ledger.lastRound()
	if _, err := c.restoreState(); err != nil {
		return nil, fmt.Errorf("client %q: %w", cfg.Member, err)
	}
	if err := c.restoreWitness(); err != nil {
		return nil, fmt.Errorf("client %q: %w", cfg.Member, err)
	}
	if err := c.restoreUpload(); err != nil {
		return nil, fmt.Errorf("client %q: %w", cfg.Member, err)
	}
	return c, nil
}

// prepareData checks the schema, holds out validation rows and prepares
// the statistics release. The rows are transformed once the statistics
// phase gives the federation's transform.
func (c *Client) prepareData() error {
	d := c.cfg.Data
	if err := c.fed.Data.Schema.Check(d); err != nil {
		return err
	}
	if d.Rows() == 0 {
		return fmt.Errorf("data set %q has no rows", d.Name)
	}
	train := d
	if e := c.fed.Evaluation; e.Enabled {
		// Validation rows are held out locally, whole patients at a time,
		// and never trained on.
		var seed [8]byte
		if _, err := io.ReadFull(c.trainRand, seed[:]); err != nil {
			return err
		}
		var val *data.Dataset
		var err error
		if train, val, err = data.StratifiedSplit(d, e.Holdout, binary.LittleEndian.Uint64(seed[:])); err != nil {
			return fmt.Errorf("hold out validation rows: %w", err)
		}
		c.val = val
	}
	c.rows = train
	if c.fed.DP.PrivacyUnit != "" {
		c.units = train.Units
	}
	if d := c.fed.DP; d.Enabled {
		var err error
		if c.release, err = c.layout.Calibrate(d.Epsilon, d.Delta); err != nil {
			return err
		}
	}
	return nil
}

// Dialer opens a connection to the aggregator.
type Dialer func(ctx context.Context) (transport.Conn, error)

// Run takes part in the federation over one connection, until the
// aggregator announces the end of the run (nil), ctx ends, the connection
// closes or an unrecoverable error occurs. After a closed connection (an
// error wrapping [transport.ErrClosed]) the caller may Run again: the
// member keeps its state and takes up the round under way.
func (c *Client) Run(ctx context.Context, dial Dialer) error {
	conn, err := dial(ctx)
	if err != nil {
		return fmt.Errorf("client %q: connect: %w", c.me.ID, err)
	}
	done, err := c.session(ctx, conn)
	conn.Close()
	if done {
		return nil
	}
	if errors.Is(err, transport.ErrClosed) {
		c.log.Info("connection closed", "round", c.round, "err", err)
	} else {
		c.log.Error("leaving the federation", "round", c.round, "err", err)
	}
	if n := len(c.witnesses); c.took != 0 && (n == 0 || c.witnesses[n-1].Head.Round < c.took) {
		var last uint64
		if n > 0 {
			last = c.witnesses[n-1].Head.Entries
		}
		c.log.Warn("no signed audit-log head for the last round this hospital took part in: the log after the head it holds is not witnessed",
			"round", c.took, "witnessed_entries", last)
	}
	return fmt.Errorf("client %q: %w", c.me.ID, err)
}

// session serves one connection. It reports done when the run is over.
func (c *Client) session(ctx context.Context, conn transport.Conn) (done bool, err error) {
	if err := c.send(ctx, conn, protocol.KindHello, protocol.Hello{Epoch: c.epoch}.Marshal()); err != nil {
		return false, err
	}
	for {
		raw, err := conn.Recv(ctx)
		if err != nil {
			return false, err
		}
		env, err := protocol.ParseEnvelope(raw)
		if err != nil {
			c.log.Warn("dropped a malformed message from the aggregator", "err", err)
			continue
		}
		if env.From != c.fed.Aggregator.ID && env.Kind != protocol.KindShamir {
			c.log.Warn("dropped a message not from the aggregator", "kind", env.Kind, "from", env.From)
			continue
		}
		if env.Kind == protocol.KindMismatch && env.From == c.fed.Aggregator.ID && env.Config != c.hash {
			// Signed by the aggregator this config names, under its own
			// config: the two federation.json files differ.
			if env.Verify(c.fed, env.Config) == nil {
				return false, fmt.Errorf("the aggregator runs federation config %s, this member has %s: both must use the same federation.json",
					env.Config.String()[:16], c.hash.String()[:16])
			}
		}
		if err := env.Verify(c.fed, c.hash); err != nil {
			c.log.Warn("dropped a message that does not verify", "err", err)
			continue
		}
		if again, err := c.answerAgain(ctx, conn, env); again || err != nil {
			if err != nil {
				return false, err
			}
			continue
		}
		var rec *recorder
		to := conn
		if answerable[env.Kind] {
			rec = &recorder{Conn: conn}
			to = rec
		}
		done, err := c.handle(ctx, to, env)
		if rec != nil {
			c.keepAnswer(env, rec.sent)
		}
		if err != nil || done {
			return done, err
		}
	}
}

// handle acts on one verified message from the aggregator. It reports done
// when the run is over.
func (c *Client) handle(ctx context.Context, conn transport.Conn, env *protocol.Envelope) (done bool, err error) {
	switch env.Kind {
	case protocol.KindDone:
		if err := c.onDone(env); err != nil {
			return false, err
		}
		return true, nil
	case protocol.KindWelcome:
		err = c.onWelcome(env)
	case protocol.KindSetup:
		err = c.onSetup(ctx, conn, env)
	case protocol.KindPKCommits:
		err = c.onPKCommits(ctx, conn, env)
	case protocol.KindPKAcks:
		err = c.onPKAcks(ctx, conn, env)
	case protocol.KindPKShares:
		err = c.onPKShares(ctx, conn, env)
	case protocol.KindShamir:
		err = c.onShamir(ctx, conn, env)
	case protocol.KindStats:
		err = c.onStats(ctx, conn, env)
	case protocol.KindStatsResult:
		err = c.onStatsResult(env)
	case protocol.KindRound:
		err = c.onRound(ctx, conn, env)
	case protocol.KindCommit:
		err = c.onCommit(ctx, conn, env)
	case protocol.KindDecrypt:
		err = c.onDecrypt(ctx, conn, env)
	case protocol.KindEval:
		err = c.onEval(ctx, conn, env)
	case protocol.KindResult:
		err = c.onResult(env)
	default:
		c.log.Warn("dropped a message of unknown kind", "kind", env.Kind)
	}
	return false, err
}

// send signs and sends a message bound to the current round and nonce.
func (c *Client) send(ctx context.Context, conn transport.Conn, kind string, body []byte) error {
	env := c.envelope(kind, body)
	raw, err := env.MarshalBinary()
	if err != nil {
		return err
	}
	return conn.Send(ctx, raw)
}

func (c *Client) envelope(kind string, body []byte) *protocol.Envelope {
	env := &protocol.Envelope{Kind: kind, From: c.me.ID, Config: c.hash, Round: c.round, Nonce: c.nonce, Body: body}
	env.Sign(c.cfg.Identity.SigningKey())
	return env
}

// statePath names a sealed state file in the state directory.
func (c *Client) statePath(name string) string {
	if c.cfg.StateDir == "" {
		return ""
	}
	return filepath.Join(c.cfg.StateDir, c.me.ID+"."+name+".age")
}

// seal writes a sealed state file for the hospital itself; without a state
// directory it does nothing.
func (c *Client) seal(name, kind string, payload []byte) error {
	path := c.statePath(name)
	if path == "" {
		return nil
	}
	return vault.Seal(path, kind, payload, c.cfg.Identity.SigningKey(), c.cfg.Identity.Recipients()...)
}

func digest(b []byte) []byte { s := sha256.Sum256(b); return s[:] }

func finite(v []float64) bool {
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}

// Epsilon returns the ε the hospital has spent so far.
func (c *Client) Epsilon() float64 { return c.ledger.epsilon }

// Evaluation returns the scores of the hospital's own evaluation release,
// read from its noisy counts as the auditors read them; nil before it
// released one.
func (c *Client) Evaluation() *stats.ScoreMetrics { return c.evaluation }

// Steps returns the DP-SGD steps the hospital has taken so far.
func (c *Client) Steps() int { return c.ledger.steps() }

// NoiseMultiplier returns the σ the hospital trains with (0 without DP).
func (c *Client) NoiseMultiplier() float64 { return c.ledger.sigma }
