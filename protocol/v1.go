package protocol

import (
	"encoding/binary"
	"fmt"

	"github.com/fedcrypt/fedcrypt/federation"
)

// Protocol version 1 framed the envelope, and built its signing input,
// with 4-byte big-endian lengths:
//
//	"FCE1" ‖ len‖kind ‖ len‖from ‖ hash(32) ‖ round(8) ‖ len‖nonce ‖ len‖sig ‖ len(8)‖body
//	"fedcrypt/envelope/v1" ‖ len‖kind ‖ len‖from ‖ hash ‖ round ‖ len‖nonce ‖ SHA-256(body)
//
// Its bodies are version 2's. Audit logs, checkpoints and members'
// acceptances written by releases of version 1 keep signed envelopes of
// it, which this build reads and verifies ([ParseStored]) but never sends.

const (
	envelopeMagicV1  = "FCE1"
	envelopeDomainV1 = "fedcrypt/envelope/v1"
)

// fieldV1 reads a byte string of at most limit bytes after its 4-byte
// length.
func fieldV1(r *reader, field string, limit int) []byte {
	r.at = field
	v := r.take(4)
	if v == nil {
		return nil
	}
	n := binary.BigEndian.Uint32(v)
	if uint64(n) > uint64(limit) {
		r.fail(fmt.Errorf("%s of %d bytes exceeds %d", field, n, limit))
		return nil
	}
	return r.take(uint64(n))
}

// signingInputV1 is what a sender of version 1 signed (above).
func signingInputV1(kind, from string, cfg federation.Hash, round uint64, nonce []byte, d [32]byte) []byte {
	b := make([]byte, 0, len(envelopeDomainV1)+len(kind)+len(from)+len(nonce)+96)
	b = append(b, envelopeDomainV1...)
	b = appendV1(b, []byte(kind))
	b = appendV1(b, []byte(from))
	b = append(b, cfg[:]...)
	b = binary.BigEndian.AppendUint64(b, round)
	b = appendV1(b, nonce)
	return append(b, d[:]...)
}

// appendV1 appends v after its 4-byte length.
func appendV1(b, v []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
	return append(b, v...)
}
