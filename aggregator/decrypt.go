package aggregator

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/he"
	"github.com/fedcrypt/fedcrypt/internal/transport"
)

// decrypt obtains the plaintext of the round's sum: it names a decryption
// set of exactly T online key holders, asks each for its share, and, when
// one fails, names a new set, up to the federation's cap on decryptions.
//
// A key holder that refuses, answers with a share that does not combine, or
// does not answer in time is not asked again this round. One whose
// connection drops (a crashed and restarted process) lost the request, not
// its key: it is asked again once it is back online.
func (a *aggregator) decrypt(ctx context.Context, sum *he.Sum, headers []federation.Header, rep *Round) ([]float64, error) {
	sumBytes, err := sum.MarshalBinary()
	if err != nil {
		return nil, err
	}
	excluded := map[string]bool{}
	asked := map[string]bool{}
	for attempt := 1; attempt <= a.fed.MaxDecryptions; attempt++ {
		set, err := a.awaitSet(ctx, excluded)
		if err != nil {
			return nil, err
		}
		req := transport.DecryptRequest{Attempt: uint64(attempt), Set: set, Uploads: headers, Sum: sumBytes}
		raw := a.envelope(transport.KindDecrypt, req.Marshal())
		delivered := true
		for _, id := range set {
			asked[id] = true
			delivered = a.send(ctx, id, raw) && delivered
		}
		if !delivered {
			continue // a member went away between choosing and sending
		}
		a.log.Info("decryption requested", "round", a.round, "attempt", attempt, "set", set)
		shares := map[string][]byte{}
		err = a.wait(ctx, func(in transport.Incoming, env *message) (bool, error) {
			if env != nil && env.Kind == transport.KindUpload {
				a.refuseLateUpload(env.Envelope, rep)
				return false, nil
			}
			if !slices.Contains(set, in.From) {
				// A late answer to an earlier attempt is expected; a share
				// from a key holder never asked is not.
				if env != nil && (env.Kind == transport.KindShare || env.Kind == transport.KindRefuse) && !asked[env.From] {
					rep.Refused[env.From] = "decryption share from a key holder outside the signed set"
					a.log.Warn("refused a decryption share", "hospital", env.From, "round", a.round, "reason", "not in the decryption set")
				}
				return false, nil
			}
			// A member of the set that left or reconnected lost the request.
			if in.Kind == transport.Left || env != nil && env.Kind == transport.KindHello {
				_, answered := shares[in.From]
				return !answered, nil
			}
			if env == nil || env.Round != a.round || !bytes.Equal(env.Nonce, a.nonce) {
				return false, nil // an answer to an earlier round
			}
			switch env.Kind {
			case transport.KindShare:
				s, err := transport.ParseShare(env.Body)
				if err != nil || s.Attempt != uint64(attempt) {
					return false, nil // malformed, or for an earlier attempt
				}
				shares[env.From] = s.Share
			case transport.KindRefuse:
				d, _ := transport.ParseDecline(env.Body)
				a.log.Warn("key holder refused to decrypt", "hospital", env.From, "round", a.round, "reason", d.Reason)
				rep.Refused[env.From] = "refused to decrypt: " + d.Reason
				excluded[env.From] = true
				return true, nil
			}
			return len(shares) == len(set), nil
		})
		timedOut := errors.Is(err, errTimeout)
		if err != nil && !timedOut {
			return nil, err
		}
		if len(shares) < len(set) {
			if timedOut {
				for _, id := range set {
					if _, ok := shares[id]; !ok {
						excluded[id] = true
					}
				}
			}
			continue
		}
		ordered := make([][]byte, 0, len(set))
		for _, id := range set {
			ordered = append(ordered, shares[id])
		}
		values, err := sum.Decrypt(ordered)
		if errors.Is(err, he.ErrDecryptionBudget) {
			return nil, err
		}
		if err != nil {
			// Which share spoiled the sum cannot be told from the result:
			// the whole set is excluded and a new one named.
			a.log.Warn("decryption shares did not combine", "round", a.round, "err", err)
			for _, id := range set {
				rep.Refused[id] = "decryption share did not combine"
				excluded[id] = true
			}
			continue
		}
		rep.Set = set
		rep.ShareDigests = map[string]string{}
		for _, id := range set {
			d := sha256.Sum256(shares[id])
			rep.ShareDigests[id] = hex.EncodeToString(d[:])
		}
		return values, nil
	}
	return nil, fmt.Errorf("no decryption set of T = %d answered within %d attempts", a.fed.Threshold, a.fed.MaxDecryptions)
}

// awaitSet names the next decryption set, waiting (up to the timeout) for
// key holders to come back online when fewer than T are available.
func (a *aggregator) awaitSet(ctx context.Context, excluded map[string]bool) ([]string, error) {
	if set := a.pickSet(excluded); set != nil {
		return set, nil
	}
	var set []string
	err := a.wait(ctx, func(transport.Incoming, *message) (bool, error) {
		set = a.pickSet(excluded)
		return set != nil, nil
	})
	if errors.Is(err, errTimeout) {
		return nil, fmt.Errorf("fewer than T = %d key holders online and willing", a.fed.Threshold)
	}
	return set, err
}

// pickSet chooses T online key holders not excluded, rotating the starting
// point with the round so the work spreads over key holders; nil if there
// are fewer than T.
func (a *aggregator) pickSet(excluded map[string]bool) []string {
	var candidates []string
	for _, id := range a.fed.KeyHolders() {
		if a.online[id] && !excluded[id] {
			candidates = append(candidates, id)
		}
	}
	t := a.fed.Threshold
	if len(candidates) < t {
		return nil
	}
	start := int(a.round % uint64(len(candidates)))
	set := make([]string, 0, t)
	for i := range t {
		set = append(set, candidates[(start+i)%len(candidates)])
	}
	slices.SortFunc(set, func(x, y string) int { return a.fed.Index(x) - a.fed.Index(y) })
	return set
}

// refuseLateUpload records an upload that arrives once the round's uploads
// are closed: a duplicate of one already summed, or one too late.
func (a *aggregator) refuseLateUpload(env *federation.Envelope, rep *Round) {
	reason := "upload after the round's uploads closed"
	if _, dup := rep.Claims[env.From]; dup {
		reason = "duplicate upload"
	}
	rep.Refused[env.From] = reason
	a.log.Warn("refused an upload", "hospital", env.From, "round", a.round, "reason", reason)
}
