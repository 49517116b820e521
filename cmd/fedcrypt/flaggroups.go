package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/fedavg"
	"github.com/fedcrypt/fedcrypt/model"
	"github.com/fedcrypt/fedcrypt/sim"
	"github.com/fedcrypt/fedcrypt/text"
	"github.com/fedcrypt/fedcrypt/vault"
)

// The flag groups several commands share, each declared once here: what a
// command writes (--out, --json), the identity it decrypts with, the
// recipients it encrypts to, the data set it reads, its free-text column
// and the federation's server optimizer.

// outFlag is --out and its shorthand -o: the file or directory a command
// writes.
type outFlag string

func (o *outFlag) register(fs *flag.FlagSet, usage string) {
	fs.StringVar((*string)(o), "out", "", usage)
	fs.StringVar((*string)(o), "o", "", "shorthand for --out")
}

// jsonFlag is --json: the command prints exactly one JSON object on stdout.
type jsonFlag bool

func (j *jsonFlag) register(fs *flag.FlagSet) {
	fs.BoolVar((*bool)(j), "json", false, "print one JSON object on stdout")
}

// keyFlags are the flags of a command that decrypts: an identity file and,
// for a passphrase-protected one, where its passphrase is.
type keyFlags struct {
	identity string
	passFile string
}

func (k *keyFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&k.identity, "identity", "", "age identity `file` (from fedcrypt keygen or age-keygen)")
	fs.StringVar(&k.identity, "i", "", "age identity `file` (shorthand for --identity)")
	fs.StringVar(&k.passFile, "passphrase-file", "", "`file` whose first line is the passphrase of a protected identity file, or of a passphrase-encrypted file without -i (- for stdin)")
}

// load returns the identity the flags name, nil if none.
func (k *keyFlags) load(e *env) (*vault.Identity, error) {
	if k.identity == "" {
		if k.passFile == "" {
			return nil, nil
		}
		pass, err := readPassphrase(e, k.passFile)
		if err != nil {
			return nil, err
		}
		return vault.NewPassphraseIdentity(pass)
	}
	var askPass func() ([]byte, error)
	if k.passFile != "" {
		askPass = func() ([]byte, error) { return readPassphrase(e, k.passFile) }
	}
	id, err := vault.ReadIdentityFile(k.identity, askPass)
	if errors.Is(err, vault.ErrPassphraseRequired) {
		return nil, fmt.Errorf("%w (give --passphrase-file)", err)
	}
	return id, err
}

// recipientFlags are the flags naming who a file is encrypted to.
type recipientFlags struct {
	recipients stringList
	files      stringList
	passFile   string
	workFactor int
}

func (r *recipientFlags) register(fs *flag.FlagSet, withPassphrase bool) {
	fs.Var(&r.recipients, "r", "age `recipient` (age1...) to encrypt to; repeat for several (a hospital and its auditor)")
	fs.Var(&r.recipients, "recipient", "age `recipient` (same as -r)")
	fs.Var(&r.files, "R", "`file` of recipients, one per line (recipient.txt from keygen, or an age recipients file)")
	if withPassphrase {
		fs.StringVar(&r.passFile, "passphrase-file", "", "encrypt to the passphrase on the first line of `file` instead (alone: no -r)")
		fs.IntVar(&r.workFactor, "work-factor", vault.DefaultWorkFactor, "scrypt work factor log2(N) with --passphrase-file")
	}
}

// parse returns the recipients the flags name, at least one.
func (r *recipientFlags) parse(e *env) ([]vault.Recipient, error) {
	out, err := r.optional(e)
	if err == nil && len(out) == 0 {
		err = usagef("no recipients: give -r AGE1..., -R FILE or --passphrase-file")
	}
	return out, err
}

// optional returns the recipients the flags name, perhaps none.
func (r *recipientFlags) optional(e *env) ([]vault.Recipient, error) {
	var out []vault.Recipient
	for _, s := range r.recipients {
		rc, err := vault.ParseRecipient(s)
		if err != nil {
			return nil, usageError{"-r/--recipient: " + err.Error()}
		}
		out = append(out, rc)
	}
	for _, path := range r.files {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("-R: %w", err)
		}
		rs, err := vault.ParseRecipients(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("-R %s: %w", path, err)
		}
		out = append(out, rs...)
	}
	if r.passFile != "" {
		if len(out) > 0 {
			return nil, usagef("--passphrase-file: a passphrase must be the only recipient (age refuses to mix it with -r/-R)")
		}
		pass, err := readPassphrase(e, r.passFile)
		if err != nil {
			return nil, err
		}
		rc, err := vault.NewPassphraseRecipient(pass, r.workFactor)
		if err != nil {
			return nil, usageError{err.Error()}
		}
		out = append(out, rc)
	}
	return out, nil
}

