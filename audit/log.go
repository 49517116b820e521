package audit

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Entry is one line of the log.
type Entry struct {
	Seq    uint64          `json:"seq"`
	Time   time.Time       `json:"time"`
	Type   string          `json:"type"`
	Writer string          `json:"writer"`
	Prev   string          `json:"prev"`
	Body   json.RawMessage `json:"body"`
	Sig    string          `json:"sig"`
}

const signDomain = "fedcrypt/audit/v1\n"

func (e *Entry) signingInput() ([]byte, error) {
	c := *e
	c.Sig = ""
	b, err := json.Marshal(&c)
	if err != nil {
		return nil, err
	}
	return append([]byte(signDomain), b...), nil
}

// Log appends signed, hash-chained entries to a file.
type Log struct {
	mu     sync.Mutex
	f      *os.File
	writer string
	key    ed25519.PrivateKey
	seq    uint64
	head   [32]byte
	now    func() time.Time
	// ended holds, for a resumed log, the heads after its round and
	// round-abandoned entries, oldest first.
	ended []Head
}

// Create starts a new log at path (which must not exist), chained to the
// federation's config hash and written by writer with key.
func Create(path string, configHash [32]byte, writer string, key ed25519.PrivateKey) (*Log, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create audit log: %w", err)
	}
	return &Log{f: f, writer: writer, key: key, head: configHash, now: time.Now}, nil
}

// Resume reopens an existing log to append to it. It checks the chain of
// the entries present (not signatures: that is [Verify]'s job) and, when
// anchor is non-zero, that the last entry's hash equals it — the head a
// sealed checkpoint recorded — so a log cut short or extended behind the
// writer's back is refused.
func Resume(path string, configHash, anchor [32]byte, writer string, key ed25519.PrivateKey) (*Log, error) {
	entries, head, err := readChain(path, configHash, nil)
	if err != nil {
		return nil, err
	}
	if anchor != ([32]byte{}) && head != anchor {
		return nil, fmt.Errorf("resume audit log %s: its head %x is not the checkpoint's %x (log truncated or altered)", path, head[:8], anchor[:8])
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("resume audit log: %w", err)
	}
	l := &Log{f: f, writer: writer, key: key, seq: uint64(len(entries)), head: head, now: time.Now}
	for i, e := range entries {
		if e.Type != TypeRound && e.Type != TypeRoundAbandoned {
			continue
		}
		round, err := e.round()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("resume audit log %s: entry %d: %w", path, i+1, err)
		}
		h := Head{Config: configHash, Type: e.Type, Round: round, Entries: uint64(i + 1), Hash: head}
		if i+1 < len(entries) {
			if _, err := hex.Decode(h.Hash[:], []byte(entries[i+1].Prev)); err != nil {
				f.Close()
				return nil, fmt.Errorf("resume audit log %s: entry %d: %w", path, i+2, err)
			}
		}
		l.ended = append(l.ended, h)
	}
	return l, nil
}

// ResumedHead returns, for a log reopened by [Resume], the head after its
// last round-abandoned entry or round entry of a round up to completed: the
// last head the aggregator can have sent its members before the run
// stopped. A round entry after completed was written but never
// checkpointed, so never announced; the round runs again.
func (l *Log) ResumedHead(completed uint64) (Head, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.ended) - 1; i >= 0; i-- {
		if h := l.ended[i]; h.Type == TypeRoundAbandoned || h.Round <= completed {
			return h, true
		}
	}
	return Head{}, false
}

// Append writes one entry of the given type with body (marshalled to JSON),
// syncs it to disk, and returns the new head hash.
func (l *Log) Append(typ string, body any) ([32]byte, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return [32]byte{}, fmt.Errorf("audit %s entry: %w", typ, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e := Entry{Seq: l.seq, Time: l.now().UTC().Truncate(time.Millisecond), Type: typ, Writer: l.writer,
		Prev: hex.EncodeToString(l.head[:]), Body: raw}
	in, err := e.signingInput()
	if err != nil {
		return [32]byte{}, fmt.Errorf("audit %s entry: %w", typ, err)
	}
	e.Sig = base64.StdEncoding.EncodeToString(ed25519.Sign(l.key, in))
	line, err := json.Marshal(&e)
	if err != nil {
		return [32]byte{}, err
	}
	if _, err := l.f.Write(append(line, '\n')); err != nil {
		return [32]byte{}, fmt.Errorf("write audit log: %w", err)
	}
	if err := l.f.Sync(); err != nil {
		return [32]byte{}, fmt.Errorf("sync audit log: %w", err)
	}
	l.seq++
	l.head = sha256.Sum256(line)
	return l.head, nil
}

// Head returns the hash of the last entry (the config hash before any).
func (l *Log) Head() [32]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.head
}

