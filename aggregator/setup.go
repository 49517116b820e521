package aggregator

import (
	"bytes"
	"context"
	"fmt"

	"github.com/fedcrypt/fedcrypt/internal/transport"
)

// setup waits for every member, then relays the key ceremony: public-key
// shares from every key holder, relayed to all as a bundle of their signed
// messages; Shamir shares forwarded to their addressees; and a ready message
// from every member naming the same collective key.
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
	a.broadcast(ctx, transport.KindSetup, nil)
	holders := a.fed.KeyHolders()
	// Each phase collects one signed message from every key holder, then
	// relays them all as a bundle: commitments to the public-key shares,
	// acknowledgements of the list of commitments, the shares themselves.
	phases := []struct{ kind, relay string }{
		{transport.KindPKCommit, transport.KindPKCommits},
		{transport.KindPKAck, transport.KindPKAcks},
		{transport.KindPKShare, transport.KindPKShares},
	}
	got := map[string]map[string][]byte{}
	bundles := map[string][]byte{} // relayed bundles by relay kind, in phase order
	for _, ph := range phases {
		got[ph.kind] = map[string][]byte{}
	}
	pkShares := got[transport.KindPKShare]
	ready := map[string][]byte{}
	err = a.wait(ctx, func(in transport.Incoming, env *message) (bool, error) {
		if in.Kind == transport.Left {
			return false, fmt.Errorf("member %q left during setup", in.From)
		}
		if env == nil {
			return false, nil
		}
		m, _ := a.fed.Member(env.From)
		if env.Kind == transport.KindHello {
			// A reconnecting member missed the setup messages so far.
			a.send(ctx, env.From, a.envelope(transport.KindSetup, nil))
			for _, ph := range phases {
				if b, ok := bundles[ph.relay]; ok {
					a.send(ctx, env.From, a.envelope(ph.relay, b))
				}
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
				bundles[ph.relay] = a.bundle(got[ph.kind])
				a.broadcast(ctx, ph.relay, bundles[ph.relay])
			}
			return false, nil
		}
		switch env.Kind {
		case transport.KindShamir:
			s, err := transport.ParseShamir(env.Body)
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
		case transport.KindReady:
			r, err := transport.ParseReady(env.Body)
			if err != nil {
				return false, fmt.Errorf("ready from %q: %w", env.From, err)
			}
			ready[env.From] = r.PublicKeyDigest
			// After a resume, the key's budget continues where the key
			// holders' endorsements left it.
			a.seq = max(a.seq, r.Endorsed)
		}
		return len(ready) == len(a.fed.Members), nil
	})
	if err != nil {
		return fmt.Errorf("setup: key ceremony (%d of %d public-key shares, %d of %d members ready): %w",
			len(pkShares), len(holders), len(ready), len(a.fed.Members), err)
	}
	var digest []byte
	for id, d := range ready {
		if digest == nil {
			digest = d
		} else if !bytes.Equal(d, digest) {
			return fmt.Errorf("setup: member %q computed another collective public key", id)
		}
	}
	a.auditSetup(digest)
	a.log.Info("setup complete", "threshold", a.fed.Threshold)
	return nil
}

// bundle lists the key holders' signed messages of one phase in config
// order.
func (a *aggregator) bundle(shares map[string][]byte) []byte {
	var b transport.Bundle
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
