package aggregator

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"

	"github.com/fedcrypt/fedcrypt/audit"
	"github.com/fedcrypt/fedcrypt/protocol"
	"github.com/fedcrypt/fedcrypt/transport"
)

// setup waits for every member, then runs the key ceremony of the run's
// first key epoch and records the setup.
func (a *aggregator) setup(ctx context.Context) error {
	all := len(a.fed.Members)
	err := a.wait(ctx, func(in transport.Incoming, env *message) (bool, error) {
		return a.countOnline() == all, nil
	})
	if err != nil {
		return fmt.Errorf("setup: waiting for all %d members (%d online): %w", all, a.countOnline(), err)
	}
	if !a.fed.HE.Enabled {
		a.auditSetup(nil)
		return nil
	}
	digest, err := a.ceremony(ctx)
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	a.auditSetup(digest)
	a.log.Info("setup complete", "threshold", a.fed.Threshold, "epoch", a.epoch)
	return nil
}

// rekey runs the key ceremony of the next key epoch between rounds: a fresh
// collective key from fresh secrets, with a fresh decryption budget, so
// that a key recovered by a contributor colluding with the aggregator opens
// one epoch's uploads only. Every key holder must take part.
func (a *aggregator) rekey(ctx context.Context, reason string) error {
	if !a.keyHoldersOnline() {
		err := a.wait(ctx, func(in transport.Incoming, env *message) (bool, error) {
			return a.keyHoldersOnline(), nil
		})
		if err != nil {
			return fmt.Errorf("re-key (%s): waiting for every key holder: %w", reason, err)
		}
	}
	digest, err := a.ceremony(ctx)
	if err != nil {
		return fmt.Errorf("re-key (%s): %w", reason, err)
	}
	a.appendAudit(audit.RekeyBody{Epoch: a.epoch, Reason: reason,
		CollectiveKey: hex.EncodeToString(digest), DecryptionBudget: a.budget})
	a.log.Info("new key epoch", "epoch", a.epoch, "reason", reason)
	return nil
}

