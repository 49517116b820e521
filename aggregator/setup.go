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
	pkShares := map[string][]byte{}
	ready := map[string][]byte{}
	err = a.wait(ctx, func(in transport.Incoming, env *message) (bool, error) {
		if in.Kind == transport.Left {
			return false, fmt.Errorf("member %q left during setup", in.From)
		}
		if env == nil {
			return false, nil
		}
		m, _ := a.fed.Member(env.From)
		switch env.Kind {
		case transport.KindHello:
			if len(pkShares) == len(holders) { // a reconnecting member missed the setup messages
				a.send(ctx, env.From, a.envelope(transport.KindSetup, nil))
				a.send(ctx, env.From, a.envelope(transport.KindPKShares, a.bundle(pkShares)))
			}
		case transport.KindPKShare:
			if !m.KeyHolder {
				a.log.Warn("refused a public-key share", "hospital", env.From, "reason", "not a key holder")
				return false, nil
			}
			pkShares[env.From] = in.Data
			if len(pkShares) == len(holders) {
				a.broadcast(ctx, transport.KindPKShares, a.bundle(pkShares))
			}
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

// bundle lists the key holders' signed public-key shares in config order.
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