// rowsFile is --data where a command reads one CSV file of rows under a
// schema it already holds (a federation's or a sealed model's): a
// hospital's own training data, or rows to score or compare on. Commands
// that choose a data set (an embedded one, a file, one per site) take
// dataFlags instead.
type rowsFile string

// register declares --data; what says whose rows they are. sealed: the
// help says the file is age-encrypted to the party's identity (a
// hospital's data at rest, which client join refuses plain), else that it
// may be plain too.
func (r *rowsFile) register(fs *flag.FlagSet, what string, sealed bool) {
	how := "a CSV `file`, or an age-encrypted one"
	if sealed {
		how = "a CSV `file`, age-encrypted to --identity"
	}
	fs.StringVar((*string)(r), "data", "", what+": "+how)
}

// read reads the file's rows under schema, decrypting it with id when it
// is age-encrypted.
func (r rowsFile) read(id *vault.Identity, schema data.Schema) (*data.Rows, error) {
	in, err := vault.Open(string(r), id)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	return schema.ReadRows(in, string(r))
}

// dataFlags are the flags of every command that reads a data set: an
// embedded set's name or a CSV path (age-encrypted with --identity), and how
// to read it.
//
// The exported fields are recorded in a simulation's run directory so that
// a resumed run loads the same data again.
type dataFlags struct {
	Source   string     `json:"source"`
	keys     keyFlags   // never recorded: key files are asked for again
	Label    string     `json:"label,omitempty"`
	Positive string     `json:"positive,omitempty"`
	Drop     stringList `json:"drop,omitempty"`
	Missing  string     `json:"missing,omitempty"`
	Unit     string     `json:"privacy_unit,omitempty"`
	// Text is the free-text column; only commands that featurize text register
	// a flag for it (textFlags: --text).
	Text string `json:"text,omitempty"`
	// SiteColumn, in a site-native simulation, is the column whose values
	// name the hospitals (sim --partition column:NAME).
	SiteColumn string `json:"site_column,omitempty"`
}

func (d *dataFlags) register(fs *flag.FlagSet, defaultSource string) {
	fs.StringVar(&d.Source, "data", defaultSource, "data set: "+strings.Join(data.EmbeddedNames(), ", ")+" (embedded), or a CSV file (.age: decrypted in memory with --identity)")
	d.keys.register(fs)
	fs.StringVar(&d.Label, "label", "", "label `column` (default: the embedded set's)")
	fs.StringVar(&d.Positive, "positive", "", "positive class `value` of a binary label (default: an embedded set's, else the larger of the two values, in numeric order if both are numbers, else in byte order)")
	fs.Var(&d.Drop, "drop", "`columns` to drop (comma-separated or repeated), e.g. an id column")
	fs.StringVar(&d.Missing, "missing", "mean", "missing values: mean or median (impute from training rows), or drop (the rows); cells "+missingCellsHelp()+" (any case) are missing")
	fs.StringVar(&d.Unit, "privacy-unit", "", "`column` naming the patient: DP protects everything about one patient")
}

// options returns the loading options the flags give, starting from the
// embedded set's defaults when the source is one.
func (d *dataFlags) options(defaults data.Options) data.Options {
	o := defaults
	if d.Label != "" {
		o.Label = d.Label
		if d.Positive == "" && d.Label != defaults.Label {
			o.Positive = ""
		}
	}
	if d.Positive != "" {
		o.Positive = d.Positive
	}
	o.Drop = append(o.Drop, d.Drop...)
	o.Missing = d.Missing
	o.PrivacyUnit = d.Unit
	o.Text = d.Text
	return o
}

// load reads the data set the flags name. The plaintext of an encrypted
// file is never written anywhere: it is decrypted as a stream into memory.
func (d *dataFlags) load(e *env) (*data.Dataset, *data.Report, error) {
	if csv, defaults, ok := data.Embedded(d.Source); ok {
		opt := d.options(defaults)
		if err := opt.Validate(); err != nil {
			return nil, nil, usageError{err.Error()}
		}
		return data.Load(bytes.NewReader(csv), d.Source, opt)
	}
	if d.Source == "" {
		return nil, nil, usagef("--data: no data set given")
	}
	if _, err := os.Stat(d.Source); errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("--data %s: no such file (embedded sets: %s)", d.Source, strings.Join(data.EmbeddedNames(), ", "))
	}
	opt := d.options(data.Options{})
	if opt.Label == "" {
		return nil, nil, usagef("--data %s: --label is required for a CSV file", d.Source)
	}
	if err := opt.Validate(); err != nil {
		return nil, nil, usageError{err.Error()}
	}
	id, err := d.keys.load(e)
	if err != nil {
		return nil, nil, err
	}
	r, err := vault.Open(d.Source, id)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	return data.Load(r, d.Source, opt)
}

// missingCellsHelp lists the cells every column reads as missing, for --help.
func missingCellsHelp() string {
	var quoted []string
	for _, m := range data.MissingMarkers() {
		quoted = append(quoted, strconv.Quote(m))
	}
	return strings.Join(quoted, ", ")
}

