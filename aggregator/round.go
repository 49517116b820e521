package aggregator

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/fedcrypt/fedcrypt/audit"
	"github.com/fedcrypt/fedcrypt/fedavg"
	"github.com/fedcrypt/fedcrypt/he"
	"github.com/fedcrypt/fedcrypt/protocol"
	"github.com/fedcrypt/fedcrypt/transport"
)

// roundWithRetries runs round r until it completes or its attempts are
// used up. stop is non-empty when the run must end cleanly (no contributor
// can train any more).
func (a *aggregator) roundWithRetries(ctx context.Context, r uint64) (ok bool, stop string, err error) {
	for attempt := 1; attempt <= a.cfg.MaxAttempts; attempt++ {
		rep, err := a.runRound(ctx, r, attempt)
		if err != nil {
			return false, "", err
		}
		if a.cfg.OnRound != nil {
			a.cfg.OnRound(rep)
		}
		if rep.Completed {
			return true, "", nil
		}
		if len(rep.Included)+a.onlineContributorsAbleToTrain(rep) < a.fed.MinContributors && len(rep.Declined) > 0 {
			return false, fmt.Sprintf("round %d: fewer than min-contributors %d hospitals can still train (%s)", r, a.fed.MinContributors, rep.Reason), nil
		}
	}
	return false, "", fmt.Errorf("round %d: %d attempts abandoned: %w", r, a.cfg.MaxAttempts, ErrQuorumLost)
}

// onlineContributorsAbleToTrain counts the contributors that neither
// declined (out of budget) nor uploaded in this attempt: those that dropped
// or did not answer may train in the next one.
func (a *aggregator) onlineContributorsAbleToTrain(rep *Round) int {
	n := 0
	for _, id := range a.fed.Contributors() {
		if _, declined := rep.Declined[id]; !declined && !slices.Contains(rep.Included, id) {
			n++
		}
	}
	return n
}

// accumulator folds uploads into one running sum: a CKKS sum, or plaintext
// in runs without encryption.
type accumulator struct {
	enc    *he.Sum
	plain  []float64
	update []float64 // the plaintext update being read, before it is added
	params *he.Params
}

// add folds one update in; a malformed one is refused and leaves the sum
// unchanged.
func (acc *accumulator) add(payload []byte) error {
	if acc.params != nil {
		return acc.enc.Add(payload)
	}
	if len(acc.update) != len(acc.plain) {
		acc.update = make([]float64, len(acc.plain))
	}
	if err := protocol.DecodePlainUpdate(acc.update, payload); err != nil {
		return err
	}
	for i, v := range acc.update {
		acc.plain[i] += v
	}
	return nil
}

// runRound runs one attempt of round r.
func (a *aggregator) runRound(ctx context.Context, r uint64, attempt int) (*Round, error) {
	start := time.Now()
	rep := &Round{Number: r, Attempt: attempt, Declined: map[string]string{}, Refused: map[string]string{},
		Claims: map[string]protocol.Claim{}, SignedClaims: map[string][]byte{}}
	a.cur = rep
	defer func() { a.cur = nil }()
	plan, err := a.fed.UploadPlan(r)
	if err != nil {
		return nil, err
	}
	size, err := a.fed.UploadSize(len(a.model))
	if err != nil {
		return nil, err
	}
	sum, headers, totalWeight, err := a.gather(ctx, r, protocol.KindRound, protocol.KindUpload, a.model, size, rep)
	if err != nil {
		return nil, err
	}
	if sum == nil {
		return a.abandon(ctx, rep, start), nil
	}
	if plan != nil {
		// The sum of the compressed updates, back in the model's
		// coordinates: Φᵀ of the sum is the sum of the projections.
		full := make([]float64, len(a.model))
		plan.Expand(full, sum)
		sum = full
	}
	mean := make([]float64, len(a.model))
	if err := fedavg.Mean(mean, sum, totalWeight*a.fed.EncodeScale()); err != nil {
		return nil, err
	}
	a.server.Apply(a.model, mean)
	rep.Completed = true
	rep.Model = slices.Clone(a.model)
	rep.Duration = time.Since(start)
	written := a.auditRound(rep, headers)
	a.completed = r
	if err := a.checkpoint(); err != nil {
		return nil, err
	}
	md := modelDigest(a.model)
	a.broadcast(ctx, protocol.KindResult, protocol.Result{Completed: true, Included: rep.Included, ModelDigest: md[:],
		Head: a.signedHead(written, audit.TypeRound, r)}.Marshal())
	a.log.Debug("round complete", "round", r, "contributors", len(rep.Included), "seconds", rep.Duration.Seconds())
	return rep, nil
}

