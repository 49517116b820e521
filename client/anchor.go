package client

import (
	"fmt"

	"github.com/fedcrypt/fedcrypt/protocol"
)

// onWelcome checks this member's state against the latest of its own
// signed messages the aggregator holds. A ledger older than the latest
// claim this hospital signed was restored from an older copy: it would
// spend again budget already spent, so the member stops and says so. A
// key-holder state older than its latest endorsement is brought forward
// to it: it never endorses or decrypts a range again, nor a second sum of
// the round that endorsement named.
func (c *Client) onWelcome(env *protocol.Envelope) error {
	w, err := protocol.ParseWelcome(env.Body)
	if err != nil {
		return fmt.Errorf("welcome from aggregator %q: %w", env.From, err)
	}
	if len(w.Claim) > 0 {
		e, err := c.openOwn(w.Claim, protocol.KindClaim)
		if err != nil {
			return fmt.Errorf("welcome from aggregator %q: claim: %w", env.From, err)
		}
		claim, err := protocol.ParseClaim(e.Body)
		if err != nil {
			return fmt.Errorf("welcome from aggregator %q: claim: %w", env.From, err)
		}
		if v := c.ledger.version(); claim.LedgerVersion > v {
			return fmt.Errorf("ledger rolled back: in round %d this hospital signed a claim at ledger version %d (ε %.4g), the ledger in %s is at version %d; restore the latest ledger, never an older copy (a ledger's budget cannot be reset)",
				e.Round, claim.LedgerVersion, claim.DP.Epsilon, c.cfg.StateDir, v)
		}
	}
	if len(w.Endorsement) > 0 && c.me.KeyHolder {
		e, err := c.openOwn(w.Endorsement, protocol.KindEndorse)
		if err != nil {
			return fmt.Errorf("welcome from aggregator %q: endorsement: %w", env.From, err)
		}
		en, err := protocol.ParseEndorsement(e.Body)
		if err != nil {
			return fmt.Errorf("welcome from aggregator %q: endorsement: %w", env.From, err)
		}
		if end := en.First + en.Count; en.Epoch == c.epoch && end > c.sums.EndorsedEnd {
			c.log.Warn("key-holder state older than its latest endorsement: brought forward", "endorsed", c.sums.EndorsedEnd, "signed", end)
			// Ranges only grow: the signed one is later than any recorded.
			c.sums = sumRecord{Round: e.Round, Nonce: e.Nonce, SumID: en.SumID, EndorsedEnd: end, SharedEnd: max(c.sums.SharedEnd, end)}
			if err := c.saveState(); err != nil {
				return err
			}
		}
	}
	return nil
}

// openOwn parses a message this member signed, relayed back by the
// aggregator, and checks the signature and the federation. The aggregator
// kept it, perhaps in a checkpoint an earlier release wrote, so it is read
// as a stored message.
func (c *Client) openOwn(raw []byte, kind string) (*protocol.Envelope, error) {
	e, err := protocol.ParseStored(raw)
	if err != nil {
		return nil, err
	}
	if e.Kind != kind || e.From != c.me.ID {
		return nil, fmt.Errorf("a %s from %q, not this member's %s", e.Kind, e.From, kind)
	}
	if err := e.Verify(c.fed, c.hash); err != nil {
		return nil, err
	}
	return e, nil
}