// ceremony relays the key ceremony of the next key epoch: from every key
// holder, commitments to the public-key shares, acknowledgements of their
// list and then the shares, each phase relayed to all as a bundle of the
// signed messages; Shamir shares forwarded to their addressees; and a ready
// message from every key holder and every other member online, naming the
// same collective key. It returns the key's digest.
func (a *aggregator) ceremony(ctx context.Context) ([]byte, error) {
	next := a.epoch + 1
	for _, e := range a.epochs {
		next = max(next, e+1)
	}
	setup := a.envelope(protocol.KindSetup, protocol.Setup{Epoch: next}.Marshal())
	a.bundles = [][]byte{setup}
	for _, m := range a.fed.Members {
		if a.online[m.ID] {
			a.send(ctx, m.ID, setup)
		}
	}
	holders := a.fed.KeyHolders()
	// Each phase collects one signed message from every key holder, then
	// relays them all as a bundle: commitments to the public-key shares,
	// acknowledgements of the list of commitments, the shares themselves.
	phases := []struct{ kind, relay string }{
		{protocol.KindPKCommit, protocol.KindPKCommits},
		{protocol.KindPKAck, protocol.KindPKAcks},
		{protocol.KindPKShare, protocol.KindPKShares},
	}
	got := map[string]map[string][]byte{}
	for _, ph := range phases {
		got[ph.kind] = map[string][]byte{}
	}
	pkShares := got[protocol.KindPKShare]
	ready := map[string]protocol.Ready{}
	a.inCeremony = true
	defer func() { a.inCeremony = false }()
	err := a.wait(ctx, func(in transport.Incoming, env *message) (bool, error) {
		if in.Kind == transport.Left {
			if m, _ := a.fed.Member(in.From); m.KeyHolder {
				return false, fmt.Errorf("key holder %q left during the key ceremony", in.From)
			}
			return a.allReady(ready), nil
		}
		if env == nil {
			return false, nil
		}
		m, _ := a.fed.Member(env.From)
		if env.Kind == protocol.KindHello {
			// A reconnecting member missed the ceremony's messages so far.
			for _, b := range a.bundles {
				a.send(ctx, env.From, b)
			}
			return false, nil
		}
		for _, ph := range phases {
			if env.Kind != ph.kind {
				continue
			}
			if !m.KeyHolder {
				a.log.Warn("refused a key-ceremony message", "hospital", env.From, "kind", env.Kind, "reason", "not a key holder")
				return false, nil
			}
			if prev, ok := got[ph.kind][env.From]; ok {
				if !bytes.Equal(prev, in.Data) {
					return false, fmt.Errorf("key holder %q sent two different %s messages", env.From, env.Kind)
				}
				return false, nil
			}
			got[ph.kind][env.From] = in.Data
			if len(got[ph.kind]) == len(holders) {
				b := a.envelope(ph.relay, a.bundle(got[ph.kind]))
				a.bundles = append(a.bundles, b)
				for _, m := range a.fed.Members {
					if a.online[m.ID] {
						a.send(ctx, m.ID, b)
					}
				}
			}
			return false, nil
		}
		switch env.Kind {
		case protocol.KindShamir:
			s, err := protocol.ParseShamir(env.Body)
			if err != nil {
				a.log.Warn("refused a Shamir share", "hospital", env.From, "reason", err)
				return false, nil
			}
			if to, ok := a.fed.Member(s.To); !ok || !to.KeyHolder || !m.KeyHolder {
				a.log.Warn("refused a Shamir share", "hospital", env.From, "reason", "not between key holders")
				return false, nil
			}
			// Relayed verbatim: the recipient checks the dealer's signature
			// and opens the age-encrypted share, which this relay cannot.
			if !a.send(ctx, s.To, in.Data) {
				return false, fmt.Errorf("relay Shamir share from %q to %q failed", env.From, s.To)
			}
		case protocol.KindReady:
			r, err := protocol.ParseReady(env.Body)
			if err != nil {
				return false, fmt.Errorf("ready from %q: %w", env.From, err)
			}
			if r.Epoch != next {
				return false, fmt.Errorf("member %q is ready in key epoch %d, the ceremony is of epoch %d", env.From, r.Epoch, next)
			}
			ready[env.From] = r
		}
		return a.allReady(ready), nil
	})
	if err != nil {
		return nil, fmt.Errorf("key ceremony of epoch %d (%d of %d public-key shares, %d members ready): %w",
			next, len(pkShares), len(holders), len(ready), err)
	}
	var digest []byte
	var endorsed uint64
	for id, r := range ready {
		if digest == nil {
			digest = r.PublicKeyDigest
		} else if !bytes.Equal(r.PublicKeyDigest, digest) {
			return nil, fmt.Errorf("member %q computed another collective public key", id)
		}
		// A key is new each epoch; were it not, its budget would continue
		// where the key holders' endorsements left it.
		endorsed = max(endorsed, r.Endorsed)
	}
	a.epoch, a.seq, a.epochRounds = next, endorsed, 0
	return digest, nil
}

// allReady reports whether every key holder, and every other member
// online, is ready.
func (a *aggregator) allReady(ready map[string]protocol.Ready) bool {
	for _, m := range a.fed.Members {
		if _, ok := ready[m.ID]; !ok && (m.KeyHolder || a.online[m.ID]) {
			return false
		}
	}
	return true
}

// keyHoldersOnline reports whether every key holder is online.
func (a *aggregator) keyHoldersOnline() bool {
	for _, id := range a.fed.KeyHolders() {
		if !a.online[id] {
			return false
		}
	}
	return true
}

// bundle lists the key holders' signed messages of one phase in config
// order.
func (a *aggregator) bundle(shares map[string][]byte) []byte {
	var b protocol.Bundle
	for _, id := range a.fed.KeyHolders() {
		b = append(b, shares[id])
	}
	return b.Marshal()
}

func (a *aggregator) countOnline() int {
	n := 0
	for _, m := range a.fed.Members {
		if a.online[m.ID] {
			n++
		}
	}
	return n
}