// gather announces round r (a fresh nonce and the model, as a message of
// kind announce), folds the uploads of kind upload (size values each) into
// one running sum as they arrive, and decrypts the sum with a quorum of key
// holders. It returns a nil sum, with rep.Reason set, when the round must
// be abandoned.
func (a *aggregator) gather(ctx context.Context, r uint64, announce, upload string, model []float64, size int, rep *Round) (sum []float64, headers []protocol.Header, totalWeight float64, err error) {
	a.round = r
	a.nonce = make([]byte, 16)
	if _, err := io.ReadFull(a.rand, a.nonce); err != nil {
		return nil, nil, 0, err
	}
	a.announced = a.broadcast(ctx, announce, protocol.RoundStart{Model: model, Prev: a.prev}.Marshal())
	defer func() { a.announced = nil }()
	expected := map[string]bool{}
	for _, id := range a.fed.Contributors() {
		if a.online[id] {
			expected[id] = true
		}
	}
	acc := &accumulator{params: a.params, plain: make([]float64, size)}
	if a.params != nil {
		acc.enc = he.NewSum(a.params)
	}
	waiting := func(id string) bool {
		_, uploaded := rep.Claims[id]
		_, declined := rep.Declined[id]
		return !uploaded && !declined
	}
	answered := func() bool {
		for id := range expected {
			if waiting(id) {
				return false
			}
		}
		// Short of min-contributors, the round would be abandoned and
		// retried, a new release for every hospital: a contributor that
		// went away may still come back before the deadline.
		return len(rep.Claims) >= a.fed.MinContributors || !slices.ContainsFunc(rep.Dropped, waiting)
	}
	err = a.wait(ctx, func(in transport.Incoming, env *message) (bool, error) {
		if in.Kind == transport.Left && expected[in.From] {
			delete(expected, in.From)
			if !slices.Contains(rep.Dropped, in.From) {
				rep.Dropped = append(rep.Dropped, in.From)
			}
		}
		if env == nil {
			return answered(), nil
		}
		switch env.Kind {
		case upload:
			claim, u, err := a.checkUpload(env, rep, upload == protocol.KindUpload, size)
			if err == nil {
				err = acc.add(u.Payload)
			}
			if err != nil {
				rep.Refused[env.From] = err.Error()
				a.log.Warn("refused an upload", "hospital", env.From, "round", r, "reason", err)
				return answered(), nil
			}
			rep.Claims[env.From] = claim
			rep.SignedClaims[env.From] = u.Claim
			w := a.anchors[env.From]
			w.Claim = u.Claim
			a.anchors[env.From] = w
			rep.Included = append(rep.Included, env.From)
			rep.BytesUp += int64(len(in.Data))
			headers = append(headers, env.header)
			totalWeight += claim.Weight
		case protocol.KindShare:
			rep.Refused[env.From] = "decryption share outside a decryption request"
			a.log.Warn("refused a decryption share", "hospital", env.From, "round", r, "reason", "no decryption requested")
		case protocol.KindDecline:
			if env.Round == r && bytes.Equal(env.Nonce, a.nonce) {
				d, _ := protocol.ParseDecline(env.Body)
				rep.Declined[env.From] = d.Reason
			}
		case protocol.KindHello:
			// Back on a new connection, the member lost what the old one
			// carried: it gets the announcement again, and a contributor
			// that has not answered it yet is waited for again (it stays
			// among those that went away during the round).
			if waiting(env.From) && a.send(ctx, env.From, a.announced) {
				if m, _ := a.fed.Member(env.From); m.Contributor {
					expected[env.From] = true
				}
			}
		}
		return answered(), nil
	})
	if err != nil && !errors.Is(err, errTimeout) {
		return nil, nil, 0, err
	}
	for id := range expected {
		if _, ok := rep.Claims[id]; !ok {
			if _, ok := rep.Declined[id]; !ok && !slices.Contains(rep.Dropped, id) {
				rep.Dropped = append(rep.Dropped, id) // did not answer in time
			}
		}
	}
	slices.Sort(rep.Included)
	slices.Sort(rep.Dropped)
	a.log.Debug("uploads in", "round", r, "included", rep.Included, "dropped", rep.Dropped)
	if len(rep.Included) < a.fed.MinContributors {
		rep.Reason = fmt.Sprintf("%d uploads, fewer than min-contributors %d", len(rep.Included), a.fed.MinContributors)
		return nil, nil, 0, nil
	}
	if a.params == nil {
		return acc.plain, headers, totalWeight, nil
	}
	sum, err = a.decrypt(ctx, acc.enc, upload, headers, rep)
	if err != nil {
		rep.Reason = err.Error()
		return nil, nil, 0, nil
	}
	return sum, headers, totalWeight, nil
}

