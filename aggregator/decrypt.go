package aggregator

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"github.com/fedcrypt/fedcrypt/he"
	"github.com/fedcrypt/fedcrypt/protocol"
	"github.com/fedcrypt/fedcrypt/transport"
)

// decrypt obtains the plaintext of the round's sum of uploads of the given
// kind. For each decryption attempt it names a decryption set of exactly T
// online key holders and the next range of the key's decryption budget,
// commits to the sum, the uploads in it, the set and the range, and gathers
// the contributors' fingerprints and a quorum of key holders' endorsements
// (see package client); it then asks each member of the set for its share.
// When one fails, it names a new set, up to the federation's cap on
// decryptions.
//
// A key holder that refuses, answers with a share that does not combine, or
// does not answer in time is not asked again this round. One whose
// connection drops (a crashed and restarted process) lost the request, not
// its key: another set is asked at once, and it may be in a later one once
// it is back online. One back on a new connection before its old one was
// seen to end gets the request again.
func (a *aggregator) decrypt(ctx context.Context, sum *he.Sum, kind string, headers []protocol.Header, rep *Round) ([]float64, error) {
	sumBytes, err := sum.MarshalBinary()
	if err != nil {
		return nil, err
	}
	ref := protocol.SumRef{Kind: kind, Length: uint64(sum.Len()), Addends: uint64(sum.Addends()),
		Digest: sha256.Sum256(sumBytes), Uploads: headers}
	id := ref.ID(a.hash, a.round, a.nonce)
	count := uint64(a.params.Ciphertexts(sum.Len()))
	fingerprints := map[string][]byte{}
	excluded := map[string]bool{}
	asked := map[string]bool{}
	for attempt := 1; attempt <= a.fed.MaxDecryptions; attempt++ {
		set, err := a.awaitSet(ctx, excluded)
		if err != nil {
			return nil, err
		}
		if a.seq+count > a.budget {
			return nil, fmt.Errorf("the collective key's decryption budget is spent (%d of %d ciphertext decryptions used, %d needed)", a.seq, a.budget, count)
		}
		cm := protocol.Commit{Epoch: a.epoch, Sum: ref, Set: set, First: a.seq, Count: count}
		// The range is spent once offered: key holders that endorse it
		// never endorse it again, whatever comes of this attempt.
		a.seq += count
		endorsements, stale, err := a.endorse(ctx, &cm, id, fingerprints, rep, excluded)
		if stale {
			continue // offered a range some key holder had endorsed: offer the next
		}
		if err != nil {
			return nil, err
		}
		fps := make([][]byte, len(headers))
		for i, h := range headers {
			fps[i] = fingerprints[h.From]
		}
		req := protocol.DecryptRequest{Attempt: uint64(attempt), Commit: cm, Fingerprints: fps, Endorsements: endorsements, Sum: sumBytes}
		raw := a.envelope(protocol.KindDecrypt, req.Marshal())
		delivered := true
		for _, id := range set {
			asked[id] = true
			delivered = a.send(ctx, id, raw) && delivered
		}
		if !delivered {
			continue // a member went away between choosing and sending
		}
		a.log.Debug("decryption requested", "round", a.round, "attempt", attempt, "set", set)
		shares := map[string][]byte{}
		err = a.wait(ctx, func(in transport.Incoming, env *message) (bool, error) {
			if env != nil && (env.Kind == protocol.KindUpload || env.Kind == protocol.KindEvalUp || env.Kind == protocol.KindStatsUp) {
				a.refuseLateUpload(env.Envelope, rep)
				return false, nil
			}
			if !slices.Contains(set, in.From) {
				// A late answer to an earlier attempt is expected; a share
				// from a key holder never asked is not.
				if env != nil && (env.Kind == protocol.KindShare || env.Kind == protocol.KindRefuse) && !asked[env.From] {
					rep.Refused[env.From] = "decryption share from a key holder outside the signed set"
					a.log.Warn("refused a decryption share", "hospital", env.From, "round", a.round, "reason", "not in the decryption set")
				}
				return false, nil
			}
			_, answered := shares[in.From]
			switch {
			case in.Kind == transport.Left:
				// Gone with the request: another set is asked at once.
				return !answered, nil
			case env != nil && env.Kind == protocol.KindHello:
				// Back on a new connection before its old one was seen to
				// end: the request it lost is sent again.
				if !answered {
					a.send(ctx, in.From, raw)
				}
				return false, nil
			}
			if env == nil || env.Round != a.round || !bytes.Equal(env.Nonce, a.nonce) {
				return false, nil // an answer to an earlier round
			}
			switch env.Kind {
			case protocol.KindShare:
				s, err := protocol.ParseShare(env.Body)
				if err != nil || s.Attempt != uint64(attempt) {
					return false, nil // malformed, or for an earlier attempt
				}
				shares[env.From] = s.Share
			case protocol.KindRefuse:
				d, _ := protocol.ParseDecline(env.Body)
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
		rep.Epoch, rep.First, rep.Count = cm.Epoch, cm.First, cm.Count
		rep.ShareDigests = map[string]string{}
		for _, id := range set {
			d := sha256.Sum256(shares[id])
			rep.ShareDigests[id] = hex.EncodeToString(d[:])
		}
		return values, nil
	}
	return nil, fmt.Errorf("no decryption set of T = %d answered within %d attempts", a.fed.Threshold, a.fed.MaxDecryptions)
}

// endorse sends the commitment to the sum's contributors and to every
// online key holder and waits for a fingerprint from every contributor
// named (kept across attempts: it depends on the sum only) and for a quorum
// of endorsements. It returns the endorsements, or an error saying why the
// sum cannot be decrypted this round.
func (a *aggregator) endorse(ctx context.Context, cm *protocol.Commit, id [32]byte, fingerprints map[string][]byte, rep *Round, excluded map[string]bool) (endorsements [][]byte, stale bool, err error) {
	raw := a.envelope(protocol.KindCommit, cm.Marshal())
	named := map[string]bool{}
	for _, h := range cm.Sum.Uploads {
		named[h.From] = true
	}
	endorsed := map[string][]byte{}
	refused := map[string]bool{}
	holders := a.fed.KeyHolders()
	want := func(id string) bool {
		m, _ := a.fed.Member(id)
		return named[id] && fingerprints[id] == nil || m.KeyHolder && endorsed[id] == nil && !refused[id]
	}
	for _, m := range a.fed.Members {
		if a.online[m.ID] && want(m.ID) {
			a.send(ctx, m.ID, raw)
		}
	}
	q := a.fed.EndorsementQuorum()
	missing := func() []string {
		var ids []string
		for _, h := range cm.Sum.Uploads {
			if fingerprints[h.From] == nil {
				ids = append(ids, h.From)
			}
		}
		return ids
	}
	done := func() bool { return len(missing()) == 0 && len(endorsed) >= q }
	err = a.wait(ctx, func(in transport.Incoming, env *message) (bool, error) {
		if env == nil {
			return done(), nil
		}
		switch {
		case env.Kind == protocol.KindUpload || env.Kind == protocol.KindEvalUp || env.Kind == protocol.KindStatsUp:
			a.refuseLateUpload(env.Envelope, rep)
			return done(), nil
		case env.Kind == protocol.KindHello:
			if want(env.From) { // reconnected: it lost the commitment
				a.send(ctx, env.From, raw)
			}
			return done(), nil
		case env.Round != a.round || !bytes.Equal(env.Nonce, a.nonce):
			return done(), nil
		}
		switch env.Kind {
		case protocol.KindFingerprint:
			f, err := protocol.ParseFingerprint(env.Body)
			if err != nil || f.SumID != id || !named[env.From] {
				rep.Refused[env.From] = "fingerprint not of a contributor to this sum"
				a.log.Warn("refused a fingerprint", "hospital", env.From, "round", a.round)
				return done(), nil
			}
			fingerprints[env.From] = in.Data
		case protocol.KindEndorse:
			e, err := protocol.ParseEndorsement(env.Body)
			if err == nil && e.SumID == id && !e.Equal(protocol.EndorsementOf(cm, id)) {
				return done(), nil // a late answer to an earlier commitment to this sum
			}
			if m, _ := a.fed.Member(env.From); err != nil || !m.KeyHolder || !e.Equal(protocol.EndorsementOf(cm, id)) {
				rep.Refused[env.From] = "endorsement of another sum, set or range"
				a.log.Warn("refused an endorsement", "hospital", env.From, "round", a.round)
				if m, _ := a.fed.Member(env.From); m.KeyHolder {
					refused[env.From] = true
				}
				return len(holders)-len(refused) < q, nil
			}
			endorsed[env.From] = in.Data
		case protocol.KindRefuse:
			d, _ := protocol.ParseDecline(env.Body)
			a.log.Warn("key holder refused to endorse the sum", "hospital", env.From, "round", a.round, "reason", d.Reason)
			rep.Refused[env.From] = "refused to endorse: " + d.Reason
			if m, _ := a.fed.Member(env.From); m.KeyHolder {
				refused[env.From] = true
				if d.Endorsed > cm.First {
					// A key holder never endorses a range twice: the next
					// commitment starts after every range it endorsed.
					a.seq, stale = max(a.seq, d.Endorsed), true
				} else {
					excluded[env.From] = true
				}
			}
			if len(holders)-len(refused) < q {
				return true, nil
			}
		}
		return done(), nil
	})
	if err != nil && !errors.Is(err, errTimeout) {
		return nil, false, err
	}
	if len(endorsed) < q {
		return nil, stale, fmt.Errorf("the sum is endorsed by %d key holders, fewer than the quorum %d", len(endorsed), q)
	}
	if m := missing(); len(m) > 0 {
		return nil, false, fmt.Errorf("no fingerprint from contributor(s) %v of the sum", m)
	}
	for _, h := range holders {
		if e, ok := endorsed[h]; ok {
			endorsements = append(endorsements, e)
		}
	}
	return endorsements, false, nil
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
func (a *aggregator) refuseLateUpload(env *protocol.Envelope, rep *Round) {
	reason := "upload after the round's uploads closed"
	if _, dup := rep.Claims[env.From]; dup {
		reason = "duplicate upload"
	}
	rep.Refused[env.From] = reason
	a.log.Warn("refused an upload", "hospital", env.From, "round", a.round, "reason", reason)
}
