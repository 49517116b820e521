// Package sim runs a whole federation on one machine: it splits a data set
// into a held-out test set and N hospitals' training rows, generates every
// party's keys, writes the federation's config, and runs the aggregator and
// the hospitals' clients — the same [client] and [aggregator] code a
// deployment runs — over the in-memory transport, evaluating the global
// model on the held-out rows after every round.
//
// # Reproducibility
//
// With a seed, all randomness of the protocol — the split, the initial
// model, the validation hold-out, Poisson sampling, DP noise (DP-SGD's, the
// statistics release's and the private evaluation's, all by dp's fast
// sampler), CKKS key material and encryption noise, round nonces, dropouts —
// comes from ChaCha20 streams keyed by SHA-256(seed ‖ party ‖ purpose), so
// a run repeats; such a run is not fit for real data and says so. Google's
// sampler (--noise google) draws only from the system, so a seeded run
// refuses it. Without a seed everything comes from crypto/rand, and the
// evaluation release from Google's sampler. The age identities of the
// simulated parties, and the age encryption of sealed files, always come
// from crypto/rand: the identities are in the federation's config, so its
// hash differs from run to run, and with it the compression maps the hash
// seeds (a compressed run's updates differ); without compression the result
// and rounds files repeat but for durations, the output directory and the
// config's hash.
//
// # What the simulation knows that a federation does not
//
// The simulation holds every row, so it evaluates the global model on a
// global held-out test split and reports the training loss on the pooled
// training rows — research figures no party of a real federation could
// compute. Features of the test rows are scaled with statistics fitted on
// the pooled training rows; each simulated hospital scales its own rows
// with its own statistics, as in a deployment.
//
// # Resuming
//
// A run with an output directory writes a line of [FileRounds] as each
// round ends, so a killed run leaves its metrics on disk. [Resume]
// rebuilds the rounds before the checkpoint from the audit log — each
// round's contributors, bytes and signed claims of ε — and takes their
// metrics and durations from what the rounds file kept of them; what
// neither holds stays unknown: an empty cell in the file, absent from the
// JSON, never a zero. A resumed run's result describes the whole run.
//
// # Privacy reported
//
// [Result.Epsilon] is the largest ε of any hospital's ledger at the end,
// the private evaluation's release included: what `fedcrypt audit verify`
// recomputes from the hospitals' signed claims.
package sim
