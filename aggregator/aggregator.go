package aggregator

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/fedcrypt/fedcrypt/audit"
	"github.com/fedcrypt/fedcrypt/fedavg"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/he"
	"github.com/fedcrypt/fedcrypt/protocol"
	"github.com/fedcrypt/fedcrypt/transport"
	"github.com/fedcrypt/fedcrypt/vault"
)

// EndedStatisticsOnly is how a run with Config.StatisticsOnly ends.
const EndedStatisticsOnly = "statistics only"

// Config sets up a run of the aggregator.
type Config struct {
	Federation *federation.Config
	Identity   *vault.Identity // the aggregator's signing key and age identity
	// OutDir receives the audit log (audit.jsonl), the sealed checkpoint
	// (checkpoint.age) and, after the last round, the sealed model
	// (model.age, FileModel). Required.
	OutDir string
	// InitialModel is the global model of the first round, of the
	// federation model's parameters (federation.Config.NumParams); nil
	// draws it with federation.Config.NewParams from a seed read from
	// Rand.
	InitialModel []float64
	// Rand draws round nonces and the choice of decryption sets. nil means
	// crypto/rand.
	Rand   io.Reader
	Logger *slog.Logger
	// Timeout bounds each wait: for members at setup, for uploads, for
	// decryption shares. Zero means two minutes.
	Timeout time.Duration
	// MaxAttempts is how often an abandoned round is retried before the run
	// ends with ErrQuorumLost. Zero means 3.
	MaxAttempts int
	// OnRound, if set, is called after every round, completed or abandoned.
	OnRound func(*Round)
	// OnStatistics, if set, is called once the statistics phase succeeded,
	// or, for a resumed run, with the checkpoint's.
	OnStatistics func(*Statistics)
	// StatisticsOnly ends the run after the statistics phase: a
	// consortium harmonizing its features and checking its data before it
	// trains. Each hospital is charged only the release.
	StatisticsOnly bool
	// Software is recorded in the audit log.
	Software string
	// Resume, if set, continues a run from its checkpoint (see
	// [LoadCheckpoint]): the global model, the server optimizer's state,
	// the rounds done, and the audit log appended to after checking it
	// still holds the checkpoint's anchored head.
	Resume *Checkpoint
}

// Round reports one round (or one abandoned attempt of it).
type Round struct {
	Number    uint64
	Attempt   int
	Completed bool
	Reason    string            // why it was abandoned
	Included  []string          // contributors whose uploads were summed
	Declined  map[string]string // contributor → reason
	// Dropped are the contributors that went away during the round (some
	// came back and uploaded) or did not answer in time.
	Dropped []string
	Refused map[string]string // rejected messages: sender → reason
	Set     []string          // the decryption set that succeeded
	// Epoch is the key epoch the round's sum was decrypted under, and
	// [First, First+Count) the range of its decryption budget taken.
	Epoch, First, Count uint64
	// ShareDigests are the SHA-256 of the decryption shares combined, by
	// key holder.
	ShareDigests map[string]string
	Claims       map[string]protocol.Claim
	// SignedClaims are the contributors' signed claim envelopes, verbatim.
	SignedClaims map[string][]byte
	Model        []float64 // the new global model (completed rounds)
	BytesUp      int64     // upload bytes received
	Duration     time.Duration
}

// Summary is the outcome of a run.
type Summary struct {
	Rounds    int       // completed rounds
	Model     []float64 // the final global model
	Ended     string    // why the run ended
	AuditHead [32]byte
	// Evaluation is the private evaluation of the final model, when the
	// federation asks for one.
	Evaluation *Evaluation
	// Statistics is the statistics phase's outcome (nil if it failed): the
	// transform the model's inputs go through.
	Statistics *Statistics
}

var (
	// ErrQuorumLost is returned by Run when a round cannot gather
	// min-contributors uploads or T key holders within its attempts.
	ErrQuorumLost = errors.New("quorum lost")
)

