// Package federation holds what every party of a federation agrees on before
// the first round: the [Config] (members and their public keys, roles, the
// threshold T, the minimum number of contributors per round, the CKKS preset,
// the model, the DP settings and budget caps, the data schema), its hash, and
// the signing and verification of every protocol message.
//
// # The config hash
//
// The hash of a config is SHA-256 over its canonical encoding (the JSON of
// [Config] with fields in declaration order and no insignificant white
// space, which [Config.Canonical] produces). It is the common reference
// string of collective key generation and is bound into every signed
// message, so a message from one federation (or one version of its config)
// is never accepted by another.
//
// # Signed messages
//
// Every message between parties travels as an [Envelope]: the kind, the
// sender's member id, the config hash, the round, the round's nonce and the
// SHA-256 digest of the body, signed with the sender's ed25519 key over the
// domain-separated encoding
//
//	"fedcrypt/envelope/v1" ‖ len‖kind ‖ len‖from ‖ hash ‖ round ‖ len‖nonce ‖ SHA-256(body)
//
// The receiver verifies the signature against the public key the config
// lists for the claimed sender — never against a key carried by the message —
// and checks hash, round and nonce against its own state, so a replayed,
// reordered or cross-federation message is rejected.
//
// Values of this package are immutable once validated and safe for
// concurrent use.
package federation
