package sim

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/fedcrypt/fedcrypt/aggregator"
	"github.com/fedcrypt/fedcrypt/audit"
	"github.com/fedcrypt/fedcrypt/client"
	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/dp"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/model"
	"github.com/fedcrypt/fedcrypt/transport"
	"github.com/fedcrypt/fedcrypt/vault"
	"github.com/fedcrypt/fedcrypt/version"
)

// Software is recorded in audit logs: the build's version.
var Software = version.Software()

// Run simulates a federation on ds and returns its result: cfg.Hospitals
// hospitals share ds's rows as cfg.Partition says, after test rows are
// held out. [RunSites] gives each hospital its own data set instead.
func Run(ctx context.Context, ds *data.Dataset, cfg Config) (*Result, error) {
	cfg.Sites = nil
	return runSites(ctx, []Site{{Data: ds}}, cfg)
}

func runSites(ctx context.Context, sites []Site, cfg Config) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Seed != nil && cfg.DP && cfg.Noise == dp.SamplerGoogle {
		return nil, fmt.Errorf("--seed with --noise %s: Google's sampler draws only from the system's randomness, so the run would not repeat; use --noise %s",
			dp.SamplerGoogle, dp.SamplerFast)
	}
	splitSeed := seedFrom(source(cfg.Seed, "split"))
	train, test, parts, tests, err := splitSites(sites, cfg, splitSeed)
	if err != nil {
		return nil, err
	}
	w, err := newWorkspace(cfg)
	if err != nil {
		return nil, err
	}
	defer w.cleanup()
	fed, parties, aggKey, err := w.federation(cfg, sites[0].Data, parts)
	if err != nil {
		return nil, err
	}
	if err := w.writeRecord(cfg, splitSeed); err != nil {
		return nil, err
	}
	return execute(ctx, cfg, w, fed, parties, aggKey, train, test, tests, nil, nil)
}

// split holds out the test rows and partitions the rest over the hospitals.
func split(ds *data.Dataset, cfg Config, seed uint64) (train, test *data.Dataset, parts []*data.Dataset, err error) {
	if train, test, err = data.StratifiedSplit(ds, cfg.TestFraction, seed); err != nil {
		return nil, nil, nil, err
	}
	if parts, err = data.Partition(train, cfg.Hospitals, cfg.Partition, seed); err != nil {
		return nil, nil, nil, err
	}
	for i, p := range parts {
		if p.Rows() == 0 {
			return nil, nil, nil, fmt.Errorf("hospital h%d would get no rows: fewer hospitals, or another partition", i+1)
		}
	}
	return train, test, parts, nil
}

