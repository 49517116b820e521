// Package protocol is fedcrypt's wire protocol: what the aggregator and the
// members of a federation say to each other, and the bytes they say it in.
// It owns the signed [Envelope] every message travels in, every message
// kind and its body, the binary encoding of them all, and the payload of an
// update in runs without encryption ([EncodePlainUpdate]).
//
// A transport (package transport: in memory, or gRPC with mutual TLS) only
// moves the bytes this package produces; it never looks inside them. The
// protocol is therefore the same whatever carries it, and a simulation
// exercises the encoding, signature and validation paths of a deployment.
//
// # Messages
//
// A message is an [Envelope]: its kind (what the body is, such as
// [KindUpload]), the sender's party id, the federation's config hash, the
// round (0 during setup and the statistics phase), the round's nonce, the
// body, and the sender's ed25519 signature. The signature covers the
// domain-separated encoding
//
//	"fedcrypt/envelope/v2" ‖ len‖kind ‖ len‖from ‖ hash ‖ round ‖ len‖nonce ‖ SHA-256(body)
//
// so the body is signed through its digest, and a [Header] (an envelope
// without its body) can be checked without the body: a decryption request
// carries the headers of the uploads it sums. A receiver checks the
// signature with [Envelope.Verify] against the key the federation's config
// registers for the sender, never a key the message carries, and checks
// round and nonce against its own state, so a replayed, reordered or
// cross-federation message is refused. [Header.Digest] names a signed
// message: audit entries and decryption sets name uploads by it.
//
// Each body has a Go type with a Marshal method and a Parse function
// ([RoundStart] and [ParseRoundStart], [Upload] and [ParseUpload], …); the
// constants Kind… list every kind, with who sends it to whom.
//
// # How one update flows
//
//  1. The aggregator sends every member a [KindRound] envelope for round r
//     with a fresh nonce; its body, a [RoundStart], holds the global model.
//  2. A contributor trains on it, encrypts its clipped, weighted update
//     under the collective key (package he; [EncodePlainUpdate] in runs
//     without encryption) and states what it did in a [Claim]: its weight,
//     its DP parameters and ε, the payload's SHA-256. It signs the claim as
//     an envelope of [KindClaim] bound to round r and the nonce, puts the
//     payload and the signed claim in an [Upload] ([UploadFrame] builds it
//     without copying the payload) and signs that as a [KindUpload]
//     envelope.
//  3. The aggregator verifies both signatures, that the claim names this
//     payload, round and nonce, and adds the payload to its running sum.
//  4. It commits to the sum ([Commit], a [SumRef] naming every upload by
//     its signed [Header]). Each contributor answers with a signed
//     [Fingerprint] of its own upload, each key holder with an
//     [Endorsement]; a [DecryptRequest] carrying all of them asks the
//     decryption set for its [Share]s.
//  5. The aggregator decrypts the sum, applies it to the model and sends a
//     [Result] with the signed head of its audit log ([AuditHead]); the
//     audit log keeps each upload's signed claim verbatim.
//
// The statistics phase ([KindStats]) and the private evaluation
// ([KindEval]) follow the same path with their own upload kinds; the key
// ceremony ([KindSetup] to [KindReady]) comes before any of them.
//
// # Encoding
//
// The envelope, its signing input, every body and the plaintext update use
// one encoding:
// integers as 8-byte big-endian unsigned values, floats as the 8-byte
// big-endian bits of an IEEE 754 float64, booleans as one byte 0 or 1,
// fixed-size digests as their bytes, and byte strings, strings and lists
// after their 8-byte big-endian length. Decoders check
// every length against the bytes present before allocating, refuse
// trailing bytes and are canonical: an accepted message encodes again to
// the bytes it was read from. Each is fuzzed.
//
// # Versions
//
// [ProtocolVersion] is the version of the whole wire format: the
// envelope's and every body's. It is the last byte of the envelope's magic
// ("FCE2") and of its signing domain, so a message of another version is
// refused by name before it is read ([ParseEnvelope]), and a signature
// never carries over from one version to another. testdata/wire.golden
// keeps the bytes of every message kind; a change to any of them must come
// with a new version.
//
// Signed messages outlive the run that sent them: an audit log keeps every
// hospital's claims, a checkpoint the latest claim and endorsement of each
// member, a member its acceptance of a federation version. [ParseStored]
// reads those of this version and of version 1, whose envelope framed its
// fields with 4-byte lengths (testdata/wire-v1.golden keeps its bytes; its
// bodies are this version's), and names any version it cannot read.
// Version 1's plaintext update, little-endian float64s without a count,
// was never kept.
//
// Values of this package are plain data: safe for concurrent reads.
package protocol
