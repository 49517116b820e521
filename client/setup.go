package client

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"

	"github.com/fedcrypt/fedcrypt/he"
	"github.com/fedcrypt/fedcrypt/protocol"
	"github.com/fedcrypt/fedcrypt/transport"
	"github.com/fedcrypt/fedcrypt/vault"
)

// sealKindShamir and sealKindHolder name sealed payloads, so a sealed file
// or message of one kind is never accepted as another.
const (
	sealKindShamir = "fedcrypt/shamir-share"
	sealKindSetup  = "fedcrypt/setup-state"
)

// onSetup starts the key ceremony of a key epoch: a key holder commits to
// its share of the epoch's collective public key. A member already set up
// in that epoch (a reconnecting process) answers ready again; a later epoch
// replaces the key, its budget and what this member endorsed under it.
// Epochs only move forward.
func (c *Client) onSetup(ctx context.Context, conn transport.Conn, env *protocol.Envelope) error {
	s, err := protocol.ParseSetup(env.Body)
	if err != nil {
		return fmt.Errorf("setup from aggregator %q: %w", env.From, err)
	}
	switch {
	case s.Epoch < c.epoch:
		return fmt.Errorf("aggregator %q asks for a key ceremony of epoch %d, this member is in epoch %d: epochs only move forward", env.From, s.Epoch, c.epoch)
	case s.Epoch > c.epoch:
		c.newEpoch(s.Epoch)
	case c.ready:
		return c.sendReady(ctx, conn)
	}
	if !c.me.KeyHolder {
		return nil
	}
	if c.holder == nil {
		h, err := he.NewKeyHolder(c.params, protocol.CRS(c.hash, c.epoch), c.index, c.rand)
		if err != nil {
			return err
		}
		c.holder = h
		c.pkShare = h.PublicKeyShare()
	}
	return c.send(ctx, conn, protocol.KindPKCommit, protocol.Digest32(sha256.Sum256(c.pkShare)).Marshal())
}