// textFlags are the flags of a command that trains on a free-text column:
// --text, the column (the data flags' Text), and how its documents become
// hashed n-grams: --buckets, --ngrams, --hash-seed and --idf. Central
// training (train) fits IDF on its training rows; a federation (sim, init)
// takes it from the statistics phase's DP document frequencies.
type textFlags struct {
	column    *string
	cfg       text.Config
	federated bool
}

// textSettingFlags are the flags that mean nothing without --text.
var textSettingFlags = []string{"buckets", "ngrams", "hash-seed", "idf"}

func (t *textFlags) register(fs *flag.FlagSet, column *string, federated bool) {
	t.column, t.federated = column, federated
	def := sim.DefaultTextFeatures(false)
	t.cfg = def
	buckets, idf := "with --text: hash buckets for the n-grams (with --dp default 2048)", "with --text: weight by inverse document frequency fitted on the training rows (not with --dp)"
	if federated {
		buckets = fmt.Sprintf("with --text: hash buckets for the n-grams (with DP default %d: the noise covers every bucket)", sim.DefaultTextFeatures(true).Buckets)
		idf = "with --text: weight by inverse document frequency, from the document frequencies each hospital releases with DP in the statistics phase"
	}
	fs.StringVar(column, "text", "", "free-text `column`: features are its hashed word n-grams (then the numeric columns, if any)")
	fs.IntVar(&t.cfg.Buckets, "buckets", def.Buckets, buckets)
	fs.IntVar(&t.cfg.NGrams, "ngrams", def.NGrams, "with --text: 1 = unigrams, 2 = unigrams and bigrams")
	fs.Uint64Var(&t.cfg.Seed, "hash-seed", def.Seed, "with --text: salt of the n-gram hash (fixed in advance)")
	fs.BoolVar(&t.cfg.IDF, "idf", def.IDF, idf)
}

// check refuses a text setting without --text: it would be silently
// ignored. set holds the flags the command line set.
func (t *textFlags) check(set map[string]bool) error {
	if *t.column != "" {
		return nil
	}
	for _, name := range textSettingFlags {
		if set[name] {
			return usagef("--%s is a text setting: add --text COLUMN", name)
		}
	}
	return nil
}

// features returns the featurization of a federation on the text column
// with DP (private) or without, for the text model spec: the federation's
// default (sim.DefaultTextFeatures) in every setting the command line left
// unset.
func (t *textFlags) features(set map[string]bool, private bool, spec string) text.Config {
	c, def := t.cfg, sim.DefaultTextFeatures(private)
	orDefault(set, "buckets", &c.Buckets, def.Buckets)
	orDefault(set, "ngrams", &c.NGrams, def.NGrams)
	orDefault(set, "hash-seed", &c.Seed, def.Seed)
	orDefault(set, "idf", &c.IDF, def.IDF)
	c.Sublinear = def.Sublinear
	c.Norm = textNorm(spec, c.Buckets)
	return c
}

// textNorm is the document norm that suits the text model spec: the mean
// of the token vectors for an embedding bag, else l2.
func textNorm(spec string, buckets int) string {
	if c, err := model.ParseSparseSpec(spec, buckets, 2); err == nil && c.Kind == model.KindEmbeddingBag {
		return text.NormMean
	}
	return text.NormL2
}

// serverOptFlags are a federation's server optimizer: --server-opt,
// --server-lr and --server-momentum.
type serverOptFlags struct {
	name         string
	lr, momentum float64
}

func (s *serverOptFlags) register(fs *flag.FlagSet, def fedavg.Config) {
	fs.StringVar(&s.name, "server-opt", def.Name, "server optimizer: fedavg, fedavgm or fedadam")
	fs.Float64Var(&s.lr, "server-lr", def.LR, "server learning rate (0: the optimizer's own default, 1 for fedavg and fedavgm, 0.1 for fedadam)")
	fs.Float64Var(&s.momentum, "server-momentum", def.Momentum, "server momentum of fedavgm (0: its default 0.9)")
}

// config returns the server optimizer the flags set (set) give over def:
// def's learning rate and momentum belong to def's optimizer, so another
// one named without them gets its own.
func (s *serverOptFlags) config(set map[string]bool, def fedavg.Config) fedavg.Config {
	c := def
	if set["server-opt"] && s.name != def.Name {
		c = fedavg.Config{Name: s.name}
	}
	if set["server-lr"] {
		c.LR = s.lr
	}
	if set["server-momentum"] {
		c.Momentum = s.momentum
	}
	return c
}

// setFlags returns the names of the flags the command line set.
func setFlags(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// orDefault sets *v to def unless the command line set the flag (set).
func orDefault[T any](set map[string]bool, flag string, v *T, def T) {
	if !set[flag] {
		*v = def
	}
}
