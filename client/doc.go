// Package client is one hospital's node in a federation.
//
// A [Client] holds the hospital's rows, its identity (age X25519 key and
// ed25519 signing key) and, when it is a key holder, its share of the
// federation's decryption key. It meets the aggregator only through a
// [transport.Conn] and only through signed messages:
//
//   - Setup: it sends its collective-public-key share, recomputes the
//     collective key from every key holder's signed share, deals Shamir
//     shares of its secret to the other key holders (each age-encrypted to
//     its recipient, so the relaying aggregator cannot read them) and
//     combines the shares it receives into its threshold share.
//   - Each round: it asks its ledger whether this round's DP-SGD steps fit
//     its ε cap and declines if not; it records the spend durably (sealed)
//     before anything derived from its data leaves; it trains locally with
//     DP-SGD, clips the model update to the federation's bound, scales it by
//     its public weight, encrypts it under the collective key, signs a claim
//     (its DP parameters and ε, the payload digest) and uploads.
//   - As a key holder it computes a noise-flooded decryption share of a
//     round's sum only for a decryption set signed by the aggregator that
//     names exactly T key holders, itself included, and carries at least
//     min-contributors uploads signed by distinct contributors for this
//     round and nonce.
//   - At the end of each round and of the run it checks the aggregator's
//     signed head of the audit log ([audit.Head]): the signature, under
//     the key the federation config registers, and that the log moves
//     forward (more entries than the last head it holds, no round again
//     once it completed, no earlier round). It keeps every head, sealed to
//     itself and the federation's auditors beside its ledger, one file per
//     federation; [LoadWitness] opens them for [audit.VerifyRun], which
//     checks the aggregator's log against what the hospital saw. A head
//     that is missing, forged or moves backwards is a protocol error: the
//     hospital leaves the run rather than take part in a rewritten log.
//     The heads survive a restart, so a state directory holds one log per
//     federation: a fresh log of the same federation is refused. Every
//     round announcement repeats the head of the last round that ended;
//     after taking part in a round (an upload, a decryption share, an
//     evaluation release), the hospital takes part in a later one only
//     holding a head that covers it, so an aggregator cannot withhold heads
//     and keep the hospital contributing.
//
// Data preparation is local: imputation and normalization statistics are
// fitted on the hospital's own training rows and never leave it, so they
// cost no privacy budget.
//
// A Client is not safe for concurrent use; [Client.Run] is its only
// goroutine.
package client
