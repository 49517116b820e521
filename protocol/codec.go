package protocol

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// writer and reader implement the protocol's one binary encoding, of the
// envelope's frame and of every body: fixed-width 8-byte big-endian
// integers and floats, one-byte booleans, and byte strings and lists after
// their 8-byte big-endian length.
type writer struct{ b []byte }

func (w *writer) u64(v uint64)  { w.b = binary.BigEndian.AppendUint64(w.b, v) }
func (w *writer) f64(v float64) { w.u64(math.Float64bits(v)) }
func (w *writer) bool(v bool) {
	if v {
		w.b = append(w.b, 1)
	} else {
		w.b = append(w.b, 0)
	}
}
func (w *writer) bytes(v []byte) { w.u64(uint64(len(v))); w.b = append(w.b, v...) }
func (w *writer) str(v string)   { w.bytes([]byte(v)) }
func (w *writer) strs(v []string) {
	w.u64(uint64(len(v)))
	for _, s := range v {
		w.str(s)
	}
}
func (w *writer) f64s(v []float64) {
	w.u64(uint64(len(v)))
	for _, x := range v {
		w.f64(x)
	}
}

type reader struct {
	b   []byte
	err error
	at  string // the field being read, for errors
}

var errTruncated = errors.New("truncated")

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *reader) take(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.fail(fmt.Errorf("%s: %w (%d bytes wanted, %d left)", r.at, errTruncated, n, len(r.b)))
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u64(field string) uint64 {
	r.at = field
	v := r.take(8)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func (r *reader) f64(field string) float64 { return math.Float64frombits(r.u64(field)) }

func (r *reader) bool(field string) bool {
	r.at = field
	v := r.take(1)
	if v == nil {
		return false
	}
	if v[0] > 1 {
		r.fail(fmt.Errorf("%s: byte %d is not a boolean", field, v[0]))
	}
	return v[0] == 1
}

// count reads a length and checks that at least min bytes per element are
// left for it, so a hostile length cannot cause a large allocation.
func (r *reader) count(field string, min uint64) int {
	n := r.u64(field)
	if r.err == nil && n > uint64(len(r.b))/min {
		r.fail(fmt.Errorf("%s: %d elements cannot fit in %d bytes", field, n, len(r.b)))
		return 0
	}
	return int(n)
}

func (r *reader) bytes(field string) []byte {
	n := r.count(field, 1)
	return r.take(uint64(n))
}

// bytesMax reads a byte string of at most limit bytes.
func (r *reader) bytesMax(field string, limit int) []byte {
	n := r.u64(field)
	if r.err == nil && n > uint64(limit) {
		r.fail(fmt.Errorf("%s of %d bytes exceeds %d", field, n, limit))
		return nil
	}
	return r.take(n)
}

func (r *reader) str(field string) string { return string(r.bytes(field)) }

func (r *reader) strs(field string) []string {
	n := r.count(field, 8)
	if r.err != nil {
		return nil
	}
	v := make([]string, n)
	for i := range v {
		v[i] = r.str(field)
	}
	return v
}

func (r *reader) f64s(field string) []float64 {
	n := r.count(field, 8)
	if r.err != nil {
		return nil
	}
	v := make([]float64, n)
	for i := range v {
		v[i] = r.f64(field)
	}
	return v
}

// done reports the first error, or trailing bytes.
func (r *reader) done(what string) error {
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d trailing bytes", len(r.b))
	}
	if r.err != nil {
		return fmt.Errorf("%s: %w", what, r.err)
	}
	return nil
}
