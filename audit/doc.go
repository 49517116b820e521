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
// (without its newline). Each entry type has its body type ([SetupBody],
// [RoundBody], … see [Body]), which the aggregator writes and
// [Entry.DecodeBody] reads, refusing keys the type does not declare. The first entry's prev is the federation's config
// hash, which ties the log to one federation. The head hash (the hash of the
// last line) is anchored in every sealed checkpoint, so a log cut short is
// detected by comparing with the anchor, and signed for the members at the
// end of every round and of the run (see Witnesses).
//
// Per-hospital facts inside a body (an upload's DP parameters and ε) are the
// hospital's own signed claims, copied verbatim, so the aggregator writing
// the log cannot forge them. Bodies never hold patient data, gradients,
// model updates or key material: digests and public parameters only.
//
// # Verification
//
// [VerifyRun] checks a run's log against the federation config the
// verifier holds (never keys or settings taken from the log): the chain and
// every signature; a setup entry first that matches the config; rounds in
// increasing order; exactly one end entry, last; and, given the head a
// sealed checkpoint anchored ([Anchor]), that the log reaches it and no
// round completed after it. A log cut off before its end entry fails
// without an anchor; one cut off and closed with a fresh end entry (which
// needs the aggregator's key) fails only against the anchor or a witness. A run that
// continues from its checkpoint logs a resume entry naming the round it
// resumes after (the last completed one, or the one before when it stopped
// between a round's entry and its checkpoint) and sets up again; a round
// redone after a resume is logged twice, and both count towards ε.
//
// Every upload's claim must verify under its hospital's key from the
// config and be bound to this federation, round and the round's nonce
// (recorded in the entry, and never reused by another completed round).
// A decoded copy of each claim sits beside it for readers; it must equal
// the claim, and only the signed claim is trusted. Each hospital's ε is
// recomputed from the DP-SGD it claimed in every round it contributed to,
// with the federation's accountant and its default settings
// ([AccountantSettings]), which every client accounts with. Round r of
// hospital h with sampling rate q, noise multiplier σ and s steps is the
// event (q, σ, s), and
//
//	ε_h(r) = Accountant(δ; events of h in rounds ≤ r)
//	fail if claimed ε_h(r) < ε_h(r)·(1 − 1e-9)   (under-reported)
//	fail if ε_h(r) or claimed ε_h(r) > cap·(1 + 1e-9)
//
// with the RDP accountant of Mironov, Talwar and Zhang, "Rényi Differential
// Privacy of the Sampled Gaussian Mechanism" (2019), converted to (ε, δ) by
// Balle et al., "Hypothesis Testing Interpretations and Renyi Differential
// Privacy" (2020), or the PLD accountant of Doroshenko et al., "Connect the
// Dots: Tighter Discrete Approximations of Privacy Loss Distributions"
// (2022). A claim may exceed the recomputation — a hospital's ledger also
// counts earlier runs and rounds that were abandoned — but never fall below
// it. Runs without DP or encryption fail unless the verifier accepts them
// ([Options.AllowUnprotected]); they are always reported.
//
// A failure is a *[Failure] naming the first entry at fault (1-based; one
// past the last when entries are missing at the end).
//
// # Witnesses
//
// The checkpoint's anchor is written by the aggregator, the party the log
// holds to account: it can rewrite both. So after each round entry
// (completed or abandoned) and after the end entry, the aggregator signs
// a [Head] with the key of its entries and sends it to the members:
//
//	"fedcrypt/audit-head/v1\n" ‖ config hash ‖ len(type) ‖ type ‖ round ‖ entries ‖ SHA-256 of the entry
//
// (big-endian 8-byte integers; round is the entry's, or for an end entry
// the last completed round). The label differs from an entry's and a
// protocol message's, so no signature made for one verifies as another
// ([SignHead], [VerifyHead]). Each hospital checks the signature and that
// the log moves forward, and keeps the heads sealed in its own state. Given
// them as [Options.Witnesses], [VerifyRun] checks that each is signed by the
// aggregator for this federation, that the log holds an entry with that
// head at that position, of the type and round signed, and that no two
// witnesses hold different heads for one entry, or one completed round at
// two entries. The hash chain fixes every entry up to a witnessed head, so
// a log rewritten, reordered or cut short before the latest witness fails,
// naming the hospital, the round and the entry, even when the aggregator
// signed it again from end to end and rewrote its checkpoint to match.
// What comes after the latest head any hospital holds is covered by the
// anchor only. An aggregator that shows different hospitals different logs
// is caught only when their witnesses are compared: an auditor should ask
// every hospital for its witness.
//
// # Report
//
// A [Report] turns a verification into a page for a compliance officer:
// [Report.WriteHTML] writes one self-contained HTML page (inline CSS, plots
// drawn with gonum.org/v1/plot as inline SVG), [Report.WriteMarkdown]
// Markdown with the plots as SVG files. It shows any unprotected setting
// first, the verdict, each hospital's guarantee in words, ε over rounds
// against the cap, accuracy and AUC over rounds ([ReadMetrics]),
// participation per round, the CKKS preset and its security level, T and
// min-contributors, the commitments the log holds, and, in one line, which
// hospitals' witnesses were checked.
//
// A [Log] is safe for concurrent use; [VerifyRun] is a pure function of
// its inputs.
package audit
