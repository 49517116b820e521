// Package federation holds what every party of a federation agrees on before
// the first round: the [Config] (members and their public keys, roles, the
// threshold T, the minimum number of contributors per round, the CKKS preset,
// the model, the DP settings and budget caps, the data schema) and its hash.
// Package protocol signs and verifies the messages of a run against the
// signing keys a config registers.
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
// Values of this package are immutable once validated and safe for
// concurrent use.
package federation
