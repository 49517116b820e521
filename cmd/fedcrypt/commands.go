package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/fedcrypt/fedcrypt/version"
)

// command is one command of fedcrypt, a row of [commandTable].
type command struct {
	name     string   // "sim", or a group and its subcommand: "data split"
	usage    string   // the synopsis line
	short    string   // one line for the command list
	long     string   // the help text
	examples []string // command lines shown in --help, each runnable as it stands
	// run registers the command's flags on fs, parses args with
	// parseFlags before anything else, and runs the command. --help makes
	// parseFlags return flag.ErrHelp, after which the caller prints the
	// help with the flags run registered.
	run func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error
}

// exec runs c with args on a fresh flag set, and prints its help when asked.
func (c *command) exec(ctx context.Context, e *env, args []string) error {
	fs := c.flagSet()
	err := c.run(ctx, e, fs, args)
	if errors.Is(err, flag.ErrHelp) {
		c.printHelp(e.stderr, fs)
	}
	return err
}

func (c *command) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {} // parseFlags reports errors in one line; exec prints the help
	return fs
}

// flags returns c's flags, registered by running it with --help.
func (c *command) flags() *flag.FlagSet {
	fs := c.flagSet()
	discard := &env{stdout: io.Discard, stderr: io.Discard, stdin: strings.NewReader("")}
	if err := c.run(context.Background(), discard, fs, []string{"--help"}); !errors.Is(err, flag.ErrHelp) {
		panic("fedcrypt: " + c.name + " --help did not stop at its flags")
	}
	return fs
}

func (c *command) printHelp(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: %s\n\n%s\n", c.usage, strings.TrimSpace(c.long))
	fmt.Fprintln(w, "\nexamples:")
	for _, ex := range c.examples {
		fmt.Fprintf(w, "  %s\n", ex)
	}
	var n int
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprintln(w, "\nflags:")
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
}

