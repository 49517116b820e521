package vault

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Open opens a data file for reading: an age file (binary or armored,
// recognized by its contents) is decrypted with id as it is read, and any
// other file is read as it is. A name ending in ".age" must hold an age file.
// The plaintext of an age file exists only in the returned reader's buffers:
// nothing is written to disk. Read errors name the file and wrap
// [ErrCorrupt] for a truncated or modified file; Open returns an error
// wrapping [ErrIdentityRequired] for an age file when id is nil.
func Open(path string, id *Identity) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, pathErrorCause(err))
	}
	br := bufio.NewReaderSize(f, 64<<10)
	head, err := br.Peek(64)
	if err != nil && err != io.EOF {
		f.Close()
		return nil, fmt.Errorf("read %s: %w", path, pathErrorCause(err))
	}
	if !isAgeFile(head) {
		if strings.HasSuffix(path, Suffix) {
			f.Close()
			return nil, fmt.Errorf("open %s: %w: does not start with an age header", path, ErrCorrupt)
		}
		return &namedReader{r: br, c: f, name: path}, nil
	}
	if id == nil {
		f.Close()
		return nil, fmt.Errorf("open %s: %w", path, ErrIdentityRequired)
	}
	r, err := Decrypt(br, id)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("decrypt %s: %w", path, err)
	}
	return &namedReader{r: r, c: f, name: path}, nil
}

// IsEncrypted reports whether the file at path starts like an age file.
func IsEncrypted(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("open %s: %w", path, pathErrorCause(err))
	}
	defer f.Close()
	head := make([]byte, 64)
	n, err := io.ReadFull(f, head)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return false, fmt.Errorf("read %s: %w", path, pathErrorCause(err))
	}
	return isAgeFile(head[:n]), nil
}

// namedReader prefixes read errors with the file name.
type namedReader struct {
	r    io.Reader
	c    io.Closer
	name string
}

func (n *namedReader) Read(p []byte) (int, error) {
	k, err := n.r.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("read %s: %w", n.name, pathErrorCause(err))
	}
	return k, err
}

func (n *namedReader) Close() error { return n.c.Close() }

// File is an age file being written atomically: what is written to it is
// encrypted into a temporary file in the destination's directory, and
// [File.Close] finishes the age stream, syncs the file, renames it over the
// destination and syncs the directory. Until then the destination keeps its
// previous contents, whatever happens to the process. A File is not safe for
// concurrent use.
type File struct {
	path string
	tmp  *os.File
	enc  io.WriteCloser
	done bool
}

// Create starts writing an age file at path encrypted to the recipients.
// The file gets mode 0600. Call Close to commit it or Abort to drop it.
func Create(path string, recipients ...Recipient) (*File, error) {
	if err := checkRecipients(recipients); err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	// Said now, not after the whole stream is encrypted and the rename
	// fails with "file exists".
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return nil, fmt.Errorf("create %s: is a directory", path)
	}
	tmp, err := os.CreateTemp(dirOf(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, pathErrorCause(err))
	}
	enc, err := Encrypt(tmp, recipients...)
	if err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	return &File{path: path, tmp: tmp, enc: enc}, nil
}

// Write encrypts p into the file.
func (f *File) Write(p []byte) (int, error) {
	if f.done {
		return 0, fmt.Errorf("write %s: file already closed", f.path)
	}
	n, err := f.enc.Write(p)
	if err != nil {
		return n, fmt.Errorf("write %s: %w", f.path, pathErrorCause(err))
	}
	return n, nil
}

// Close finishes the age file and puts it in place atomically. On error the
// destination is untouched and the temporary file removed.
func (f *File) Close() error {
	if f.done {
		return fmt.Errorf("close %s: file already closed", f.path)
	}
	f.done = true
	err := f.enc.Close()
	if err == nil {
		err = f.tmp.Sync()
	}
	if cerr := f.tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.tmp.Name())
		return fmt.Errorf("write %s: %w", f.path, pathErrorCause(err))
	}
	return commit(f.tmp.Name(), f.path)
}

// Abort drops the file being written; the destination is untouched. Abort
// after Close does nothing.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.tmp.Close()
	os.Remove(f.tmp.Name())
}

// testHookBeforeRename, when set by a test, runs after the temporary file is
// complete and synced and before it is renamed into place.
var testHookBeforeRename func(tmp, dst string)

// commit renames the complete, synced temporary file tmp over dst and syncs
// the directory, so the rename itself survives a crash.
func commit(tmp, dst string) error {
	if testHookBeforeRename != nil {
		testHookBeforeRename(tmp, dst)
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		var le *os.LinkError
		if errors.As(err, &le) {
			err = le.Err
		}
		return fmt.Errorf("write %s: %w", dst, err)
	}
	if err := syncDir(dirOf(dst)); err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	return nil
}

// syncDir fsyncs a directory so that a rename or a creation in it is durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, pathErrorCause(err))
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, pathErrorCause(err))
	}
	return nil
}

func dirOf(path string) string { return filepath.Dir(path) }
