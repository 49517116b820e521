package aggregator

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/he"
	"github.com/fedcrypt/fedcrypt/internal/transport"
)

// decrypt obtains the plaintext of the round's sum: it names a decryption
// set of exactly T online key holders, asks each for its share, and, when
// one fails (goes away, refuses, sends a bad share or none in time), names a
// new set without it, up to the federation's cap on decryptions.
func (a *aggregator) decrypt(ctx context.Context, sum *he.Sum, headers []federation.Header, rep *Round) ([]float64, error) {
	sumBytes, err := sum.MarshalBinary()
	if err != nil {
		return nil, err
	}
	failed := map[string]bool{}
	for attempt := 1; attempt <= a.fed.MaxDecryptions; attempt++ {
		set := a.pickSet(failed)
		if set == nil {
			return nil, fmt.Errorf("fewer than T = %d key holders online and willing", a.fed.Threshold)
		}
		req := transport.DecryptRequest{Attempt: uint64(attempt), Set: set, Uploads: headers, Sum: sumBytes}
		raw := a.envelope(transport.KindDecrypt, req.Marshal())
		for _, id := range set {
			if !a.send(ctx, id, raw) {
				failed[id] = true
			}
		}
		shares := map[string][]byte{}
		err := a.wait(ctx, func(in transport.Incoming, env *federation.Envelope) (bool, error) {
			if in.Kind == transport.Left && slices.Contains(set, in.From) {
				failed[in.From] = true
				return true, nil
			}
			if env == nil || !slices.Contains(set, env.From) {
				if env != nil && (env.Kind == transport.KindShare || env.Kind == transport.KindRefuse) {
					rep.Refused[env.From] = "decryption share from a key holder outside the signed set"
					a.log.Warn("refused a decryption share", "hospital", env.From, "round", a.round, "reason", "not in the decryption set")
				}
				return false, nil
			}
			if env.Round != a.round || string(env.Nonce) != string(a.nonce) {
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
				failed[env.From] = true
				return true, nil
			}
			return len(shares) == len(set), nil
		})
		if err != nil && !errors.Is(err, errTimeout) {
			return nil, err
		}
		if len(shares) < len(set) {
			for _, id := range set {
				if _, ok := shares[id]; !ok {
					failed[id] = true
				}
			}
			continue
		}
		ordered := make([][]byte, 0, len(set))
		for _, id := range set {
			ordered = append(ordered, shares[id])
		}
		values, err := sum.Decrypt(ordered)
		if errors.Is(err, he.ErrDecryptionCap) {
			return nil, err
		}
		if err != nil {
			// Which share spoiled the sum cannot be told from the result:
			// the whole set is excluded and a new one named.
			a.log.Warn("decryption shares did not combine", "round", a.round, "err", err)
			for _, id := range set {
				rep.Refused[id] = "decryption share did not combine"
				failed[id] = true
			}
			continue
		}
		rep.Set = set
		return values, nil
	}
	return nil, fmt.Errorf("no decryption set of T = %d answered within %d attempts", a.fed.Threshold, a.fed.MaxDecryptions)
}

// pickSet chooses T online key holders not known to have failed, rotating
// the starting point with the round so the work spreads over key holders.
func (a *aggregator) pickSet(failed map[string]bool) []string {
	var candidates []string
	for _, id := range a.fed.KeyHolders() {
		if a.online[id] && !failed[id] {
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