func (a *aggregator) abandon(ctx context.Context, rep *Round, start time.Time) *Round {
	rep.Duration = time.Since(start)
	a.log.Warn("round abandoned", "round", rep.Number, "attempt", rep.Attempt, "reason", rep.Reason)
	written := a.appendAudit(audit.RoundAbandonedBody{Round: rep.Number, Attempt: rep.Attempt,
		Reason: rep.Reason, Uploads: rep.Included, Declined: rep.Declined, Dropped: rep.Dropped, Refused: rep.Refused})
	a.broadcast(ctx, protocol.KindResult, protocol.Result{Completed: false, Reason: rep.Reason,
		Head: a.signedHead(written, audit.TypeRoundAbandoned, rep.Number)}.Marshal())
	return rep
}

// checkUpload validates an upload: this round and nonce, from a
// contributor, not a duplicate, with a claim the contributor signed for this
// round that matches the payload and the federation's settings.
// A training upload carries the contributor's declared weight; an
// evaluation upload weighs 1.
func (a *aggregator) checkUpload(env *message, rep *Round, weighted bool, size int) (c protocol.Claim, u protocol.Upload, err error) {
	var zero protocol.Claim
	if env.Round != a.round || !bytes.Equal(env.Nonce, a.nonce) {
		return zero, u, fmt.Errorf("upload for round %d with a stale nonce (current round %d)", env.Round, a.round)
	}
	if m, _ := a.fed.Member(env.From); !m.Contributor {
		return zero, u, errors.New("not a contributor")
	}
	if _, dup := rep.Claims[env.From]; dup {
		return zero, u, errors.New("duplicate upload")
	}
	if env.upload == nil {
		_, err = protocol.ParseUpload(env.Body)
		return zero, u, err
	}
	u = *env.upload
	ce, err := protocol.ParseEnvelope(u.Claim)
	if err != nil {
		return zero, u, fmt.Errorf("claim: %w", err)
	}
	if ce.Kind != protocol.KindClaim || ce.From != env.From || ce.Round != a.round || !bytes.Equal(ce.Nonce, a.nonce) {
		return zero, u, errors.New("claim not bound to this sender, round and nonce")
	}
	if err := ce.Verify(a.fed, a.hash); err != nil {
		return zero, u, fmt.Errorf("claim: %w", err)
	}
	c, err = protocol.ParseClaim(ce.Body)
	if err != nil {
		return zero, u, err
	}
	switch {
	case c.PayloadDigest != env.payloadDigest:
		return zero, u, errors.New("claim does not name this payload")
	case weighted && c.Weight != a.fed.Weight(env.From):
		return zero, u, fmt.Errorf("claimed weight %v, the federation declares %v", c.Weight, a.fed.Weight(env.From))
	case !weighted && c.Weight != 1:
		return zero, u, fmt.Errorf("claimed weight %v, an evaluation or statistics upload weighs 1", c.Weight)
	case c.Encrypted != a.fed.HE.Enabled:
		return zero, u, fmt.Errorf("encrypted %v, the federation requires %v", c.Encrypted, a.fed.HE.Enabled)
	case c.DP.Enabled != a.fed.DP.Enabled:
		return zero, u, fmt.Errorf("DP %v, the federation requires %v", c.DP.Enabled, a.fed.DP.Enabled)
	case c.DP.Enabled && c.DP.Epsilon > a.fed.DP.Epsilon*(1+1e-9):
		return zero, u, fmt.Errorf("claimed ε %.4g exceeds the cap %g", c.DP.Epsilon, a.fed.DP.Epsilon)
	}
	if a.params != nil {
		n, addends, err := a.params.UpdateLen(u.Payload)
		switch {
		case err != nil:
			return zero, u, err
		case n != size:
			return zero, u, fmt.Errorf("encrypted vector of %d values, want %d", n, size)
		case addends != 1:
			// A fresh encryption is one addend; an upload claiming more
			// would fill the sum's room for addends and stall the round.
			return zero, u, fmt.Errorf("encrypted vector of %d addends, an upload is one", addends)
		}
	}
	return c, u, nil
}

func modelDigest(m []float64) [32]byte {
	b := make([]byte, 0, 8*len(m))
	for _, x := range m {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
	}
	return sha256.Sum256(b)
}
