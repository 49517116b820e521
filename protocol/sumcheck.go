package protocol

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/fedcrypt/fedcrypt/federation"
)

// Message kinds of the sum check, between the uploads and the decryption.
const (
	// KindCommit: aggregator → the sum's contributors and every key holder:
	// the aggregator's commitment to one sum ([Commit]).
	KindCommit = "commit"
	// KindFingerprint: contributor → aggregator: its upload's fingerprint at
	// the committed sum's seed ([Fingerprint]).
	KindFingerprint = "fingerprint"
	// KindEndorse: key holder → aggregator: the key holder's endorsement of
	// one committed sum, decryption set and budget range ([Endorsement]).
	KindEndorse = "endorse"
)

// SumRef names one sum the aggregator asks to have decrypted: the kind of
// the uploads summed (KindUpload or KindEvalUp), their signed headers, and
// the sum itself by its length in values, its number of addends and the
// SHA-256 of its encoding. Its [SumRef.ID], bound to the federation, round
// and nonce, is what contributors fingerprint and key holders endorse.
type SumRef struct {
	Kind    string
	Length  uint64
	Addends uint64
	Digest  [32]byte
	Uploads []Header
}

const sumIDDomain = "fedcrypt/sum-id/v1"

// ID is the sum's identity: SHA-256 over the federation, round, nonce and
// every field of the reference, the uploads in the order given.
func (s *SumRef) ID(cfg federation.Hash, round uint64, nonce []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte(sumIDDomain))
	h.Write(cfg[:])
	var b []byte
	b = binary.BigEndian.AppendUint64(b, round)
	b = binary.BigEndian.AppendUint64(b, uint64(len(nonce)))
	b = append(b, nonce...)
	b = binary.BigEndian.AppendUint64(b, uint64(len(s.Kind)))
	b = append(b, s.Kind...)
	b = binary.BigEndian.AppendUint64(b, s.Length)
	b = binary.BigEndian.AppendUint64(b, s.Addends)
	b = append(b, s.Digest[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(len(s.Uploads)))
	h.Write(b)
	for i := range s.Uploads {
		d := s.Uploads[i].Digest()
		h.Write(d[:])
	}
	return [32]byte(h.Sum(nil))
}

// FingerprintSeed is the seed of the random functionals a sum is
// fingerprinted with: fixed by the sum's ID, so only after the aggregator
// has committed to the sum and to the uploads it names (Fiat–Shamir).
func FingerprintSeed(sumID [32]byte) [32]byte {
	return sha256.Sum256(append([]byte("fedcrypt/fingerprint-seed/v1"), sumID[:]...))
}

func (w *writer) header(h *Header) {
	w.str(h.Kind)
	w.str(h.From)
	w.b = append(w.b, h.Config[:]...)
	w.u64(h.Round)
	w.bytes(h.Nonce)
	w.b = append(w.b, h.BodyDigest[:]...)
	w.bytes(h.Sig)
}

func (r *reader) header() Header {
	var h Header
	h.Kind = r.str("upload kind")
	h.From = r.str("upload sender")
	r.at = "upload config hash"
	copy(h.Config[:], r.take(32))
	h.Round = r.u64("upload round")
	h.Nonce = r.bytes("upload nonce")
	r.at = "upload digest"
	copy(h.BodyDigest[:], r.take(32))
	h.Sig = r.bytes("upload signature")
	return h
}

// headerMin is the fewest bytes an encoded header takes.
const headerMin = 8*5 + 64

func (w *writer) sumRef(s *SumRef) {
	w.str(s.Kind)
	w.u64(s.Length)
	w.u64(s.Addends)
	w.b = append(w.b, s.Digest[:]...)
	w.u64(uint64(len(s.Uploads)))
	for i := range s.Uploads {
		w.header(&s.Uploads[i])
	}
}

func (r *reader) sumRef() SumRef {
	var s SumRef
	s.Kind = r.str("sum kind")
	s.Length = r.u64("sum length")
	s.Addends = r.u64("sum addends")
	r.at = "sum digest"
	copy(s.Digest[:], r.take(32))
	n := r.count("uploads", headerMin)
	for i := 0; i < n && r.err == nil; i++ {
		s.Uploads = append(s.Uploads, r.header())
	}
	return s
}

// Commit is the aggregator's commitment to one sum: the sum, the
// decryption set it will ask (exactly T key holders) and the range of the
// collective key's decryption budget the decryption takes, [First,
// First+Count) in ciphertext decryptions of key epoch Epoch. Contributors
// answer with a [Fingerprint], key holders with an [Endorsement].
type Commit struct {
	Epoch uint64
	Sum   SumRef
	Set   []string
	First uint64
	Count uint64
}

