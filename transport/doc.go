// Package transport moves a federation's messages between the aggregator
// and its members as opaque bytes: each message is an envelope package
// protocol has signed and encoded, and a transport neither reads nor
// changes it.
//
// The in-memory [Network] of one-process simulations moves the same bytes
// the gRPC transport (package grpcnet) does, so a simulation exercises the
// exact encoding, signature and validation paths of a deployment.
//
// The aggregator sees a [Hub]: every member's messages in one stream, each
// tagged with the member the transport authenticated (the in-memory network
// by construction, gRPC by the client's TLS certificate), plus events when a
// member connects or goes away. A member sees a [Conn] to the aggregator.
// The aggregator checks that an envelope's sender is the member the
// transport authenticated. A deployment that carries messages another way
// implements these two interfaces.
package transport