// commandTable lists every command of fedcrypt, in the order of its usage.
func commandTable() []*command {
	return []*command{
		{
			name:  "sim",
			usage: "fedcrypt sim [flags]",
			short: "simulate a whole federation on this machine (the main job)",
			long: `
Simulates a federation of hospitals on this machine: the data set is split
into held-out test rows and N hospitals' training rows; every hospital trains
locally with DP-SGD under its own ε cap, encrypts its update under the
federation's multiparty CKKS key, and exactly T hospitals decrypt only the
sum. With no flags: the embedded breast-cancer set (wdbc), 3 hospitals,
threshold 2, ε = 1 and δ = 1e-5 per hospital, CKKS on, in one process.

With --text COLUMN the hospitals train a text model on that free-text column
of --data: its words (Unicode tokens, lower case, accents folded) hashed
into --buckets columns, weighted by sublinear tf times IDF from the document
frequencies each hospital releases with DP in the statistics phase, each
document scaled to norm 1; the numeric columns, if any, follow. The flags
not given then take the settings chosen for text (sim.TextDefaults):
softmax regression (--model embag:DIM[:H1,...] is an embedding bag),
10 rounds of 10 local steps of Adam, --clip 0.5, --update-bound 100, FedAvg
at server lr 1; with DP 1,024 buckets, every row in every step (sample rate
1) at lr 0.1; with --no-dp 2^18 buckets, batches of half the rows at lr 0.03.
A flag given always wins. The sealed model (--out DIR: model.age) carries the
featurization, and predict scores rows with the text column.`,
			examples: []string{
				"fedcrypt sim --hospitals 5 --threshold 3 --epsilon 2 --accountant pld",
				"fedcrypt sim --out run/ --json",
				"fedcrypt sim --transport grpc --hospitals 5 --threshold 3",
				"fedcrypt sim --data medical-abstracts.csv --label condition --text abstract --epsilon 3",
			},
			run: runSim,
		},
		{
			name:  "train",
			usage: "fedcrypt train [flags]",
			short: "central training on one data set: the reference every federated result is compared to",
			long: `
Trains one model centrally on one data set (no federation) and prints its
metrics on held-out rows. Imputation and normalization statistics are
fitted on the training rows only. With --cv K it runs stratified K-fold
cross-validation and prints the mean and standard deviation over folds.

With --text COLUMN the features are that column's free text: Unicode word
tokens (lower case, accents folded, numbers as "0"), their unigrams (and with
--ngrams 2 bigrams) hashed into --buckets columns, sublinear tf times IDF
fitted on the training rows, each document scaled to norm 1; the numeric
columns, if any, are appended. Without --model the text model is softmax
regression on those features (20 epochs of Adam); --model embag:DIM[:H1,...]
is a fastText-style embedding bag. With --dp IDF is off (document frequencies
fitted on the training rows are not private) and the text defaults are 2048
buckets, --sample-rate 0.5, --clip 0.5, 100 steps of Adam at lr 0.1.

With --dp it trains with DP-SGD instead: Poisson sampling at --sample-rate,
per-example (per-patient with --privacy-unit) clipping to --clip, Gaussian
noise calibrated so the --steps cost at most --epsilon at --delta under the
accountant, and reports the ε spent. Under --cv every row is in K−1
training folds, so the ε reported composes K−1 trainings.`,
			examples: []string{
				"fedcrypt train --data wdbc --cv 5",
				"fedcrypt train --data wdbc --dp --epsilon 1",
			},
			run: runTrain,
		},
		{
			name:  "stats",
			usage: "fedcrypt stats [flags]",
			short: "the federation's DP statistics alone: harmonize features and check the data before training",
			long: `
Runs the statistics phase that starts every federated run, alone, on this
machine: each hospital releases the statistics of its rows once (per class:
row counts; per feature: counts, missing counts, sums and sums of squares
clamped to the declared bounds, histograms), with its own Gaussian noise,
encrypted; a quorum decrypts only their sum. It prints what the federation
learns, with standard errors, and the imputation and normalization every
hospital would apply. The release costs each hospital --stats-share of
--epsilon, as it would in a run, and nothing else: no model is trained.`,
			examples: []string{
				"fedcrypt stats --data wdbc --hospitals 4 --json",
			},
			run: runStats,
		},
		{
			name:  "budget",
			usage: "fedcrypt budget --sample-rate Q --steps N (--noise-multiplier S | --target-epsilon E) [flags]",
			short: "privacy arithmetic: ε from σ, or σ for a target ε",
			long: `
Privacy arithmetic for DP-SGD (the Poisson-subsampled Gaussian mechanism,
add/remove-one-record neighbouring). With --noise-multiplier, prints the ε spent
by --steps steps at sampling rate --sample-rate. With --target-epsilon instead,
prints the smallest noise multiplier that keeps ε at or below the target.

Accountants: rdp (Rényi DP, Mironov et al. 2019, Opacus's order grid, converted
with Balle et al. 2020) and pld (privacy loss distribution, connect-the-dots
discretization, never below the exact ε and tighter than rdp).`,
			examples: []string{
				"fedcrypt budget --noise-multiplier 1.5 --sample-rate 0.04 --steps 2250 --delta 1e-5",
				"fedcrypt budget --target-epsilon 1 --sample-rate 0.04 --steps 2250",
			},
			run: runBudget,
		},
		{
			name:  "plan",
			usage: "fedcrypt plan [flags]",
			short: "cost estimate of a planned federation: bytes, round time, noise, warnings",
			long: `
Estimates what a planned federation costs before any hospital joins: the
model's parameters and ciphertexts per update, bytes up and down per hospital
per round, the expected round time on machines like this one (from a quick
calibration run, or from "fedcrypt bench --json" saved to a file and given
with --bench), the noise multiplier each hospital needs for its (ε, δ) over
all its DP-SGD steps, and warnings: a budget too small for the rounds, a
preset too small for the hospitals, the key holders or the flooding noise,
δ ≥ 1/n. For the decryption protocol it gives what a key holder of the
decryption set downloads per round (the commitment and the decryption
request: the sum, one signed header and fingerprint per contributor, the
endorsement quorum's signatures) and the time of its checks, and the key's
lifetime decryption budget: L, the most the preset can flood, the share a
planned run uses and the security bits left. The model's shape comes from --features and --classes, or from a
data set (--data), which also gives --rows (its rows over --hospitals).`,
			examples: []string{
				"fedcrypt plan --data wdbc --hospitals 10 --rounds 20 --epsilon 1",
			},
			run: runPlan,
		},
		{
			name:  "bench",
			usage: "fedcrypt bench [--json] [--quick]",
			short: "measure what privacy costs on this machine (DP-SGD, CKKS, rounds)",
			long: `
Measures on this machine, in one run: DP-SGD throughput private and not (wdbc,
batch 64; logistic regression and MLPs of about 10k and 1M parameters; both
sides on one core, then both on all cores: dp_step_ratio is the one-core
ratio of the 10k MLP, dp_step_ratio_all_cores the all-core one), the
noise samplers' cost per draw, each CKKS preset's encryption (1 core and all
cores), aggregation, decryption-share and combination costs, bytes on the wire
per parameter of a 1M-parameter upload and the precision of a mean of 100
contributors at T = 10, whole federation rounds (3, 10 and 100 hospitals,
10k and 1M parameters, encrypted and not), and what a key holder of the
decryption set downloads and checks per round (10, 100 and 1,000 hospitals;
32k and 1M parameters; real keys, signatures and ciphertexts). Figures are the best and worst of
--reps repetitions; ratios come from the same run. Takes minutes; --quick
shrinks every size to take seconds. Save --json output for "fedcrypt plan --bench".

--compression measures upload compression instead (about a minute and a
half, the abstracts another minute): a federation of 3 hospitals in one
process, DP-SGD at each, FedAvg of the expanded sum of their compressed
updates, on digits (mlp:256,256, ε = 3) and, with --abstracts FILE, the
medical abstracts (hashed unigrams, ε = 10); dense uploads against randk and
srht at 9% of the values with error feedback, seeds 1-3: bytes per hospital
per round (encrypted with the precise preset, and plain) and held-out
accuracy.`,
			examples: []string{
				"fedcrypt bench --quick",
			},
			run: runBench,
		},
		{
			name:  "keygen",
			usage: "fedcrypt keygen -o DIR [flags]",
			short: "a member's keys: an age identity file and its signing key",
			long: `
Writes a member's (or an auditor's) keys into DIR:

  identity.txt      the secret key: a standard age identity file (X25519), usable
                    with "age -d -i"; identity.age instead with --passphrase-file
                    (the same file, encrypted with the passphrase by age's scrypt)
  recipient.txt     the public age recipient (age1...) others encrypt to
  signing-key.pub   the public Ed25519 signing key (ed25519:...)

The signing key is not stored: it is derived from the identity with HKDF-SHA256
under the label "fedcrypt.org/vault/v1/ed25519-signing-key", so the identity file
is the only secret. Existing files are never overwritten. The public parts are
printed.

With --csr it also makes the party's TLS key and a certificate signing request
for the federation's CA, for a member (--member ID) or the aggregator
(--aggregator), valid for the --host names given:

  tls.key.age       the TLS private key (ECDSA P-256), age-encrypted to the identity
  tls.csr           the PKCS #10 request (public): its subject and URI SAN
                    fedcrypt://member/ID name the member

Hand the coordinator recipient.txt, signing-key.pub and tls.csr; nothing else
leaves DIR. Put the certificate it sends back in DIR as tls.crt.`,
			examples: []string{
				"fedcrypt keygen -o keys/",
				"fedcrypt keygen --csr --member st-mary -o st-mary",
			},
			run: runKeygen,
		},
		{
			name:  "data encrypt",
			usage: "fedcrypt data encrypt -r RECIPIENT [-r ...] -o OUT.age IN.csv",
			short: "encrypt a data file to age recipients",
			long: `
Encrypts a data file (IN, or - for stdin) with age to every recipient, into
OUT.age. The output is written atomically (temporary file in the same directory,
fsync, rename) and decrypts with "age -d" as well as with fedcrypt. Recipients:
several X25519 (age1...) ones, several post-quantum (age1pq1...) ones, or one
passphrase; age refuses the other mixes and so does fedcrypt. An existing OUT.age
is refused unless --force is given: it may be the only copy of a data set
encrypted to other recipients.`,
			examples: []string{
				"fedcrypt data encrypt -R keys/recipient.txt -o wdbc.csv.age wdbc.csv",
			},
			run: runDataEncrypt,
		},
		{
			name:  "data decrypt",
			usage: "fedcrypt data decrypt -i IDENTITY IN.age [-o OUT --plaintext-file]",
			short: "decrypt an age data file to stdout (or, explicitly, to a file)",
			long: `
Decrypts an age data file with an identity (or, without -i, with the passphrase
of --passphrase-file) and writes the plaintext to standard output, for a pipe.
Patient data must not sit on disk in the clear, so writing the plaintext to a
file with -o also needs --plaintext-file; the file is created with mode 0600
and never overwrites an existing one. age authenticates the file chunk by
chunk: if the file was truncated or modified, the command fails (exit 1) and
what was written before the damaged chunk must be discarded (a file given
with -o is removed).`,
			examples: []string{
				"fedcrypt data decrypt -i keys/identity.txt wdbc.csv.age",
			},
			run: runDataDecrypt,
		},
		{
			name:  "data inspect",
			usage: "fedcrypt data inspect --data FILE[.age] [--identity KEY] --label COL [flags]",
			short: "rows, columns, classes and missing values of a data set, read through its encryption",
			long: `
Loads a data set as training would and prints what it holds: rows read and kept,
feature columns, classes and their counts, missing cells per column, constant
columns, patients (with --privacy-unit). An encrypted file is decrypted in
memory; nothing is written to disk. No cell value is printed, only counts and
column names.`,
			examples: []string{
				"fedcrypt data inspect --data wdbc.csv.age -i keys/identity.txt --label diagnosis",
			},
			run: runDataInspect,
		},
		{
			name:  "data split",
			usage: "fedcrypt data split --data FILE[.age] --label COL -r HOSPITAL1 -r HOSPITAL2 ... -o DIR [flags]",
			short: "split a data set into hospital files, each encrypted to its hospital",
			long: `
Splits a data set into one file per hospital, DIR/hospital-1.csv.age, ...,
each age-encrypted to its own hospital's recipient (one -r, or one -R file, per
hospital, in order) and to every --auditor. Rows are dealt by the data
package's partitioners: iid (same class mix, sizes within one), dirichlet:ALPHA
(label skew) or quantity:ALPHA (size skew); a patient's rows (--privacy-unit)
stay together. An encrypted input is decrypted in memory; no plaintext is
written. The output files load with "fedcrypt train --data FILE --identity KEY".
If any hospital file the split would write exists already, nothing is written
unless --force is given (other files in DIR are left as they are).`,
			examples: []string{
				"fedcrypt data split --data wdbc -R a/recipient.txt -R b/recipient.txt -R c/recipient.txt -o split/",
			},
			run: runDataSplit,
		},
		{
			name:  "init",
			usage: "fedcrypt init --project fed.yaml -o DIR | fedcrypt init --members a,b,c [--threshold T] -o DIR [flags]",
			short: "a federation's config from a project file (--project), or a demo federation with every party's keys",
			long: `
With --project, builds a federation's config (DIR/federation.json) from a
project file (YAML) that lists the members' public keys, their roles and the
federation's settings: the coordinator never holds a member's secret. Each
member makes its own keys and certificate request (fedcrypt keygen --csr);
the consortium CA signs the requests (fedcrypt ca init, fedcrypt ca sign).
Only -o, --previous and --json go with --project.

Adding or removing a member (or renewing a member's certificate with a new
key) makes a new version of the federation: edit the project file and run
init --project with --previous naming the federation.json it replaces. The
new config's lineage names that version, the members added and the members
removed, whose certificates the aggregator then refuses. The name, the DP
budget and continuing members' keys must stay, since members' ledgers carry
over. Each member checks and accepts the new version (fedcrypt member
accept) before it joins.

Demo mode, for a quick start on one machine (--members): creates a federation: its config (members, their age recipients and signing
keys, threshold T, min-contributors, model, DP settings and caps, CKKS
preset, data schema, the aggregator's identity), a federation CA, the
aggregator's server certificate and one client certificate per member that
names the member. For demos it also creates every party's keys, one
directory each (DIR/aggregator, DIR/<member>): identity.key (age identity
and signing key, secret), recipient.txt, tls.crt and tls.key.age (the TLS key,
age-encrypted to the party). The CA key is age-encrypted to the aggregator.
Hand each party its own directory, federation.json and ca.crt; in a real
deployment each party generates its own keys (fedcrypt keygen) and the
coordinator's CA signs their certificates. The data schema is read from
--data (a file with the federation's columns, or an embedded set).

With --text COLUMN the federation trains a text model on that free-text
column, with the settings sim --text takes for the flags not given (at DP:
1,024 buckets, IDF from the statistics phase, softmax regression, 10 rounds
of 10 local steps of Adam at lr 0.1 on every row, clip 0.5, update bound 100,
FedAvg); the members' files keep the column as text (data split --text), and
the aggregator's model.age is scored by predict. A project file declares it
under data: text: {column: COLUMN} (buckets, ngrams, hash_seed, idf and
max_terms_per_doc optional), with model: softmax or embag:DIM.`,
			examples: []string{
				"fedcrypt init --project fed.yaml -o fed",
				"fedcrypt init --members a,b,c --threshold 2 -o fed",
				"fedcrypt init --members a,b,c --data medical-abstracts.csv --label condition --text abstract --epsilon 3 -o fed",
			},
			run: runInit,
		},
		{
			name:  "member accept",
			usage: "fedcrypt member accept --config NEW --previous OLD --member ID --identity FILE --ledger DIR [flags]",
			short: "a member's side of a new federation version: check it and accept it",
			long: `
Checks a new version of the federation (members added or removed) against
the one this member ran under, and accepts it: client join refuses a config
with a lineage until its member has accepted it.

It checks that NEW follows OLD (its lineage names OLD's hash and exactly the
members added and removed; the federation's name, the DP budget and this
member's keys are unchanged, so its ledger carries over), that this member
is in NEW with the keys of --identity, and reads the member's ledger in
--ledger: the ε it has spent so far counts against the same cap in NEW. It
prints what changes (members, key holders, threshold, certificate pins) and
writes its signed acceptance beside the ledger. A member new in this
version gives no --previous.`,
			examples: []string{
				"fedcrypt member accept --config fed2/federation.json --previous fed/federation.json --member st-mary --identity st-mary/identity.txt --ledger ledger",
			},
			run: runAccept,
		},
		{
			name:  "ca init",
			usage: "fedcrypt ca init -i IDENTITY -o DIR [--name NAME] [--valid-for D]",
			short: "the consortium's certificate authority, its key age-encrypted to its operator",
			long: `
Creates the consortium's certificate authority in DIR: ca.crt, the
certificate every party trusts, and ca.key.age, its key age-encrypted to the
identity given (the CA operator's: the coordinator's, or an offline key).
Existing files are never replaced.`,
			examples: []string{
				"fedcrypt ca init -i aggregator/identity.txt -o ca",
			},
			run: runCAInit,
		},
		{
			name:  "ca sign",
			usage: "fedcrypt ca sign --project fed.yaml --ca DIR -i IDENTITY --csr FILE -o FILE [--valid-for D]",
			short: "a certificate from a member's (or the aggregator's) request, checked against the project file",
			long: `
Issues a certificate from a certificate request (fedcrypt keygen --csr). The
request's signature must verify; it must name a member of the project (or the
aggregator), ask for no host name the project does not allow that party and
no other name, and carry the key the project pins for the party, if any. A
member's certificate authenticates TLS clients (and servers, with hosts) and
names the member as the aggregator's mutual TLS expects; the aggregator's
authenticates TLS servers for its hosts.`,
			examples: []string{
				"fedcrypt ca sign --project fed.yaml --ca ca -i aggregator/identity.txt --csr incoming/st-mary/tls.csr -o issued/st-mary.crt",
			},
			run: runCASign,
		},
		{
			name:  "preflight",
			usage: "fedcrypt preflight --config FILE --member ID --identity FILE [--data FILE.age] [--ledger DIR] [--aggregator ADDR] [flags]",
			short: "check a member's site before a run: config, keys, certificate, data, ledger, aggregator",
			long: `
Checks, at a member's site, what "fedcrypt client join" relies on, and prints
one line per check with ✓, ! (passes, needs attention) or ✗ and what to fix:
the federation config and this member in it; that the identity's recipient
and signing key are the ones the config lists; the TLS key, the certificate
(issued by the federation CA, for this member, valid now, with the key the
config pins for the member) and its expiry;
that the data set decrypts and has the schema's columns, label and classes;
that the ledger directory is writable; and that the aggregator's name
resolves, a mutual TLS handshake with this member's certificate succeeds, and
its health service answers, each within --timeout; and, for a version of the
federation after its first, that this member accepted it (member accept). It opens no session, so a
member already running is not disturbed. Exits non-zero if a check fails.`,
			examples: []string{
				"fedcrypt preflight --config federation.json --member st-mary --identity st-mary/identity.txt --data st-mary.csv.age --ledger ledger --aggregator agg.example.org:7443",
			},
			run: runPreflight,
		},
		{
			name:  "aggregator serve",
			usage: "fedcrypt aggregator serve --config FILE --identity FILE --listen ADDR -o DIR [flags]",
			short: "the coordinator of a networked federation",
			long: `
Runs the aggregator of a networked federation: members connect with
"fedcrypt client join" over gRPC with mutual TLS 1.3, each identified by its
client certificate. It relays the key ceremony, runs the config's rounds,
sums encrypted updates and has T key holders decrypt each sum, and writes the
signed audit log and sealed checkpoints to DIR. It stops after the last round,
or gracefully on SIGINT/SIGTERM. With --metrics it serves Prometheus metrics
on http://ADDR/metrics, and probes for Kubernetes (whose gRPC probes cannot
speak mutual TLS) on /healthz (200 while the process serves) and /readyz (200
while the run is in progress, 503 once it has ended); the gRPC health service
is on --listen.`,
			examples: []string{
				"fedcrypt aggregator serve --config fed/federation.json --identity aggregator/identity.txt --ca ca/ca.crt --listen :7443 -o run",
			},
			run: runServe,
		},
		{
			name:  "client join",
			usage: "fedcrypt client join --config FILE --member ID --identity FILE --data FILE.age --ledger DIR --aggregator ADDR [flags]",
			short: "a hospital's node in a networked federation",
			long: `
Runs one hospital's node: connects to the aggregator over gRPC with mutual
TLS 1.3 (the client certificate names the member), takes part in the key
ceremony, and in each round trains on its own data with DP-SGD under its
privacy budget, encrypts its update and, as a key holder, helps decrypt the
sum only. Its data is decrypted in memory only; its privacy ledger and key
share are sealed to its own identity in --ledger, which must persist across
runs, beside the audit-log heads the aggregator signs at the end of each
round (sealed to it and the federation's auditors, for 'fedcrypt audit
verify --witness'). A dropped connection is re-established with backoff. All randomness
comes from the operating system (no --seed).`,
			examples: []string{
				"fedcrypt client join --config federation.json --member st-mary --identity st-mary/identity.txt --data st-mary.csv.age --ledger ledger --aggregator agg.example.org:7443",
			},
			run: runJoin,
		},
		{
			name:  "audit verify",
			usage: "fedcrypt audit verify LOG|DIR [--config FEDERATION] [--identity KEY] [flags]",
			short: "check a run's signed audit log and every hospital's ε against its federation config",
			long: `
Verifies a run's audit log independently of the aggregator: the hash chain
and every signature, with the keys in the federation config (never keys
from the log); the order and completeness of the entries, against the head
anchored in the sealed checkpoint when --identity opens it; every
hospital's signed claims under its own key; and every hospital's ε,
recomputed from the DP parameters it claimed in each round it contributed
to, with the federation's accountant. It fails if a claimed ε is below the
recomputed one or above the hospital's cap, and for runs without DP or
encryption unless --allow-unprotected.

With --witness, it also checks the signed audit heads hospitals kept in
their sealed state (the aggregator signs the log's head at the end of
every round and of the run): each must be in the log where it was signed,
and no two may disagree. The aggregator can rewrite its own checkpoint
together with its log; it cannot rewrite what the hospitals hold.

With --previous, the run of the version this federation's config replaces
(members added or removed) is verified as well, and this run must follow it:
the config's lineage names that version and exactly the members added and
removed, every key epoch is new, and every member that contributed to both
claims from a ledger that carried over (a later ledger version, at least
the ε it had claimed before).

Prints a one-line verdict (with --json, one JSON object); on failure, the
entry number and the reason. Exit status 0 only when everything verifies.
For a 'fedcrypt sim --out DIR' run, 'fedcrypt audit verify DIR
--identity DIR/researcher.key --witness DIR/hospitals' finds the config
and checkpoint in DIR and checks every hospital's witness.`,
			examples: []string{
				"fedcrypt audit verify run/ --identity run/researcher.key",
				"fedcrypt audit verify run/ --identity run/researcher.key --witness run/hospitals",
			},
			run: runAuditVerify,
		},
		{
			name:  "report",
			usage: "fedcrypt report LOG|DIR -o report.html [flags]",
			short: "compliance report of a run: HTML (or Markdown) with plots",
			long: `
Writes a compliance report on a run: the verification verdict (the checks
of 'fedcrypt audit verify'), each hospital's guarantee in plain words
((ε, δ), accountant, neighbouring relation, privacy unit), plots of ε over
rounds per hospital against its cap, test accuracy and AUC over rounds
(from the run's rounds.csv, when present) and participation per round, the
CKKS preset and its security level, T and min-contributors, the
commitments in the log, which hospitals' witnesses (--witness) were
checked, and any unprotected run flagged at the top.

The HTML page is self-contained (inline CSS, plots as inline SVG); with
--format md, Markdown with the plots as SVG files beside it. The report is
written whether or not the log verifies; its verdict says which.`,
			examples: []string{
				"fedcrypt report run/ -o report.html",
			},
			run: runReport,
		},
		{
			name:  "predict",
			usage: "fedcrypt predict --checkpoint MODEL.age -i IDENTITY --signer KEY --data ROWS.csv[.age] [flags]",
			short: "score new rows with a sealed model (--checkpoint FILE.age)",
			long: `
Scores rows with a sealed model. The checkpoint is decrypted with the identity
and accepted only if it is signed by --signer (the writer's ed25519:... key,
its signing-key.pub file, or the federation.json whose aggregator wrote it). The model carries its schema and the imputation and
normalization statistics of its training rows, which are applied to the new
rows; the rows' columns are matched by name, other columns are ignored. An
encrypted data file is decrypted in memory with the same identity.

A text model (train --text, sim --text, a text federation's model.age) reads
the rows' free text from its own text column, featurized as in training;
--text COLUMN reads it from a column named otherwise.

Predictions (row number, class, probability of that class) are printed as CSV
on stdout, or with -o written encrypted to -r/-R recipients. Where the rows
carry the label, the metrics on them are printed too (stderr, or stdout with
-o; in the JSON object with --json).`,
			examples: []string{
				"fedcrypt predict --checkpoint run/model.age -i run/researcher.key --signer run/federation.json --data rows.csv",
				"fedcrypt predict --checkpoint out/model.age -i fed/a/identity.key --signer fed/federation.json --data notes.csv --text note",
			},
			run: runPredict,
		},
		{
			name:  "model export",
			usage: "fedcrypt model export --checkpoint MODEL.age -i IDENTITY --signer KEY --format onnx|json -o OUT [flags]",
			short: "a sealed model as ONNX or JSON, for scoring outside fedcrypt",
			long: `
Writes a sealed model (from sim --out, or an aggregator's run) out of
fedcrypt, for a hospital's clinical stack to score raw rows with. The
checkpoint is opened as predict opens it: decrypted in memory with the
identity, and accepted only if signed by --signer (the writer's ed25519:...
key, its signing-key.pub file, or the federation.json whose aggregator wrote
it; the federation's name is then recorded in the export).

--format onnx writes an ONNX model whose graph takes raw feature values
(DOUBLE [N, F], NaN for a missing cell) and applies the federation's
imputation and normalization before the network, in float64: input
"features", output "probabilities" [N, C], one column per class in the
order of the model's classes (a binary model has two). --format json writes
the weights and the preprocessing as a plain JSON file; its layout and the
formulas to score a row are documented in fedcrypt's source,
internal/export/doc.go.

THE OUTPUT IS NOT ENCRYPTED, by design: anyone who holds it can read the
weights and the per-column means (or medians) and spreads of the training
rows. It is written with mode 0600. An existing -o is refused unless
--force is given. Only numeric classifiers (logistic or softmax regression,
MLPs) are exported; any other model is refused.`,
			examples: []string{
				"fedcrypt model export --checkpoint run/model.age -i run/researcher.key --signer run/federation.json --format onnx -o model.onnx",
			},
			run: runModelExport,
		},
		{
			name:  "model quantize",
			usage: "fedcrypt model quantize --checkpoint MODEL.age -i IDENTITY --signer KEY -o OUT.age [--data ROWS.csv] [flags]",
			short: "a sealed model's quantized (12-bit) version for deployment",
			long: `
Writes a sealed model's quantized version for deployment: 12-bit integer
weights, each weight matrix with a scale per output unit, each bias with one
scale (model.Model.MarshalQuantized), about 4.5 to 5.3 times smaller than
float64 (8 bits moved the probabilities of some models by more than 0.01). The
schema, transforms and text featurization are kept; predict reads the result
as it reads any sealed model, and reads int8 models of earlier versions.

The checkpoint is opened as predict opens it (decrypted in memory with the
identity, accepted only if signed by --signer). The output is signed with the
identity's key, so predict takes this identity's signing key as its --signer
(its signing-key.pub, or the ed25519:... key the command prints), and encrypted to the identity and to -r/-R recipients. With --data
(rows as predict reads them), the quantized model is compared with the float one
on those rows: the fraction of rows given the same class and the largest
difference of a probability.`,
			examples: []string{
				"fedcrypt model quantize --checkpoint run/model.age -i run/researcher.key --signer run/federation.json -o model-q.age",
			},
			run: runModelQuantize,
		},
		{
			name:  "completion",
			usage: "fedcrypt completion bash|zsh",
			short: "shell completion of commands and flags, for bash or zsh",
			long: `
Prints a completion script for bash or zsh on stdout: the commands, their
subcommands and each one's flags. Load it in the shell's startup file.`,
			examples: []string{
				"fedcrypt completion bash > ~/.local/share/bash-completion/completions/fedcrypt",
				"source <(fedcrypt completion zsh)",
			},
			run: runCompletion,
		},
		{
			name:     "version",
			usage:    "fedcrypt version",
			short:    "the software version (also --version)",
			long:     "Prints fedcrypt's version, the one every audit log and sealed file records.",
			examples: []string{"fedcrypt version"},
			run:      runVersionCmd,
		},
	}
}

func runVersionCmd(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("version: unexpected argument %q", pos[0])
	}
	fmt.Fprintln(e.stdout, version.Software())
	return nil
}
