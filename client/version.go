package client

import (
	"context"
	"path/filepath"

	"github.com/fedcrypt/fedcrypt/dp"
	"github.com/fedcrypt/fedcrypt/vault"
)

// otherVersion reports whether a sealed setup state belongs to another
// version of the federation (members were added or removed since it was
// written). Its key is then not this version's: only its key epoch carries
// over, so that this version's first key ceremony is of a later epoch and
// the epochs of the member's keys only move forward across versions.
func (c *Client) otherVersion(st setupState) bool {
	if st.Config == "" || st.Config == c.hash.String() {
		return false
	}
	c.epoch = st.Epoch
	c.log.Info("setup state of another federation version: a new key epoch follows", "epoch", st.Epoch)
	return true
}

// ReadLedger opens the sealed privacy ledger member keeps in the state
// directory dir, as [Client.Run] writes it, with the member's identity id
// (which also signed it). The ledger is the member's in its federation,
// across versions and runs: what it has spent of its cap so far. It returns
// an error wrapping fs.ErrNotExist when the member has no ledger there yet.
func ReadLedger(dir, member string, id *vault.Identity) (*dp.Ledger, error) {
	s := &fileLedger{path: filepath.Join(dir, member+".ledger.age"), id: id}
	return dp.LoadLedger(context.Background(), s)
}

// fileLedger reads a sealed ledger file; it never writes.
type fileLedger struct {
	path string
	id   *vault.Identity
}

func (s *fileLedger) Load(ctx context.Context) ([]byte, error) {
	return vault.Unseal(s.path, sealKindLedger, s.id.SigningPublicKey(), s.id)
}

func (s *fileLedger) Save(ctx context.Context, b []byte) error {
	panic("client: ReadLedger's ledger is read-only")
}