// aggregator is the state of one run.
type aggregator struct {
	cfg     Config
	fed     *federation.Config
	hash    federation.Hash
	hub     transport.Hub
	log     *slog.Logger
	rand    io.Reader
	params  *he.Params
	online  map[string]bool
	server  *fedavg.Server
	model   []float64
	audit   *audit.Log
	pkBytes []byte
	round   uint64
	// prev is the signed head after the last round or round-abandoned
	// entry, which every round announcement repeats.
	prev protocol.PrevHead
	// completed is the last completed round: after a resume, the
	// checkpoint's until a round completes.
	completed uint64
	nonce     []byte
	cur       *Round // the round under way, which collects refusals
	// announced is the signed announcement of the attempt under way, sent
	// again to a member that comes back on a new connection while uploads
	// are open.
	announced []byte
	// epoch is the collective key's epoch, budget its decryption budget L
	// and seq the next unspent index of it: every decryption attempt takes
	// the next range of ciphertext decryptions.
	epoch, budget, seq uint64
	// epochRounds counts the rounds completed under the current key;
	// epochs holds each member's key epoch as its hello said.
	epochRounds int
	epochs      map[string]uint64
	// bundles are the signed messages of the current key's ceremony, in
	// order, for a member that missed it; inCeremony is set during one.
	bundles    [][]byte
	inCeremony bool
	// anchors holds, by member, the latest claim and endorsement it signed
	// that the aggregator accepted, given back to it when it connects.
	anchors map[string]protocol.Welcome
	// inbox holds the hub's events in order, each opened by receive;
	// recvErr is the error that ended the hub's stream.
	inbox   chan chan arrival
	recvErr error
	// stats is the statistics phase's outcome, statsMsg the signed message
	// that gave it to the members, sent again to a member that reconnects.
	stats    *Statistics
	statsMsg []byte
	// toldMismatch holds the members told their config differs.
	toldMismatch map[string]bool
}

// Run coordinates a whole run over hub: setup, then the federation's rounds.
func Run(ctx context.Context, cfg Config, hub transport.Hub) (*Summary, error) {
	a, err := newAggregator(cfg, hub)
	if err != nil {
		return nil, err
	}
	defer a.audit.Close()
	rctx, stop := context.WithCancel(ctx)
	received := make(chan struct{})
	go func() { defer close(received); a.receive(rctx) }()
	defer func() { stop(); <-received }()
	return a.run(ctx)
}