// execute runs (or, from a checkpoint, continues) the federation. A resumed
// run's result starts from prior, the rounds before the checkpoint.
func execute(ctx context.Context, cfg Config, w *workspace, fed *federation.Config, parties []party, aggKey *vault.Identity,
	train, test *data.Dataset, tests []*data.Dataset, resume *aggregator.Checkpoint, prior *history) (*Result, error) {
	start := time.Now()
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// The held-out rows are scored with the federation's transform, known
	// once the statistics phase is done.
	var res *Result
	var eval *evaluator
	var siteEvals []*evaluator
	var evalErr error
	onStatistics := func(st *aggregator.Statistics) {
		res.Statistics = st
		for _, eps := range st.Spent {
			res.Epsilon = max(res.Epsilon, eps)
		}
		eval, evalErr = newEvaluator(fed, st.Transforms(), train, test)
		siteEvals = nil
		for _, t := range tests {
			e, err := newEvaluator(fed, st.Transforms(), train, t)
			if err != nil {
				evalErr = err
			}
			siteEvals = append(siteEvals, e)
		}
	}
	init, err := fed.NewParams(mrand.New(mrand.NewChaCha8(seed32(source(cfg.Seed, "model-init")))))
	if err != nil {
		return nil, err
	}
	// A resumed run draws fresh randomness: it never replays the streams
	// the killed process used.
	label := ""
	if resume != nil {
		label = fmt.Sprintf("/resume-after-%d", resume.Round)
	}

	res = &Result{Delta: cfg.Delta, Accountant: cfg.Accountant, Hospitals: cfg.Hospitals, Threshold: cfg.Threshold,
		MinContributors: fed.MinContributors, Encrypted: cfg.HE, DP: cfg.DP, PrivacyUnit: cfg.PrivacyUnit,
		Seeded: cfg.Seed != nil, Params: len(init), TestRows: test.Rows(), ConfigHash: fed.Hash().String(), OutDir: cfg.OutDir}
	for _, p := range parties {
		res.TrainRows = append(res.TrainRows, p.data.Rows())
	}
	if prior != nil {
		res.Epsilon, res.NoiseMultiplier = prior.epsilon, prior.noise
		for _, r := range prior.rounds {
			if r.Completed {
				res.ResumedAfter++
			}
			res.History = append(res.History, r)
			if cfg.OnRound != nil {
				cfg.OnRound(r)
			}
		}
	}
	var rounds *roundsFile
	if !w.temporary {
		rounds = createRoundsFile(filepath.Join(w.dir, FileRounds), res.History)
		defer rounds.close()
	}

	net := transport.NewNetwork(4 * (cfg.Hospitals + 4))
	defer net.Close()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	clientErrs := make([]error, len(parties))
	for i, p := range parties {
		c, err := client.New(client.Config{
			Federation: fed, Member: p.id, Identity: p.key, Data: p.data, StateDir: w.stateDir,
			Rand: source(cfg.Seed, "client/"+p.id+label), TrainRand: source(cfg.Seed, "train/"+p.id+label), Logger: log,
		})
		if err != nil {
			return nil, err
		}
		var dial client.Dialer = func(ctx context.Context) (transport.Conn, error) { return net.Dial(ctx, p.id) }
		if faults := dropouts(cfg, p.id+label); faults != nil {
			dial = faults.Dialer(dial)
		}
		// A hospital whose connection a fault dropped comes back, as a
		// restarted process would.
		wg.Go(func() {
			for {
				if clientErrs[i] = c.Run(cctx, dial); !errors.Is(clientErrs[i], ErrFault) {
					return
				}
			}
		})
	}

	onRound := func(r *aggregator.Round) {
		rep := RoundReport{Round: r.Number, Attempt: r.Attempt, Completed: r.Completed, Reason: r.Reason,
			Contributors: r.Included, Dropped: r.Dropped, DecryptSet: r.Set, BytesUp: r.BytesUp, Seconds: r.Duration.Seconds()}
		for id := range r.Declined {
			rep.Declined = append(rep.Declined, id)
		}
		slices.Sort(rep.Declined)
		for _, c := range r.Claims {
			res.Epsilon = max(res.Epsilon, c.DP.Epsilon)
			res.NoiseMultiplier = max(res.NoiseMultiplier, c.DP.NoiseMultiplier)
		}
		rep.Epsilon = res.Epsilon
		if r.Completed && eval != nil {
			rep.Evaluated = true
			rep.SimTrainLoss, rep.Metrics, evalErr = eval.score(r.Model, evalErr)
		}
		res.History = append(res.History, rep)
		if rounds != nil {
			rounds.add(rep)
		}
		if cfg.OnRound != nil {
			cfg.OnRound(rep)
		}
	}
	sum, runErr := aggregator.Run(ctx, aggregator.Config{
		Federation: fed, Identity: aggKey, OutDir: w.dir, InitialModel: init, Rand: source(cfg.Seed, "aggregator"+label),
		Logger: log, Timeout: cfg.Timeout, OnRound: onRound, OnStatistics: onStatistics, Software: Software, Resume: resume,
		StatisticsOnly: cfg.StatisticsOnly,
	}, tap(net.Hub(), cfg.AggregatorView))
	// Clients end on the aggregator's "done"; give them a moment to read it
	// before the network closes under them.
	waitOrCancel(&wg, cancel, 10*time.Second)
	// A hospital that failed is named with the run's own failure.
	errs := []error{runErr}
	for _, err := range clientErrs {
		if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, transport.ErrClosed) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(append(errs, evalErr)...); err != nil {
		return nil, err
	}
	if eval == nil {
		return nil, errors.New("the run ended without the federation's statistics")
	}
	if !cfg.StatisticsOnly {
		if res.Metrics, err = eval.test(sum.Model); err != nil {
			return nil, err
		}
	}
	for i, e := range siteEvals {
		if cfg.StatisticsOnly {
			break
		}
		m, err := e.test(sum.Model)
		if err != nil {
			return nil, err
		}
		res.Sites = append(res.Sites, SiteResult{Name: cfg.Sites[i], Hospital: parties[i].id, TrainRows: parties[i].data.Rows(),
			TestRows: tests[i].Rows(), Metrics: m})
	}
	res.Ended = sum.Ended
	res.PrivateEvaluation = sum.Evaluation
	if ev := sum.Evaluation; ev != nil && w.researcher != nil && len(ev.Sealed) > 0 {
		// The simulation's researcher is the federation's auditor.
		if ev.Sites, ev.SiteMean, err = audit.OpenSites(fed, ev.Sealed, ev.Sigma, w.researcher); err != nil {
			return nil, fmt.Errorf("open the sites' evaluation releases: %w", err)
		}
	}
	if ev := sum.Evaluation; ev != nil {
		// The release is charged to the ledgers after the last round.
		for _, eps := range ev.Spent {
			res.Epsilon = max(res.Epsilon, eps)
		}
	}
	var totalBytes int64
	for _, r := range res.History {
		if r.Completed {
			totalBytes += r.BytesUp
			res.Rounds++
		}
	}
	if res.Rounds > 0 {
		res.BytesUpPerRound = float64(totalBytes) / float64(res.Rounds)
	}
	if rounds != nil {
		if err := rounds.close(); err != nil {
			return nil, fmt.Errorf("%s: %w", FileRounds, err)
		}
	}
	res.Seconds = time.Since(start).Seconds()
	if err := w.writeArtifacts(res); err != nil {
		return nil, err
	}
	return res, nil
}

