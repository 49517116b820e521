// Package vault keeps fedcrypt's files encrypted at rest with age
// (age-encryption.org/v1, filippo.io/age): a member's keys, data sets,
// sealed files (checkpoints, privacy ledgers, threshold key shares), and
// secrets relayed through a party that must not read them. It is the only
// package of fedcrypt that imports age; age's types never appear in its API.
//
// # Keys
//
// A member's secret key is a standard age identity file ([Identity]): X25519
// "AGE-SECRET-KEY-1…" lines, or post-quantum hybrid "AGE-SECRET-KEY-PQ-1…"
// lines, as age-keygen writes them, so the age tool decrypts with it
// ("age -d -i key.txt"). It may be encrypted with an age passphrase (scrypt),
// as "age -p" would ([ReadIdentityFile], [WriteIdentityFile]). Its public
// half is an age [Recipient] ("age1…" or "age1pq1…").
//
// A member also signs what it writes. Its Ed25519 signing key is derived from
// the first key of its identity file, so the identity file stays a standard
// age file with nothing else in it and there is no second secret to lose:
//
//	seed = HKDF-SHA256(IKM  = the key's Bech32 encoding "AGE-SECRET-KEY-1…",
//	                   salt = empty,
//	                   info = "fedcrypt.org/vault/v1/ed25519-signing-key",
//	                   L    = 32)                                  (RFC 5869)
//	signing key = Ed25519 private key with seed `seed`             (RFC 8032 §5.1.5)
//
// The public signing key is written "ed25519:" + base64 ([FormatSigningKey]).
// Signatures are Ed25519ctx (RFC 8032 §5.1) with a context string per
// purpose ([Sign], [Verify]), so a signature made for one purpose never
// verifies for another.
//
// # Recipients
//
// A file may be encrypted to several X25519 recipients (a hospital and its
// auditor), to several post-quantum recipients, or to one passphrase. As in
// age, a passphrase is never mixed with other recipients, and post-quantum
// and classical recipients are never mixed (the file would be only as strong
// as its classical recipient); [Encrypt] refuses both with an error that says
// so.
//
// # Streaming
//
// [Encrypt] and [Decrypt] stream; [Open] reads a data file, decrypting it if
// it is an age file, so the plaintext of a data set lives only in memory
// buffers. age authenticates the header and then every 64 KiB chunk of the
// payload, and marks the last chunk, so a modified or truncated file fails
// when the damaged chunk is read; a reader of a stream must discard what it
// read if a later Read fails. [File] writes an age file atomically.
//
// # Sealed files
//
// A sealed file ([Seal], [Unseal], [SealBytes], [UnsealBytes]) is an
// ordinary age file whose plaintext is this frame:
//
//	"fedcrypt-sealed-v1\n"   19 bytes
//	kind length              1 byte, 1..255
//	kind                     ("checkpoint", "ledger", "share", …)
//	writer public key        32 bytes, Ed25519
//	payload length           8 bytes, big-endian
//	payload
//	signature                64 bytes: Ed25519ctx, context "fedcrypt.org/vault/v1/sealed",
//	                         over every preceding byte of the frame
//
// so "age -d -i key.txt file.age" decrypts it and the payload sits at a
// documented offset. Reading checks the kind, that the writer's key is the
// one expected, and the signature, before returning the payload. Writing is
// atomic: temporary file in the same directory, fsync, rename, fsync of the
// directory; a crash leaves the previous file intact, and may leave a
// hidden ".NAME.tmp-*" file beside it: an age file holding the unfinished
// version, safe to delete.
//
// # Threat model (encryption at rest)
//
// What age gives: confidentiality of a file's contents against anyone without
// one of its recipients' identities (X25519 or ML-KEM-768+X25519 key
// agreement, ChaCha20-Poly1305 payload in 64 KiB chunks, HMAC-SHA256 header
// MAC), and integrity against modification, truncation and reordering of
// chunks. age does not say who wrote a file: anyone who knows a recipient
// can encrypt to it.
//
// What the signature adds: a sealed file is accepted only if it was written
// by the expected member's signing key and is of the expected kind, so one
// recipient cannot forge another member's checkpoint, ledger or key share,
// and a ledger cannot be passed off as a checkpoint.
//
// What is not covered: the size of a file and its recipients' count and types
// are visible (X25519 and hybrid stanzas do not reveal which key they are
// for); an attacker with write access can delete a file or replace it with an
// older version signed by the same writer (rollback: the audit log's hash
// chain detects this, not vault); a compromised identity file reveals every
// file encrypted to it and lets its holder sign as the member; a
// passphrase-protected identity file is as strong as its passphrase against
// offline guessing (scrypt, work factor 2^18 by default); secrets in process
// memory, swap and core dumps are out of scope. Keys, passphrases and
// plaintext never appear in this package's errors.
//
// Invariants: plaintext is never written to disk by this package, not even
// to a temporary file; every file it writes is an age file, except an
// identity file written without a passphrase (mode 0600, as age-keygen
// writes it); errors name the file and the cause in one line.
package vault