// Len returns the number of entries in the log.
func (l *Log) Len() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seq
}

// Close closes the file.
func (l *Log) Close() error { return l.f.Close() }

// MaxLine is the longest entry accepted when reading a log.
const MaxLine = 16 << 20

// readChain parses every line and checks sequence numbers and hash links.
// With keys, it also checks each entry's signature, so the first entry that
// was altered is the one named.
func readChain(path string, configHash [32]byte, keys KeyFunc) ([]Entry, [32]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, [32]byte{}, fmt.Errorf("read audit log: %w", err)
	}
	defer f.Close()
	return parseChain(f, path, configHash, keys)
}

func parseChain(r io.Reader, path string, configHash [32]byte, keys KeyFunc) ([]Entry, [32]byte, error) {
	var check func(*Entry, [32]byte) error
	if keys != nil {
		check = func(e *Entry, _ [32]byte) error { return checkSig(e, keys) }
	}
	entries, head, err := parseChainFunc(r, configHash, check)
	if err != nil {
		return nil, head, fmt.Errorf("%s: %w", path, err)
	}
	return entries, head, nil
}

// parseChainFunc parses every line, checks sequence numbers and hash links,
// and calls check (if not nil) on each entry with the entry's own hash. A
// failure is a *[Failure] naming the entry (1-based).
func parseChainFunc(r io.Reader, configHash [32]byte, check func(*Entry, [32]byte) error) ([]Entry, [32]byte, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), MaxLine)
	head := configHash
	var entries []Entry
	n := 1
	for ; sc.Scan(); n++ {
		line := sc.Bytes()
		var e Entry
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			return nil, head, fail(n, "%v", err)
		}
		if dec.More() {
			return nil, head, fail(n, "data after the entry on its line")
		}
		if e.Seq != uint64(n-1) {
			return nil, head, fail(n, "sequence number %d (entries missing or reordered)", e.Seq)
		}
		if e.Prev != hex.EncodeToString(head[:]) {
			if n == 1 {
				// The first entry links to the config's hash, not to an entry.
				return nil, head, fail(n, "the log does not start from this federation config (config hash %.16s…): the config was changed, or the log is another federation's", hex.EncodeToString(configHash[:]))
			}
			return nil, head, fail(n, "previous-hash link broken (an entry before it was changed, removed or reordered)")
		}
		h := sha256.Sum256(line)
		if check != nil {
			if err := check(&e, h); err != nil {
				return nil, head, fail(n, "%v", err)
			}
		}
		entries = append(entries, e)
		head = h
	}
	if err := sc.Err(); err != nil {
		return nil, head, fail(n, "%v", err)
	}
	return entries, head, nil
}

// KeyFunc returns the public key a writer id must have signed with, from a
// source the verifier trusts (the federation config), never the log.
type KeyFunc func(writer string) (ed25519.PublicKey, error)

// ErrBadLog wraps every verification failure.
var ErrBadLog = errors.New("audit log does not verify")

// Verify checks the chain and every signature of the log at path and
// returns its entries and head hash. A failure names the first bad entry
// (1-based line number) and wraps ErrBadLog.
func Verify(path string, configHash [32]byte, keys KeyFunc) ([]Entry, [32]byte, error) {
	entries, head, err := readChain(path, configHash, keys)
	if err != nil {
		return nil, head, fmt.Errorf("%w: %w", ErrBadLog, err)
	}
	return entries, head, nil
}

func checkSig(e *Entry, keys KeyFunc) error {
	key, err := keys(e.Writer)
	if err != nil {
		return fmt.Errorf("writer %q: %w", e.Writer, err)
	}
	sig, err := base64.StdEncoding.DecodeString(e.Sig)
	in, err2 := e.signingInput()
	if err != nil || err2 != nil || !ed25519.Verify(key, in, sig) {
		return fmt.Errorf("signature of %q does not verify", e.Writer)
	}
	return nil
}
