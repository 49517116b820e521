// Package grpcnet is the networked transport of a federation: the
// aggregator's [transport.Hub] as a gRPC [Server], and each member's
// [transport.Conn] from [Dial], over mutual TLS 1.3.
//
// # Service
//
// The service (proto/fedcrypt/v1/federation.proto) has one method,
// Connect: a member's session as a bidirectional stream. Everything the
// protocol exchanges is already an envelope that package protocol signed
// and encoded, so the service moves bytes: each envelope is cut into frames
// of at most [ChunkBytes], the first declaring the total size, the last
// marked. A
// receiver refuses an envelope above its limit from the declared size,
// before buffering it, and refuses frames that do not add up to it.
//
// # Identity and threat model
//
// The federation's CA ([CA], [NewCA]) issues the aggregator a server
// certificate and every member a client certificate that names the member
// twice, as its common name and as the URI SAN fedcrypt://member/<id>
// ([MemberID]). The server requires a client certificate and verifies it
// itself against the federation CA, so that each refusal is classified,
// logged and counted with the peer's address (Refused* reasons): no
// certificate, a certificate from another CA, outside its validity period,
// not for client authentication, naming no member of the federation, naming
// a member removed from it, or carrying another key than the one the config
// pins for the member ([ServerConfig].Pins, [KeyPin]) never completes the
// handshake. (The certificate is requested rather than
// required at the TLS layer, so that a client without one reaches that
// check instead of failing unseen.) A member also
// states its id when it connects; a valid certificate claiming another
// member is refused. The hub tags every message with the member the
// certificate names ([transport.Incoming].From); the aggregator refuses an
// envelope signed by anyone else. TLS protects the channel; the envelopes'
// signatures, bound to the config hash, round and nonce, are what the
// audit trail relies on, so replayed or reordered messages are rejected
// above this package whatever the channel.
//
// # Invariants
//
//   - A member has at most one session: a new connection replaces the old
//     one without a Left event, so the aggregator's view of who is online
//     follows the member, not its sockets.
//   - Every wait has a bound: TLS handshakes (20 s), writing a message to a
//     member ([ServerConfig].SendTimeout, after which the member is
//     disconnected), keep-alive pings on idle connections, and the caller's
//     context on Send, Recv and Dial.
//   - A member's connection reads whatever the aggregator sends as it
//     arrives, whether or not the member is calling Recv: the aggregator's
//     sends never wait on a member's protocol logic, so a member busy
//     sending (its Shamir shares to every other key holder) and the
//     aggregator relaying to it cannot block each other.
//   - [Dial] retries an unreachable aggregator with exponential backoff and
//     jitter, but not a refusal.
//   - [Server.Shutdown] marks the health service (grpc.health.v1) not
//     serving, ends every session, and stops gracefully within its context.
//   - Messages and keys never reach logs or errors: they name members,
//     sizes and certificate problems only.
package grpcnet