// waitOrCancel waits for wg, cancelling after d if it has not finished.
func waitOrCancel(wg *sync.WaitGroup, cancel context.CancelFunc, d time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		cancel()
		<-done
	}
}

// dropouts returns the faults of one hospital: in each round it fails
// with probability cfg.Dropout, at a stage drawn uniformly, once; nil
// without dropouts.
func dropouts(cfg Config, id string) *Faults {
	if cfg.Dropout == 0 {
		return nil
	}
	return NewFaults(Dropouts(cfg.Dropout, source(cfg.Seed, "dropout/"+id)))
}

func seedFrom(r io.Reader) uint64 {
	var b [8]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		panic("sim: random source failed: " + err.Error())
	}
	return binary.LittleEndian.Uint64(b[:])
}

func seed32(r io.Reader) [32]byte {
	var b [32]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		panic("sim: random source failed: " + err.Error())
	}
	return b
}

// evaluator scores global models on the held-out test rows, and on every
// hospital's training rows pooled (a figure only a simulation has), both
// through the federation's transforms.
type evaluator struct {
	learner dp.Learner // bound to the pooled training rows
	loss    func() float64
	xtest   dp.Input
	ytest   []float64
}

func newEvaluator(fed *federation.Config, in *federation.Transforms, train, test *data.Dataset) (*evaluator, error) {
	e := &evaluator{ytest: test.Y}
	rng := mrand.New(mrand.NewPCG(0, 0)) // weights overwritten by each model scored
	if fed.SparseModel != nil {
		xtrain, err := in.Sparse(train)
		if err != nil {
			return nil, err
		}
		if e.xtest, err = in.Sparse(test); err != nil {
			return nil, err
		}
		m, err := model.NewSparse(*fed.SparseModel, rng)
		if err != nil {
			return nil, err
		}
		e.learner, e.loss = dp.NewSparse(m, xtrain, train.Y, nil), func() float64 { return m.Loss(xtrain, train.Y) }
		return e, nil
	}
	xtrain, err := in.Dense(train)
	if err != nil {
		return nil, err
	}
	if e.xtest, err = in.Dense(test); err != nil {
		return nil, err
	}
	m, err := model.New(fed.Model, rng)
	if err != nil {
		return nil, err
	}
	e.learner, e.loss = dp.NewDense(m, xtrain, train.Y, nil), func() float64 { return m.Loss(xtrain, train.Y) }
	return e, nil
}

// test scores the model of parameters p on the test rows.
func (e *evaluator) test(p []float64) (model.Metrics, error) {
	if err := e.learner.SetParams(p); err != nil {
		return model.Metrics{}, err
	}
	return e.learner.Evaluate(e.xtest, e.ytest)
}

// score returns the pooled training loss and the test metrics of the
// model of parameters p; a failure joins prior.
func (e *evaluator) score(p []float64, prior error) (float64, model.Metrics, error) {
	m, err := e.test(p)
	if err != nil {
		return 0, m, errors.Join(prior, err)
	}
	return e.loss(), m, prior
}

// tapHub shows every message the aggregator receives to an observer.
type tapHub struct {
	transport.Hub
	view func(from string, msg []byte)
}

func tap(h transport.Hub, view func(string, []byte)) transport.Hub {
	if view == nil {
		return h
	}
	return tapHub{h, view}
}

func (t tapHub) Recv(ctx context.Context) (transport.Incoming, error) {
	in, err := t.Hub.Recv(ctx)
	if err == nil && in.Kind == transport.Message {
		t.view(in.From, slices.Clone(in.Data))
	}
	return in, err
}