func newAggregator(cfg Config, hub transport.Hub) (*aggregator, error) {
	fed := cfg.Federation
	if fed == nil || cfg.Identity == nil || cfg.OutDir == "" {
		return nil, errors.New("aggregator: federation, identity and output directory are required")
	}
	pub, err := fed.Aggregator.PublicKey()
	if err != nil || !pub.Equal(cfg.Identity.SigningPublicKey()) {
		return nil, errors.New("aggregator: the identity's signing key is not the aggregator's in the federation config")
	}
	a := &aggregator{cfg: cfg, fed: fed, hash: fed.Hash(), hub: hub, log: cfg.Logger, rand: cfg.Rand, online: map[string]bool{},
		anchors: map[string]protocol.Welcome{}, epochs: map[string]uint64{}, inbox: make(chan chan arrival, 2*runtime.GOMAXPROCS(0))}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.rand == nil {
		a.rand = rand.Reader
	}
	if a.cfg.Timeout == 0 {
		a.cfg.Timeout = 2 * time.Minute
	}
	if a.cfg.MaxAttempts == 0 {
		a.cfg.MaxAttempts = 3
	}
	if fed.HE.Enabled {
		if a.params, err = fed.CKKS(); err != nil {
			return nil, err
		}
		a.budget = fed.DecryptionBudget()
	}
	a.model = append([]float64(nil), cfg.InitialModel...)
	if cp := cfg.Resume; cp != nil && cp.Model != nil {
		a.model = append([]float64(nil), cp.Model...)
	} else if cfg.InitialModel == nil {
		var seed [32]byte
		if _, err := io.ReadFull(a.rand, seed[:]); err != nil {
			return nil, err
		}
		if a.model, err = fed.NewParams(mrand.New(mrand.NewChaCha8(seed))); err != nil {
			return nil, err
		}
	}
	n, err := fed.NumParams()
	if err != nil {
		return nil, err
	}
	if len(a.model) != n {
		return nil, fmt.Errorf("aggregator: an initial model of %d values, the federation's model has %d", len(a.model), n)
	}
	if a.server, err = fedavg.NewServer(fed.Training.Server, len(a.model)); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.OutDir, 0o700); err != nil {
		return nil, err
	}
	logPath := filepath.Join(cfg.OutDir, "audit.jsonl")
	if cp := cfg.Resume; cp != nil {
		// A run killed before its first checkpoint resumes from round 0
		// with a zero Checkpoint.
		if cp.ConfigHash != "" && cp.ConfigHash != a.hash.String() {
			return nil, fmt.Errorf("resume: the checkpoint belongs to federation %.16s…, not %.16s…", cp.ConfigHash, a.hash.String())
		}
		if cp.ServerState != nil {
			if err := a.server.UnmarshalBinary(cp.ServerState); err != nil {
				return nil, fmt.Errorf("resume: %w", err)
			}
		}
		if len(cp.AuditHead) == 32 {
			var anchor [32]byte
			copy(anchor[:], cp.AuditHead)
			if err := anchoredIn(logPath, a.hash, anchor); err != nil {
				return nil, fmt.Errorf("resume: %w", err)
			}
		}
		if a.audit, err = audit.Resume(logPath, a.hash, [32]byte{}, fed.Aggregator.ID, cfg.Identity.SigningKey()); err != nil {
			return nil, fmt.Errorf("resume: %w", err)
		}
		a.completed, a.epoch = cp.Round, cp.Epoch
		if s := cp.Stats; s != nil {
			if err := a.restoreStats(*s); err != nil {
				return nil, fmt.Errorf("resume: %w", err)
			}
		}
		for id, w := range cp.Anchors {
			a.anchors[id] = protocol.Welcome{Claim: w.Claim, Endorsement: w.Endorsement}
		}
		if h, ok := a.audit.ResumedHead(cp.Round); ok {
			a.prev = protocol.PrevHead{Completed: h.Type == audit.TypeRound, Round: h.Round, Head: a.sign(h)}
		}
		a.appendAudit(audit.ResumeBody{AfterRound: &cp.Round, Software: cfg.Software})
		return a, nil
	}
	if a.audit, err = audit.Create(logPath, a.hash, fed.Aggregator.ID, cfg.Identity.SigningKey()); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *aggregator) run(ctx context.Context) (*Summary, error) {
	if err := a.setup(ctx); err != nil {
		a.end(ctx, fmt.Sprintf("setup failed: %v", err))
		return nil, err
	}
	sum := &Summary{}
	var runErr error
	first := uint64(1)
	if cp := a.cfg.Resume; cp != nil {
		first = cp.Round + 1
		sum.Rounds = int(cp.Round)
	}
	if a.stats == nil {
		if err := a.statistics(ctx); err != nil {
			a.end(ctx, err.Error())
			return nil, err
		}
		if err := a.checkpoint(); err != nil {
			a.log.Error("checkpoint failed", "round", 0, "err", err)
		}
	}
	sum.Statistics = a.stats
	if a.cfg.OnStatistics != nil {
		a.cfg.OnStatistics(a.stats)
	}
	last := uint64(a.fed.Training.Rounds)
	if a.cfg.StatisticsOnly {
		last, sum.Ended = 0, EndedStatisticsOnly
	}
	for r := first; r <= last; r++ {
		if why := a.rekeyDue(); why != "" {
			if err := a.rekey(ctx, why); err != nil {
				runErr = err
				sum.Ended = err.Error()
				break
			}
		}
		ok, stop, err := a.roundWithRetries(ctx, r)
		if err != nil {
			runErr = err
			sum.Ended = err.Error()
			break
		}
		if ok {
			sum.Rounds++
			a.epochRounds++
		}
		if stop != "" {
			sum.Ended = stop
			break
		}
	}
	if sum.Ended == "" {
		sum.Ended = "all rounds completed"
	}
	if a.fed.Evaluation.Enabled && runErr == nil && sum.Rounds > 0 {
		sum.Evaluation = a.evaluate(ctx)
	}
	if sum.Rounds > 0 && a.stats != nil {
		if err := a.writeModel(); err != nil {
			a.log.Error("writing the model failed", "err", err)
			runErr = errors.Join(runErr, err)
		}
	}
	a.end(ctx, sum.Ended)
	sum.Model = a.model
	sum.AuditHead = a.audit.Head()
	return sum, runErr
}

// end closes the audit log's story and tells every member the run is
// over, with the log's signed head after the end entry.
func (a *aggregator) end(ctx context.Context, why string) {
	written := a.appendAudit(audit.EndBody{Reason: why})
	a.broadcast(ctx, protocol.KindDone, protocol.Done{Round: a.completed, Head: a.signedHead(written, audit.TypeEnd, a.completed)}.Marshal())
}

