// Package transport carries protocol messages between the aggregator and
// the members of a federation.
//
// Messages are signed [federation.Envelope]s, serialized to bytes before they
// enter a transport and parsed after they leave it, whatever the transport:
// the in-memory [Network] used by one-process simulations moves the same
// bytes the gRPC transport does, so a simulation exercises the exact
// encoding, signature and validation paths of a deployment.
//
// The aggregator sees a [Hub]: every member's messages in one stream, each
// tagged with the member the transport authenticated (the in-memory network
// by construction, gRPC by the client's TLS certificate), plus events when a
// member connects or goes away. A member sees a [Conn] to the aggregator.
// The aggregator checks that an envelope's sender is the member the
// transport authenticated.
//
// The message bodies of the protocol (round announcements, uploads,
// decryption requests and shares) and their binary encodings are defined
// here too (messages.go); every decoder checks lengths against the bytes
// present and is fuzzed.
package transport
