// Package pki is a federation's public-key infrastructure for mutual TLS
// when every party makes its own keys: certificate signing requests
// (PKCS #10) that a member writes beside its public keys, the checks the
// consortium CA runs before it signs one, the CA's key sealed at rest, and
// the checks a site runs on the certificate it was issued.
//
// # Names
//
// The certificates are the ones [grpcnet] verifies: a member's names its
// id as its common name and as its single URI SAN fedcrypt://member/<id>
// ([grpcnet.MemberID]) and authenticates TLS clients (and TLS servers
// when it also names hosts); the aggregator's names its hosts as DNS and
// IP SANs and authenticates TLS servers. A request is signed only if it
// asks for exactly such a certificate: its signature verifies, it names a
// party the project lists, its DNS and IP SANs are among the hosts the
// project allows that party, and it carries no other SAN (e-mail
// addresses, other URIs). When the project pins a party's request or
// certificate, the request must carry the same public key.
//
// # Secrets
//
// Private keys are ECDSA P-256 from crypto/rand. They are written only
// age-encrypted to their owner ([WriteKey], [ReadKey]), and never appear in
// errors. The CA's key is sealed the same way, to its operator's identity.
//
// Functions of this package are safe for concurrent use.
package pki