// envelope signs a message from the aggregator bound to the current round.
func (a *aggregator) envelope(kind string, body []byte) []byte {
	e := &protocol.Envelope{Kind: kind, From: a.fed.Aggregator.ID, Config: a.hash, Round: a.round, Nonce: a.nonce, Body: body}
	e.Sign(a.cfg.Identity.SigningKey())
	raw, _ := e.MarshalBinary()
	return raw
}

// send delivers raw to one member; a member that is gone is marked offline.
func (a *aggregator) send(ctx context.Context, to string, raw []byte) bool {
	if err := a.hub.Send(ctx, to, raw); err != nil {
		if errors.Is(err, transport.ErrNotConnected) {
			a.online[to] = false
		}
		a.log.Warn("send failed", "to", to, "err", err)
		return false
	}
	return true
}

// broadcast signs one message and sends it to every online member, and
// returns it.
func (a *aggregator) broadcast(ctx context.Context, kind string, body []byte) []byte {
	raw := a.envelope(kind, body)
	for _, m := range a.fed.Members {
		if a.online[m.ID] {
			a.send(ctx, m.ID, raw)
		}
	}
	return raw
}

// errTimeout ends a wait whose deadline passed.
var errTimeout = errors.New("timed out")

// wait feeds hub events to handle until it reports done, the phase's
// timeout passes (errTimeout) or ctx ends. Hello messages and connection
// events are handled here for every phase.
func (a *aggregator) wait(ctx context.Context, handle func(in transport.Incoming, env *message) (done bool, err error)) error {
	timeout := time.NewTimer(a.cfg.Timeout)
	defer timeout.Stop()
	for {
		var next chan arrival
		select {
		case next = <-a.inbox:
		case <-timeout.C:
			return errTimeout
		case <-ctx.Done():
			return ctx.Err()
		}
		if next == nil {
			return a.recvErr // the hub's stream ended earlier
		}
		var ar arrival
		select {
		case ar = <-next: // being opened: bounded work, no timeout
		case <-ctx.Done():
			return ctx.Err()
		}
		if ar.recvErr != nil {
			a.recvErr = ar.recvErr
			return ar.recvErr
		}
		in, env, err := ar.in, ar.env, ar.err
		switch in.Kind {
		case transport.Joined:
			continue // a member counts as online once its signed hello arrives
		case transport.Left:
			a.online[in.From] = false
			a.log.Info("member left", "hospital", in.From, "round", a.round)
		case transport.Message:
			if err != nil {
				a.tellMismatch(ctx, in)
				a.log.Warn("refused a message", "hospital", in.From, "round", a.round, "reason", err)
				if a.cur != nil {
					a.cur.Refused[in.From] = err.Error()
				}
				continue
			}
			if env.Kind == protocol.KindHello {
				a.online[in.From] = true
				a.log.Info("member online", "hospital", in.From)
				if w, ok := a.anchors[in.From]; ok {
					a.send(ctx, in.From, a.envelope(protocol.KindWelcome, w.Marshal()))
				}
				if a.statsMsg != nil {
					a.send(ctx, in.From, a.statsMsg)
				}
				if h, err := protocol.ParseHello(env.Body); err == nil {
					a.epochs[in.From] = h.Epoch
					if !a.inCeremony && h.Epoch < a.epoch {
						// It missed the current key's ceremony.
						for _, b := range a.bundles {
							a.send(ctx, in.From, b)
						}
					}
				}
			}
			if env.Kind == protocol.KindEndorse {
				a.anchorEndorsement(env, in.Data)
			}
		}
		done, err := handle(in, env)
		if err != nil || done {
			return err
		}
	}
}

// tellMismatch answers a member whose message carries another federation
// config's hash, once per member, so that it stops with both hashes named
// instead of waiting for a setup that never comes.
func (a *aggregator) tellMismatch(ctx context.Context, in transport.Incoming) {
	e, err := protocol.ParseEnvelope(in.Data)
	if err != nil || e.From != in.From || e.Config == a.hash || a.toldMismatch[in.From] {
		return
	}
	if _, ok := a.fed.Member(in.From); !ok {
		return
	}
	if a.toldMismatch == nil {
		a.toldMismatch = map[string]bool{}
	}
	a.toldMismatch[in.From] = true
	a.send(ctx, in.From, a.envelope(protocol.KindMismatch, protocol.Digest32(e.Config).Marshal()))
}