// verifiedBundle opens a bundle of signed messages of one kind, one from
// every key holder, and returns their bodies by key holder.
func (c *Client) verifiedBundle(body []byte, kind, what string) (map[string][]byte, error) {
	bundle, err := protocol.ParseBundle(body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	byHolder := map[string][]byte{}
	for _, raw := range bundle {
		e, err := protocol.ParseEnvelope(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		if err := e.Verify(c.fed, c.hash); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		m, ok := c.fed.Member(e.From)
		if e.Kind != kind || !ok || !m.KeyHolder {
			return nil, fmt.Errorf("%s: a %s from %q is not a key holder's %s", what, e.Kind, e.From, kind)
		}
		if _, dup := byHolder[e.From]; dup {
			return nil, fmt.Errorf("%s: two from %q", what, e.From)
		}
		byHolder[e.From] = e.Body
	}
	for _, id := range c.fed.KeyHolders() {
		if _, ok := byHolder[id]; !ok {
			return nil, fmt.Errorf("%s: none from key holder %q", what, id)
		}
	}
	return byHolder, nil
}

// onPKCommits takes every key holder's commitment to its public-key share;
// a key holder acknowledges the whole list.
func (c *Client) onPKCommits(ctx context.Context, conn transport.Conn, env *protocol.Envelope) error {
	if c.pk != nil {
		return nil
	}
	bodies, err := c.verifiedBundle(env.Body, protocol.KindPKCommit, "public-key commitments")
	if err != nil {
		return err
	}
	commits := map[string][32]byte{}
	list := sha256.New()
	list.Write([]byte("fedcrypt/pk-commitments/v1"))
	for _, id := range c.fed.KeyHolders() {
		d, err := protocol.ParseDigest32(bodies[id])
		if err != nil {
			return fmt.Errorf("public-key commitment of %q: %w", id, err)
		}
		commits[id] = d
		list.Write([]byte(id))
		list.Write([]byte{0})
		list.Write(d[:])
	}
	digest := [32]byte(list.Sum(nil))
	if c.commits != nil && digest != c.commitList {
		return fmt.Errorf("public-key commitments: aggregator %q sent a second, different list", env.From)
	}
	c.commits, c.commitList = commits, digest
	if !c.me.KeyHolder {
		return nil
	}
	if commits[c.me.ID] != sha256.Sum256(c.pkShare) {
		return fmt.Errorf("public-key commitments: aggregator %q relayed another commitment for this key holder", env.From)
	}
	return c.send(ctx, conn, protocol.KindPKAck, protocol.Digest32(digest).Marshal())
}

// onPKAcks checks that every key holder acknowledged the same list of
// commitments as this member saw; a key holder then reveals its share.
func (c *Client) onPKAcks(ctx context.Context, conn transport.Conn, env *protocol.Envelope) error {
	if c.pk != nil || c.acked {
		return nil
	}
	if c.commits == nil {
		return fmt.Errorf("public-key acknowledgements from aggregator %q before the commitments", env.From)
	}
	bodies, err := c.verifiedBundle(env.Body, protocol.KindPKAck, "public-key acknowledgements")
	if err != nil {
		return err
	}
	for _, id := range c.fed.KeyHolders() {
		d, err := protocol.ParseDigest32(bodies[id])
		if err != nil {
			return fmt.Errorf("public-key acknowledgement of %q: %w", id, err)
		}
		if d != c.commitList {
			return fmt.Errorf("key holder %q acknowledged another list of public-key commitments than %q saw: aggregator %q showed key holders different commitments", id, c.me.ID, env.From)
		}
	}
	c.acked = true
	if !c.me.KeyHolder {
		return nil
	}
	return c.send(ctx, conn, protocol.KindPKShare, c.pkShare)
}

// onPKShares checks every key holder's signed share against its
// commitment, recomputes the collective public key, then deals this key
// holder's Shamir shares.
func (c *Client) onPKShares(ctx context.Context, conn transport.Conn, env *protocol.Envelope) error {
	if c.pk != nil {
		return nil
	}
	if !c.acked {
		return fmt.Errorf("public-key shares from aggregator %q before every key holder acknowledged the commitments", env.From)
	}
	bodies, err := c.verifiedBundle(env.Body, protocol.KindPKShare, "public-key shares")
	if err != nil {
		return err
	}
	holders := c.fed.KeyHolders()
	shares := make([][]byte, 0, len(holders))
	for _, id := range holders {
		if sha256.Sum256(bodies[id]) != c.commits[id] {
			return fmt.Errorf("key holder %q revealed a public-key share other than the one it committed to", id)
		}
		shares = append(shares, bodies[id])
	}
	pk, err := he.CombinePublicKey(c.params, protocol.CRS(c.hash, c.epoch), shares)
	if se, ok := errors.AsType[*he.ShareError](err); ok && se.Index < len(holders) {
		return fmt.Errorf("public-key share of key holder %q: %w", holders[se.Index], se.Err)
	}
	if err != nil {
		return fmt.Errorf("collective public key: %w", err)
	}
	c.pk = pk
	if !c.me.KeyHolder {
		c.ready = true
		if err := c.saveState(); err != nil {
			return err
		}
		return c.sendReady(ctx, conn)
	}
	return c.deal(ctx, conn)
}

// deal sends one Shamir share to every other key holder, age-encrypted to
// the recipient and signed inside the seal, relayed by the aggregator.
func (c *Client) deal(ctx context.Context, conn transport.Conn) error {
	if c.dealt {
		return nil
	}
	var indices []int
	for _, id := range c.fed.KeyHolders() {
		indices = append(indices, c.fed.Index(id))
	}
	shares, err := c.holder.ShamirShares(indices, c.fed.Threshold, c.rand)
	if err != nil {
		return err
	}
	c.dealt = true
	for _, id := range c.fed.KeyHolders() {
		if id == c.me.ID {
			continue
		}
		m, _ := c.fed.Member(id)
		r, err := vault.ParseRecipient(m.Recipient)
		if err != nil {
			return fmt.Errorf("shamir share for %q: %w", id, err)
		}
		sealed, err := vault.SealBytes(sealKindShamir, shares[c.fed.Index(id)], c.cfg.Identity.SigningKey(), r)
		if err != nil {
			return fmt.Errorf("shamir share for %q: %w", id, err)
		}
		body := protocol.Shamir{To: id, Sealed: sealed}.Marshal()
		if err := c.send(ctx, conn, protocol.KindShamir, body); err != nil {
			return err
		}
	}
	return c.maybeCombine(ctx, conn)
}

// onShamir takes a Shamir share another key holder dealt to this one.
func (c *Client) onShamir(ctx context.Context, conn transport.Conn, env *protocol.Envelope) error {
	if !c.me.KeyHolder || c.ready {
		return nil
	}
	m, ok := c.fed.Member(env.From)
	if !ok || !m.KeyHolder || env.From == c.me.ID {
		return fmt.Errorf("shamir share from %q: not another key holder", env.From)
	}
	s, err := protocol.ParseShamir(env.Body)
	if err != nil {
		return fmt.Errorf("shamir share from %q: %w", env.From, err)
	}
	if s.To != c.me.ID {
		return fmt.Errorf("shamir share from %q: addressed to %q", env.From, s.To)
	}
	writer, _ := m.PublicKey()
	share, err := vault.UnsealBytes(s.Sealed, sealKindShamir, writer, c.cfg.Identity)
	if err != nil {
		return fmt.Errorf("shamir share from %q: %w", env.From, err)
	}
	c.shamir[env.From] = share
	return c.maybeCombine(ctx, conn)
}

// maybeCombine finishes setup once this key holder has dealt and received a
// share from every other key holder.
func (c *Client) maybeCombine(ctx context.Context, conn transport.Conn) error {
	if !c.dealt || len(c.shamir) != len(c.fed.KeyHolders())-1 {
		return nil
	}
	shares := make([][]byte, 0, len(c.shamir))
	var dealers []string
	for _, id := range c.fed.KeyHolders() {
		if s, ok := c.shamir[id]; ok {
			shares, dealers = append(shares, s), append(dealers, id)
		}
	}
	if err := c.holder.CombineShamirShares(shares); err != nil {
		if se, ok := errors.AsType[*he.ShareError](err); ok && se.Index < len(dealers) {
			return fmt.Errorf("Shamir share dealt by key holder %q: %w", dealers[se.Index], se.Err)
		}
		return err
	}
	c.shamir = nil
	if err := c.saveState(); err != nil {
		return err
	}
	c.ready = true
	c.log.Info("key ceremony complete", "threshold", c.fed.Threshold)
	return c.sendReady(ctx, conn)
}

func (c *Client) sendReady(ctx context.Context, conn transport.Conn) error {
	var d []byte
	if c.pk != nil {
		b, err := c.pk.MarshalBinary()
		if err != nil {
			return err
		}
		d = digest(b)
	}
	r := protocol.Ready{PublicKeyDigest: d, Epoch: c.epoch, Endorsed: c.sums.EndorsedEnd}
	return c.send(ctx, conn, protocol.KindReady, r.Marshal())
}

// setupState is what a member keeps after the key ceremony, sealed to
// itself, so that a restarted process rejoins without a new ceremony: the
// collective public key and, for a key holder, its secret state (threshold
// share and decryption counts).
type setupState struct {
	// Config is the hash of the federation version the state belongs to;
	// empty in states written before versions were named.
	Config    string    `json:"config,omitempty"`
	Epoch     uint64    `json:"epoch"`
	PublicKey []byte    `json:"public_key"`
	Holder    []byte    `json:"holder,omitempty"`
	Sums      sumRecord `json:"sums"`
}

// newEpoch forgets the key of the current epoch, with the ceremony's state
// and what was endorsed under it, for a ceremony of epoch e. The sealed
// state keeps the old key until the new one is complete.
func (c *Client) newEpoch(e uint64) {
	if c.epoch != 0 {
		c.log.Info("new key epoch", "epoch", e, "previous", c.epoch)
	}
	c.epoch, c.sums = e, sumRecord{}
	c.holder, c.pk, c.pkShare = nil, nil, nil
	c.commits, c.commitList, c.acked, c.dealt = nil, [32]byte{}, false, false
	c.shamir, c.ready = map[string][]byte{}, false
}

// saveState seals the member's setup state. Without a state directory it
// does nothing.
func (c *Client) saveState() error {
	st := setupState{Config: c.hash.String(), Epoch: c.epoch, Sums: c.sums}
	var err error
	if c.pk != nil {
		if st.PublicKey, err = c.pk.MarshalBinary(); err != nil {
			return err
		}
	}
	if c.holder != nil {
		if st.Holder, err = c.holder.MarshalBinary(); err != nil {
			return err
		}
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	defer clear(b)
	return c.seal("setup", sealKindSetup, b)
}

// restoreState loads a sealed setup state if the state directory has one,
// and reports whether it did.
func (c *Client) restoreState() (bool, error) {
	path := c.statePath("setup")
	if path == "" || c.params == nil {
		return false, nil
	}
	id := c.cfg.Identity
	b, err := vault.Unseal(path, sealKindSetup, id.SigningPublicKey(), id)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer clear(b)
	var st setupState
	if err := json.Unmarshal(b, &st); err != nil {
		return false, fmt.Errorf("setup state %s: %w", path, err)
	}
	if c.otherVersion(st) {
		return false, nil
	}
	if c.pk, err = he.UnmarshalPublicKey(c.params, st.PublicKey); err != nil {
		return false, fmt.Errorf("setup state %s: %w", path, err)
	}
	if c.me.KeyHolder {
		if c.holder, err = he.UnmarshalKeyHolder(c.params, st.Holder); err != nil {
			return false, fmt.Errorf("setup state %s: %w", path, err)
		}
		if !c.holder.Ready() || c.holder.Index() != c.index {
			return false, fmt.Errorf("setup state %s: not a finished key holder %d", path, c.index)
		}
	}
	c.epoch, c.sums = st.Epoch, st.Sums
	c.ready, c.dealt, c.acked = true, true, true
	return true, nil
}