func (m Commit) Marshal() []byte {
	var w writer
	w.commit(&m)
	return w.b
}

func (w *writer) commit(m *Commit) {
	w.u64(m.Epoch)
	w.sumRef(&m.Sum)
	w.strs(m.Set)
	w.u64(m.First)
	w.u64(m.Count)
}

func (r *reader) commit() Commit {
	m := Commit{Epoch: r.u64("key epoch"), Sum: r.sumRef(), Set: r.strs("decryption set")}
	m.First, m.Count = r.u64("first decryption"), r.u64("decryptions")
	if r.err == nil && (m.Count == 0 || m.First+m.Count < m.First) {
		r.fail(fmt.Errorf("decryption range [%d, +%d) is empty or overflows", m.First, m.Count))
	}
	return m
}

func ParseCommit(data []byte) (Commit, error) {
	r := reader{b: data}
	m := r.commit()
	return m, r.done("sum commitment")
}

// Endorsement is what a key holder signs (an envelope of kind
// KindEndorse, bound to the round and nonce) when it agrees that the sum
// SumID is the one sum of this round it will help decrypt, by the
// decryption set Set, taking the budget range [First, First+Count) of key
// epoch Epoch.
type Endorsement struct {
	Epoch uint64
	SumID [32]byte
	Set   []string
	First uint64
	Count uint64
}

// EndorsementOf is the endorsement of c, whose sum has the ID id.
func EndorsementOf(c *Commit, id [32]byte) Endorsement {
	return Endorsement{Epoch: c.Epoch, SumID: id, Set: c.Set, First: c.First, Count: c.Count}
}

// Equal reports whether e and o endorse the same thing.
func (e Endorsement) Equal(o Endorsement) bool {
	return e.Epoch == o.Epoch && e.SumID == o.SumID && slices.Equal(e.Set, o.Set) && e.First == o.First && e.Count == o.Count
}

func (e Endorsement) Marshal() []byte {
	var w writer
	w.u64(e.Epoch)
	w.b = append(w.b, e.SumID[:]...)
	w.strs(e.Set)
	w.u64(e.First)
	w.u64(e.Count)
	return w.b
}

func ParseEndorsement(data []byte) (Endorsement, error) {
	r := reader{b: data}
	var e Endorsement
	e.Epoch = r.u64("key epoch")
	r.at = "sum id"
	copy(e.SumID[:], r.take(32))
	e.Set = r.strs("decryption set")
	e.First, e.Count = r.u64("first decryption"), r.u64("decryptions")
	return e, r.done("endorsement")
}

// Fingerprint is a contributor's fingerprint of its own upload at the seed
// of the sum SumID (package he), signed as an envelope of kind
// KindFingerprint bound to the round and nonce.
type Fingerprint struct {
	SumID [32]byte
	Value []byte
}

func (f Fingerprint) Marshal() []byte {
	var w writer
	w.b = append(w.b, f.SumID[:]...)
	w.bytes(f.Value)
	return w.b
}

func ParseFingerprint(data []byte) (Fingerprint, error) {
	r := reader{b: data}
	var f Fingerprint
	r.at = "sum id"
	copy(f.SumID[:], r.take(32))
	f.Value = r.bytes("fingerprint")
	return f, r.done("fingerprint")
}

// Setup starts a key ceremony for key epoch Epoch: each epoch has its own
// collective key, from fresh secrets, and its own decryption budget.
type Setup struct{ Epoch uint64 }

func (m Setup) Marshal() []byte { var w writer; w.u64(m.Epoch); return w.b }

func ParseSetup(data []byte) (Setup, error) {
	r := reader{b: data}
	m := Setup{Epoch: r.u64("key epoch")}
	if r.err == nil && m.Epoch == 0 {
		r.fail(fmt.Errorf("key epoch 0"))
	}
	return m, r.done("setup")
}

// Hello says a member is connected, and the key epoch its state is in (0
// before any key ceremony).
type Hello struct{ Epoch uint64 }

func (m Hello) Marshal() []byte { var w writer; w.u64(m.Epoch); return w.b }

func ParseHello(data []byte) (Hello, error) {
	r := reader{b: data}
	m := Hello{Epoch: r.u64("key epoch")}
	return m, r.done("hello")
}

// CRS is the common reference string of key epoch epoch of the federation
// cfg, from which every key holder expands the public polynomial a.
func CRS(cfg federation.Hash, epoch uint64) [32]byte {
	h := sha256.New()
	h.Write([]byte("fedcrypt/crs/v1"))
	h.Write(cfg[:])
	h.Write(binary.BigEndian.AppendUint64(nil, epoch))
	return [32]byte(h.Sum(nil))
}