// message is a verified envelope with its header, whose body digest is
// computed once per message (an upload's body is megabytes), and for an
// upload the parsed body and its payload's digest.
type message struct {
	*protocol.Envelope
	header        protocol.Header
	upload        *protocol.Upload
	payloadDigest [32]byte
}

// arrival is one hub event with its message opened, or the error that ended
// the hub's stream.
type arrival struct {
	in      transport.Incoming
	env     *message
	err     error
	recvErr error
}

// receive reads the hub until ctx ends or the hub fails, and queues its
// events on a.inbox in the order they came. Messages are opened (parsed,
// hashed, their signatures checked) as they arrive, on up to GOMAXPROCS
// goroutines: hashing tens of megabytes per upload runs in parallel and
// ahead of the loop that adds uploads one by one, instead of after the
// last upload came in. It closes a.inbox when it returns.
func (a *aggregator) receive(ctx context.Context) {
	defer close(a.inbox)
	var wg sync.WaitGroup
	defer wg.Wait()
	workers := make(chan struct{}, runtime.GOMAXPROCS(0))
	for {
		in, err := a.hub.Recv(ctx)
		next := make(chan arrival, 1)
		select {
		case a.inbox <- next:
		case <-ctx.Done():
			return
		}
		if err != nil {
			next <- arrival{recvErr: err}
			return
		}
		if in.Kind != transport.Message {
			next <- arrival{in: in}
			continue
		}
		select {
		case workers <- struct{}{}:
		case <-ctx.Done():
			next <- arrival{recvErr: ctx.Err()}
			return
		}
		wg.Go(func() {
			defer func() { <-workers }()
			env, err := a.open(in)
			next <- arrival{in: in, env: env, err: err}
		})
	}
}

// open parses and verifies a message: well-formed, signed by a member under
// its registered key, sent over that member's own connection.
func (a *aggregator) open(in transport.Incoming) (*message, error) {
	env, err := protocol.ParseEnvelope(in.Data)
	if err != nil {
		return nil, err
	}
	if env.From != in.From {
		return nil, fmt.Errorf("%s signed as %q arrived on %q's connection", env.Kind, env.From, in.From)
	}
	if _, ok := a.fed.Member(env.From); !ok {
		return nil, fmt.Errorf("%s from %q, not a member", env.Kind, env.From)
	}
	m := &message{Envelope: env, header: env.Header()}
	if err := m.header.Verify(a.fed, a.hash); err != nil {
		return nil, err
	}
	if env.Kind == protocol.KindUpload || env.Kind == protocol.KindEvalUp || env.Kind == protocol.KindStatsUp {
		if u, err := protocol.ParseUpload(env.Body); err == nil {
			m.upload, m.payloadDigest = &u, sha256.Sum256(u.Payload)
		}
	}
	return m, nil
}

// anchorEndorsement keeps a key holder's endorsement if it reaches further
// into the key's budget than the one kept: what the key holder is given
// back when it reconnects, whether or not the endorsement came in time to
// count.
func (a *aggregator) anchorEndorsement(env *message, raw []byte) {
	e, err := protocol.ParseEndorsement(env.Body)
	if err != nil || e.Epoch != a.epoch {
		return
	}
	w := a.anchors[env.From]
	if len(w.Endorsement) > 0 {
		if old, err := protocol.ParseStored(w.Endorsement); err == nil {
			if prev, err := protocol.ParseEndorsement(old.Body); err == nil && prev.First+prev.Count >= e.First+e.Count {
				return
			}
		}
	}
	w.Endorsement = raw
	a.anchors[env.From] = w
}

// rekeyDue says why the next round needs a new key epoch, or "": the
// federation re-keys every KeyEpochRounds rounds, and before a round whose
// decryptions the key's budget might not cover.
func (a *aggregator) rekeyDue() string {
	if a.params == nil {
		return ""
	}
	if n := a.fed.HE.KeyEpochRounds; n > 0 && a.epochRounds >= n {
		return fmt.Sprintf("every %d rounds", n)
	}
	need := uint64(a.params.Ciphertexts(len(a.model))) * uint64(a.fed.MaxDecryptions)
	if a.seq+need > a.budget {
		return fmt.Sprintf("decryption budget: %d of %d used, a round may need %d", a.seq, a.budget, need)
	}
	return ""
}
