// Package project reads a federation's project file: the YAML document a
// coordinator writes from what each member handed over (its age recipient,
// its signing key, its certificate request), with the federation's
// settings, and builds the federation's [federation.Config] from it. The
// coordinator never holds a member's secret: a project file holds public
// keys only.
//
// # Format
//
//	version: 1
//	name: breast-cancer-2027
//	aggregator:
//	  recipient: age1…
//	  signing_key: ed25519:…
//	  hosts: [agg.example.org]        # names its server certificate may carry
//	  csr: aggregator/tls.csr         # optional: pins the request ca sign accepts
//	members:
//	  - id: st-mary
//	    roles: [contributor, key_holder]
//	    recipient: age1…
//	    signing_key: ed25519:…
//	    csr: st-mary/tls.csr          # or cert: a certificate already issued
//	    hosts: []                     # DNS/IP names its certificate may carry
//	threshold: 2
//	min_contributors: 3               # default T+1, at most the contributors
//	he: {preset: precise, update_bound: 4}
//	model: logreg
//	dp: {epsilon: 1, delta: 1e-5, clip_norm: 1, sample_rate: 0.2}
//	training: {rounds: 5, local_steps: 20, lr: 0.1}
//	data:
//	  label: diagnosis
//	  classes: [B, M]
//	  features: [radius_mean, …]
//
// A federation on a free-text column declares it under data, with a text
// model (softmax, or embag:DIM[:H1,...]); the featurization's settings are
// optional ([Text], [Defaults]), and features may then be empty:
//
//	model: softmax
//	data:
//	  label: condition
//	  classes: [cardiovascular, digestive, general, neoplasms, nervous]
//	  features: []
//	  text: {column: abstract, buckets: 1024, ngrams: 1, idf: true, max_terms_per_doc: 32}
//
// Paths are relative to the project file. Decoding is strict: an unknown or
// repeated field is an error naming it and its line. Omitted settings take
// the defaults of [Defaults]. [Load] validates everything and returns
// one-line errors naming the file, the line, the member and the field.
//
// # Pins and versions
//
// A member's csr (or cert) pins its TLS key in the config
// ([federation.Member].TLSKey, the SHA-256 of the key): the aggregator
// accepts no other certificate for the member, even one the consortium CA
// signed. Adding or removing a member, or renewing a certificate with a new
// key, is a new version of the federation: the coordinator edits the
// project file and [File.BuildNext] builds the config that follows the
// previous one, with a lineage naming it and the members added and removed.
package project
