// Package preflight checks, at a member's site before a run, everything
// "fedcrypt client join" will rely on, and says for each check what to fix:
// the federation's config and the member's place in it, that the member's
// own keys are the ones the config lists, its TLS key and certificate
// (issued by the federation CA for client authentication, naming the
// member, within its validity), its data set (it decrypts with the
// member's identity and matches the schema: columns, label, classes), its
// ledger directory (writable), and the aggregator (its name resolves, a
// mutual TLS handshake succeeds with the member's certificate, and its
// health service answers), each within a timeout.
//
// Nothing is sent to the aggregator beyond a TLS handshake and a health
// check: no session is opened, so a member already running is not
// disturbed. Checks never print keys or rows: they name files, members,
// columns and certificate fields.
package preflight
