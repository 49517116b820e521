package bench

import (
	"crypto/ed25519"
	"fmt"

	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/he"
	"github.com/fedcrypt/fedcrypt/protocol"
)

// What one key holder of the decryption set downloads and checks each round
// under the sum check (issue 14; package client): the aggregator's
// commitment to the sum (an envelope carrying one signed upload header per
// contributor), then the decryption request (the commitment again, every
// contributor's signed fingerprint envelope, q signed endorsements and the
// sum). Key holders outside the set download the commitment only.

// KeyHolderBytes is a key holder's download per round, envelopes as
// encoded on the wire (the transport's own framing excluded).
type KeyHolderBytes struct {
	Hospitals  int `json:"hospitals"` // contributors named in the sum
	KeyHolders int `json:"key_holders"`
	Threshold  int `json:"threshold"`
	// Quorum is federation.Config.EndorsementQuorum for the shape.
	Quorum      int `json:"endorsement_quorum"`
	Params      int `json:"params"`
	Ciphertexts int `json:"ciphertexts"`

	SumBytes     int `json:"sum_bytes"`     // the encrypted sum itself
	CommitBytes  int `json:"commit_bytes"`  // the commitment envelope
	RequestBytes int `json:"request_bytes"` // the decryption request envelope, the sum included
	// DownloadBytes is CommitBytes + RequestBytes.
	DownloadBytes int `json:"download_bytes"`
	// SmallBytesPerHospital is what the download holds besides the sum,
	// over the hospitals: two headers and one fingerprint envelope per
	// contributor, and the endorsements and envelope headers spread over
	// them.
	SmallBytesPerHospital float64 `json:"small_bytes_per_hospital"`
	// DownloadOverSum is DownloadBytes ÷ SumBytes.
	DownloadOverSum float64 `json:"download_over_sum"`
	// WithinBound reports DownloadBytes ≤ 2·SumBytes + SmallItemLimit·
	// (Hospitals + Quorum): the bound, two sums' worth plus
	// O(hospitals) small items of at most SmallItemLimit bytes each.
	WithinBound bool `json:"within_bound"`
}

// SmallItemLimit is the size a small item of a key holder's download (a
// signed header, fingerprint envelope or endorsement) may reach in
// [KeyHolderBytes.WithinBound].
const SmallItemLimit = 1024

// Names and sizes of the messages whose bytes are counted: member ids of
// 13 characters, the aggregator's 16-byte round nonce, round 1.
const (
	aggregatorID = "aggregator"
	nonceLen     = 16
	// fingerprintHeaderLen is he's encoding of a Fingerprint before its
	// residues: the 8-byte common header, then checks, primes and a
	// reserved u16 (he.Fingerprint.MarshalBinary).
	fingerprintHeaderLen = 12
)

func memberID(i int) string { return fmt.Sprintf("hospital-%04d", i+1) }

// fingerprintLen is the encoded size of one he.Fingerprint: FingerprintChecks
// residues per prime, 8 bytes each, after the header.
func fingerprintLen(p *he.Params) int {
	return fingerprintHeaderLen + he.FingerprintChecks*len(p.Literal().LogQ)*8
}

// sumCheckShape is the quorum and the decryption set of K key holders (the
// first K members) at threshold T, as federation.Config defines them.
func sumCheckShape(hospitals, keyHolders, threshold int) (quorum int, set []string) {
	fed := federation.Config{Threshold: threshold}
	for i := range hospitals {
		fed.Members = append(fed.Members, federation.Member{Party: federation.Party{ID: memberID(i)}, Contributor: true, KeyHolder: i < keyHolders})
	}
	return fed.EndorsementQuorum(), fed.KeyHolders()[:threshold]
}

// envelopeLen is the wire size of a signed envelope with a body of n bytes.
func envelopeLen(kind, from string, body []byte) int {
	e := protocol.Envelope{Kind: kind, From: from, Round: 1, Nonce: make([]byte, nonceLen), Body: body, Sig: make([]byte, ed25519.SignatureSize)}
	b, _ := e.MarshalBinary()
	return len(b)
}

// KeyHolderDownload is what a key holder of the decryption set downloads
// per round for a sum of `hospitals` uploads of `params` values, with K key
// holders and threshold T: the real encoders applied to messages of the
// real sizes (signatures, digests and residues zero; the sum's bytes
// counted, not allocated).
func KeyHolderDownload(p *he.Params, params, hospitals, keyHolders, threshold int) KeyHolderBytes {
	q, set := sumCheckShape(hospitals, keyHolders, threshold)
	r := KeyHolderBytes{Hospitals: hospitals, KeyHolders: keyHolders, Threshold: threshold, Quorum: q,
		Params: params, Ciphertexts: p.Ciphertexts(params), SumBytes: p.UpdateSize(params)}
	cm := protocol.Commit{Sum: protocol.SumRef{Kind: protocol.KindUpload, Length: uint64(params), Addends: uint64(hospitals)},
		Set: set, Count: uint64(r.Ciphertexts)}
	for i := range hospitals {
		cm.Sum.Uploads = append(cm.Sum.Uploads, protocol.Header{Kind: protocol.KindUpload, From: memberID(i), Round: 1,
			Nonce: make([]byte, nonceLen), Sig: make([]byte, ed25519.SignatureSize)})
	}
	req := protocol.DecryptRequest{Attempt: 1, Commit: cm}
	for i := range hospitals {
		body := protocol.Fingerprint{Value: make([]byte, fingerprintLen(p))}.Marshal()
		req.Fingerprints = append(req.Fingerprints, make([]byte, envelopeLen(protocol.KindFingerprint, memberID(i), body)))
	}
	for i := range q {
		body := protocol.EndorsementOf(&cm, [32]byte{}).Marshal()
		req.Endorsements = append(req.Endorsements, make([]byte, envelopeLen(protocol.KindEndorse, memberID(i), body)))
	}
	r.CommitBytes = envelopeLen(protocol.KindCommit, aggregatorID, cm.Marshal())
	// The request's sum is its last field, after a fixed-size length.
	r.RequestBytes = envelopeLen(protocol.KindDecrypt, aggregatorID, req.Marshal()) + r.SumBytes
	r.fill()
	return r
}

// fill derives the totals and the bound from the message sizes.
func (r *KeyHolderBytes) fill() {
	r.DownloadBytes = r.CommitBytes + r.RequestBytes
	r.SmallBytesPerHospital = float64(r.DownloadBytes-r.SumBytes) / float64(r.Hospitals)
	r.DownloadOverSum = float64(r.DownloadBytes) / float64(r.SumBytes)
	r.WithinBound = r.DownloadBytes <= 2*r.SumBytes+SmallItemLimit*(r.Hospitals+r.Quorum)
}
