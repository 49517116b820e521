// Package audit keeps a federation run's tamper-evident record: an
// append-only JSON Lines log in which every entry carries the hash of the
// entry before it and its writer's ed25519 signature.
//
// # Entry format
//
// One JSON object per line:
//
//	{"seq":N,"time":"RFC 3339","type":"setup|round|resume|end|…","writer":"party id",
//	 "prev":"hex SHA-256 of the previous line","body":{…},"sig":"base64 ed25519"}
//
// The signature covers the line as it would be with "sig" empty:
//
//	"fedcrypt/audit/v1\n" ‖ JSON(entry with sig = "")
//
// and the next entry's prev is the SHA-256 of the complete previous line
// (without its newline). The first entry's prev is the federation's config
// hash, which ties the log to one federation. The head hash (the hash of the
// last line) is anchored in every sealed checkpoint and ledger, so a log cut
// short is detected by comparing with the anchor.
//
// Per-hospital facts inside a body (an upload's DP parameters and ε) are the
// hospital's own signed claims, copied verbatim, so the aggregator writing
// the log cannot forge them. Bodies never hold patient data, gradients,
// model updates or key material: digests and public parameters only.
//
// A [Log] is safe for concurrent use.
package audit
