package dp

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// FileStore is a [Store] in one plain file, replaced atomically: the new
// version is written to a temporary file in the same directory, synced,
// renamed over the old one, and the directory synced. A ledger holds no
// patient data (the data set is named by a keyed digest), but it does reveal
// who trained when; deployments keep ledgers in sealed files instead.
type FileStore struct {
	Path string
}

// Load returns the file's contents.
func (s FileStore) Load(ctx context.Context) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return os.ReadFile(s.Path)
}

// Save replaces the file with b durably.
func (s FileStore) Save(ctx context.Context, b []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	dir := filepath.Dir(s.Path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(s.Path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, s.Path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", s.Path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
