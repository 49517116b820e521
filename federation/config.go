package federation

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"

	"github.com/fedcrypt/fedcrypt/compress"
	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/fedavg"
	"github.com/fedcrypt/fedcrypt/he"
	"github.com/fedcrypt/fedcrypt/model"
	"github.com/fedcrypt/fedcrypt/stats"
	"github.com/fedcrypt/fedcrypt/text"
	"github.com/fedcrypt/fedcrypt/vault"
)

// Version is the config format version this package reads and writes.
const Version = 2

// Party is anyone holding keys in the federation: a hospital, the
// aggregator, an auditor.
type Party struct {
	ID string `json:"id"`
	// Recipient is the party's age X25519 recipient ("age1…"): what is
	// sealed for it (threshold shares, checkpoints, ledgers) is encrypted to
	// it.
	Recipient string `json:"recipient"`
	// SigningKey is the party's ed25519 public key, "ed25519:" and its
	// base64 ([vault.FormatSigningKey]).
	SigningKey string `json:"signing_key"`
}

// Member is a hospital: a contributor of updates, a key holder, or both.
type Member struct {
	Party
	Contributor bool `json:"contributor"`
	KeyHolder   bool `json:"key_holder"`
	// Rows is the declared (public) number of training rows; it sets the
	// member's weight in the average when [Training.Weighting] is "rows".
	Rows int `json:"rows,omitempty"`
	// TLSKey pins the member's TLS client certificate: the hex SHA-256 of
	// its public key (DER SubjectPublicKeyInfo). When set, the aggregator
	// refuses any other certificate naming the member ([Lineage]).
	TLSKey string `json:"tls_key_sha256,omitempty"`
}

// HE configures the homomorphic encryption of updates.
type HE struct {
	// Enabled is false only for comparison runs (--no-he); such runs are
	// flagged in every output and fail audit verification by default.
	Enabled bool `json:"enabled"`
	// Preset names the CKKS parameter preset (see package he).
	Preset string `json:"preset,omitempty"`
	// UpdateBound is the L2 bound every contributor clips its model update
	// to before weighting and encryption; it bounds the values the preset
	// must hold.
	UpdateBound float64 `json:"update_bound"`
	// DecryptionBudget is L, the ciphertext decryptions the collective key
	// may release over its whole life (a decryption of a vector of c
	// ciphertexts counts c); the flooding noise is sized for it. Zero means
	// [Config.DecryptionBudget]'s default.
	DecryptionBudget uint64 `json:"decryption_budget,omitempty"`
	// KeyEpochRounds re-keys the federation every this many rounds: a new
	// key ceremony, a new collective key from fresh secrets and a new
	// decryption budget. Zero means one key per run (the federation also
	// re-keys whenever the budget could not cover a round).
	KeyEpochRounds int `json:"key_epoch_rounds,omitempty"`
}

// DP configures each contributor's DP-SGD and its budget.
type DP struct {
	// Enabled is false only for comparison runs (--no-dp); such runs are
	// flagged in every output and fail audit verification by default.
	Enabled bool `json:"enabled"`
	// Epsilon is each hospital's cap on ε over the federation's whole life;
	// Delta the δ of every guarantee.
	Epsilon float64 `json:"epsilon"`
	Delta   float64 `json:"delta"`
	// Accountant is "rdp" or "pld".
	Accountant string `json:"accountant"`
	// Noise names the Gaussian sampler ("fast" or "google").
	Noise string `json:"noise,omitempty"`
	// ClipNorm is the per-example (per-unit) L2 clipping bound C.
	ClipNorm float64 `json:"clip_norm"`
	// SampleRate is the Poisson sampling rate q of each local step.
	SampleRate float64 `json:"sample_rate"`
	// PrivacyUnit names the column identifying a patient; empty means
	// record-level DP (add/remove one row).
	PrivacyUnit string `json:"privacy_unit,omitempty"`
}

// Training configures local and server optimization.
type Training struct {
	Rounds     int `json:"rounds"`
	LocalSteps int `json:"local_steps"`
	// SpareRounds are rounds of privacy budget each contributor keeps for
	// rounds that are abandoned and retried (dropouts): noise is calibrated
	// for Rounds+SpareRounds rounds of training.
	SpareRounds int                   `json:"spare_rounds,omitempty"`
	Local       model.OptimizerConfig `json:"local_optimizer"`
	Server      fedavg.Config         `json:"server_optimizer"`
	// Weighting is "equal" (every contributor weighs 1) or "rows"
	// (declared rows over the largest declared rows).
	Weighting string `json:"weighting"`
	// Compress is the upload compression (compress.Parse: "randk:0.1",
	// "srht:0.05:ef"); empty for none. Every contributor of a round
	// compresses its clipped update with the round's map, after DP.
	Compress string `json:"compress,omitempty"`
}

// Config is a federation's configuration. Every party holds the same Config;
// its [Config.Hash] names the federation in every message.
type Config struct {
	Version    int      `json:"version"`
	Name       string   `json:"name"`
	Aggregator Party    `json:"aggregator"`
	Auditors   []Party  `json:"auditors,omitempty"`
	Members    []Member `json:"members"`
	// Threshold is T: exactly T key holders decrypt each aggregate.
	Threshold int `json:"threshold"`
	// MinContributors is the fewest uploads a key holder agrees to decrypt
	// the sum of.
	MinContributors int `json:"min_contributors"`
	// MaxDecryptions caps the decryption attempts of one round's sum.
	MaxDecryptions int `json:"max_decryptions"`
	HE             HE  `json:"he"`
	DP             DP  `json:"dp"`
	// Model is the network on the numeric features; unset (and absent
	// from the JSON) when SparseModel is set.
	Model model.Config `json:"model,omitzero"`
	// SparseModel is the model of a federation on free text: softmax
	// regression on the text column's hashed n-grams, or an embedding
	// bag, whose inputs are Data.Text's buckets followed by the numeric
	// features. Exactly one of Model and SparseModel is set.
	SparseModel *model.SparseConfig `json:"sparse_model,omitempty"`
	Data        DataSpec            `json:"data"`
	Training    Training            `json:"training"`
	Evaluation  Evaluation          `json:"evaluation,omitempty"`
	// Lineage names the version this config replaces, when members were
	// added or removed; nil for a federation's first version.
	Lineage *Lineage `json:"lineage,omitempty"`
}

// Evaluation configures the private evaluation of the final model: each
// contributor scores it on validation rows it held out locally, releases
// its confusion-matrix counts with Gaussian noise (charged to its ledger,
// Epsilon alone at the federation's δ), encrypted; the federation learns
// only the decrypted totals.
type Evaluation struct {
	Enabled bool    `json:"enabled,omitempty"`
	Epsilon float64 `json:"epsilon,omitempty"` // the release's own ε
	Holdout float64 `json:"holdout,omitempty"` // fraction of each hospital's rows kept for validation
	// Bins is the number of probability bins of the score histograms
	// released with the confusion counts (stats.Scores), from which the
	// AUC is read; 0 releases the confusion counts alone.
	Bins int `json:"bins,omitempty"`
}

// DefaultEvalBins is the number of probability bins of an evaluation's
// score histograms unless a federation declares otherwise.
const DefaultEvalBins = 10

// EvalScores is the layout of the federation's evaluation release.
func (c *Config) EvalScores() stats.Scores {
	return stats.Scores{Classes: len(c.Data.Schema.Classes), Bins: c.Evaluation.Bins}
}

// DataSpec is how every hospital reads its data: the loading options and
// the schema each data set must match.
type DataSpec struct {
	Options   data.Options `json:"options"`
	Schema    data.Schema  `json:"schema"`
	Normalize string       `json:"normalize"` // "zscore" | "minmax" | "none"
	// Stats is what every contributor releases at the start of a run, the
	// statistics phase: the federation's transform (imputation and
	// normalization, Options.Imputation() and Normalize) is computed from
	// its decrypted totals, and is the only preprocessing any hospital
	// applies.
	Stats stats.Spec `json:"stats"`
	// Text is how the schema's text column (Schema.Text) becomes the
	// model's input: n-grams hashed into buckets with a seed fixed here,
	// term weighting and normalization. With IDF on, the IDF weights come
	// from the document frequencies of the statistics phase (a text block
	// of Stats, each document counted in at most Stats.MaxTermsPerDoc
	// buckets), never from a hospital's own rows. Set exactly when the
	// schema names a text column.
	Text *text.Config `json:"text,omitempty"`
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Validate checks the config's internal consistency, naming the first
// problem found.
func (c *Config) Validate() error {
	if c.Version != Version {
		return fmt.Errorf("federation config: version %d, this fedcrypt reads version %d", c.Version, Version)
	}
	seen := map[string]bool{}
	checkParty := func(role string, p Party) error {
		if !idPattern.MatchString(p.ID) {
			return fmt.Errorf("federation config: %s id %q: want 1-64 letters, digits, '.', '_' or '-'", role, p.ID)
		}
		if seen[p.ID] {
			return fmt.Errorf("federation config: id %q used twice", p.ID)
		}
		seen[p.ID] = true
		if _, err := vault.ParseRecipient(p.Recipient); err != nil {
			return fmt.Errorf("federation config: %s %q: %w", role, p.ID, err)
		}
		if _, err := p.PublicKey(); err != nil {
			return fmt.Errorf("federation config: %s %q: %w", role, p.ID, err)
		}
		return nil
	}
	if err := checkParty("aggregator", c.Aggregator); err != nil {
		return err
	}
	for _, a := range c.Auditors {
		// An auditor only receives sealed outputs; its signing key is
		// needed only if it writes entries (countersignatures).
		if a.SigningKey == "" {
			a.SigningKey = c.Aggregator.SigningKey
		}
		if err := checkParty("auditor", a); err != nil {
			return err
		}
	}
	if err := c.checkSealsToAuditors("aggregator", c.Aggregator); err != nil {
		return err
	}
	var contributors, holders int
	for _, m := range c.Members {
		if err := checkParty("member", m.Party); err != nil {
			return err
		}
		if err := c.checkSealsToAuditors("member", m.Party); err != nil {
			return err
		}
		if !m.Contributor && !m.KeyHolder {
			return fmt.Errorf("federation config: member %q is neither contributor nor key holder", m.ID)
		}
		if m.Rows < 0 {
			return fmt.Errorf("federation config: member %q declares %d rows", m.ID, m.Rows)
		}
		if m.Contributor {
			contributors++
			if c.Training.Weighting == "rows" && m.Rows < 1 {
				return fmt.Errorf("federation config: member %q must declare its rows for row weighting", m.ID)
			}
		}
		if m.KeyHolder {
			holders++
		}
	}
	switch {
	case c.Threshold < 2:
		return fmt.Errorf("federation config: threshold %d: must be at least 2", c.Threshold)
	case c.Threshold > holders:
		return fmt.Errorf("federation config: threshold %d exceeds the %d key holders", c.Threshold, holders)
	case c.MinContributors < 1 || c.MinContributors > contributors:
		return fmt.Errorf("federation config: min_contributors %d out of range [1, %d contributors]", c.MinContributors, contributors)
	case c.HE.Enabled && c.MinContributors < 2:
		// A decrypted "sum" of one upload is that hospital's update.
		return fmt.Errorf("federation config: min_contributors %d with encryption: the key holders would decrypt a single hospital's update; want at least 2", c.MinContributors)
	case c.MaxDecryptions < 1:
		return fmt.Errorf("federation config: max_decryptions %d must be at least 1", c.MaxDecryptions)
	case c.HE.KeyEpochRounds < 0:
		return fmt.Errorf("federation config: he.key_epoch_rounds %d must not be negative", c.HE.KeyEpochRounds)
	}
	// The model decides the decryption budget checked below.
	if err := c.Data.validateText(); err != nil {
		return err
	}
	if err := c.validateModel(); err != nil {
		return err
	}
	if c.HE.Enabled {
		p, err := c.HE.Params()
		if err != nil {
			return fmt.Errorf("federation config: %w", err)
		}
		// The preset must hold every contributor's update in one sum, and
		// every key holder.
		lit := p.Literal()
		switch {
		case contributors > lit.MaxAddends:
			return fmt.Errorf("federation config: %d contributors exceed preset %s's %d addends per sum", contributors, c.HE.Preset, lit.MaxAddends)
		case holders > lit.MaxKeyHolders:
			return fmt.Errorf("federation config: %d key holders exceed preset %s's %d", holders, c.HE.Preset, lit.MaxKeyHolders)
		}
		if _, err := c.CKKS(); err != nil {
			return fmt.Errorf("federation config: decryption_budget: %w", err)
		}
	}
	if !(c.HE.UpdateBound > 0) || math.IsInf(c.HE.UpdateBound, 0) {
		return fmt.Errorf("federation config: update_bound %v must be positive and finite", c.HE.UpdateBound)
	}
	if err := c.DP.validate(); err != nil {
		return err
	}
	if err := c.checkSamplerDistance(); err != nil {
		return err
	}
	if e := c.Evaluation; e.Enabled {
		switch {
		case !c.DP.Enabled:
			return fmt.Errorf("federation config: private evaluation needs DP (its release is charged to the ledgers)")
		case !(e.Epsilon > 0) || e.Epsilon >= c.DP.Epsilon:
			return fmt.Errorf("federation config: evaluation epsilon %v must be in (0, the cap %g)", e.Epsilon, c.DP.Epsilon)
		case !(e.Holdout > 0 && e.Holdout < 1):
			return fmt.Errorf("federation config: evaluation holdout %v must be in (0, 1)", e.Holdout)
		}
		if err := c.EvalScores().Check(); err != nil {
			return fmt.Errorf("federation config: %w", err)
		}
	}
	if err := c.Data.Options.Validate(); err != nil {
		return fmt.Errorf("federation config: %w", err)
	}
	if c.Training.Rounds < 1 || c.Training.LocalSteps < 1 || c.Training.SpareRounds < 0 {
		return fmt.Errorf("federation config: rounds %d and local_steps %d must be at least 1, spare_rounds %d at least 0",
			c.Training.Rounds, c.Training.LocalSteps, c.Training.SpareRounds)
	}
	if err := c.Training.Server.Validate(); err != nil {
		return fmt.Errorf("federation config: %w", err)
	}
	if err := c.Training.Local.Validate(); err != nil {
		return fmt.Errorf("federation config: local optimizer: %w", err)
	}
	if _, err := compress.Parse(c.Training.Compress); err != nil {
		return fmt.Errorf("federation config: training compress: %w", err)
	}
	switch c.Training.Weighting {
	case "equal", "rows":
	default:
		return fmt.Errorf("federation config: weighting %q: want equal or rows", c.Training.Weighting)
	}
	if err := c.validateLineage(); err != nil {
		return err
	}
	switch c.Data.Normalize {
	case "zscore", "minmax", "none":
	default:
		return fmt.Errorf("federation config: normalize %q: want zscore, minmax or none", c.Data.Normalize)
	}
	if _, err := c.StatsLayout(); err != nil {
		return fmt.Errorf("federation config: data stats: %w", err)
	}
	return nil
}

// StatsLayout returns the layout of the statistics phase's vector: with
// a text column whose IDF is on, its document frequencies are the text
// block of the same vector (stats.NewTextLayout).
func (c *Config) StatsLayout() (*stats.Layout, error) {
	if t := c.Data.Text; t != nil && t.IDF {
		return stats.NewTextLayout(c.Data.Stats, c.Data.Schema, *t)
	}
	return stats.NewLayout(c.Data.Stats, c.Data.Schema)
}

// StatsTransform decodes the statistics phase's totals, whose values each
// carry Gaussian noise of standard deviation noiseStd, and computes the
// federation's transform from them (stats.Summary.Transform, with the
// data options' imputation and Normalize): what the aggregator, every
// member and an auditor reading the audit log each compute alike.
func (c *Config) StatsTransform(totals []float64, noiseStd float64) (*stats.Summary, *data.Transform, []string, error) {
	l, err := c.StatsLayout()
	if err != nil {
		return nil, nil, nil, err
	}
	s, err := l.Decode(totals, noiseStd)
	if err != nil {
		return nil, nil, nil, err
	}
	tf, notes, err := s.Transform(c.Data.Options.Imputation(), c.Data.Normalize)
	if err != nil {
		return nil, nil, nil, err
	}
	return s, tf, notes, nil
}

// StatsMax bounds each value of a contributor's noisy statistics vector
// (larger values are clamped to it, which is post-processing), and
// StatsScale is the factor the vector is multiplied by before encryption
// so that a sum over every contributor fits the preset's values.
const StatsMax = 1 << 20

// StatsScale is the public factor statistics vectors are encoded with.
func (c *Config) StatsScale() float64 {
	if !c.HE.Enabled {
		return 1
	}
	p, err := c.HE.Params()
	if err != nil {
		return 1
	}
	return p.Literal().MaxAbs / StatsMax
}

func (d DP) validate() error {
	bad := func(name string, v any, want string) error {
		return fmt.Errorf("federation config: dp %s %v: %s", name, v, want)
	}
	if !d.Enabled {
		return nil
	}
	switch {
	case !(d.Epsilon > 0) || math.IsInf(d.Epsilon, 0):
		return bad("epsilon", d.Epsilon, "must be positive and finite")
	case !(d.Delta > 0 && d.Delta < 1):
		return bad("delta", d.Delta, "must be in (0, 1)")
	case !(d.ClipNorm > 0) || math.IsInf(d.ClipNorm, 0):
		return bad("clip_norm", d.ClipNorm, "must be positive and finite")
	case !(d.SampleRate > 0 && d.SampleRate <= 1):
		return bad("sample_rate", d.SampleRate, "must be in (0, 1]")
	}
	switch d.Accountant {
	case "rdp", "pld":
	default:
		return bad("accountant", d.Accountant, "want rdp or pld")
	}
	return nil
}

// PublicKey decodes the party's ed25519 signing key.
func (p Party) PublicKey() (ed25519.PublicKey, error) { return vault.ParseSigningKey(p.SigningKey) }

// Canonical returns the canonical encoding the hash is computed over.
func (c *Config) Canonical() []byte {
	b, err := json.Marshal(c)
	if err != nil {
		panic("federation: config does not marshal: " + err.Error())
	}
	return b
}

// Hash is the SHA-256 of the canonical encoding.
type Hash [32]byte

func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// Hash returns the config's hash.
func (c *Config) Hash() Hash { return sha256.Sum256(c.Canonical()) }

// Member returns the member with the given id.
func (c *Config) Member(id string) (Member, bool) {
	for _, m := range c.Members {
		if m.ID == id {
			return m, true
		}
	}
	return Member{}, false
}

// Index returns the member's position in Members, which is its key-holder
// index in the threshold scheme; -1 if absent.
func (c *Config) Index(id string) int {
	for i, m := range c.Members {
		if m.ID == id {
			return i
		}
	}
	return -1
}

// KeyHolders and Contributors list member ids in config order.
func (c *Config) KeyHolders() []string {
	var ids []string
	for _, m := range c.Members {
		if m.KeyHolder {
			ids = append(ids, m.ID)
		}
	}
	return ids
}

func (c *Config) Contributors() []string {
	var ids []string
	for _, m := range c.Members {
		if m.Contributor {
			ids = append(ids, m.ID)
		}
	}
	return ids
}

// Weight returns a contributor's public weight in the average: 1 with equal
// weighting, its declared rows over the largest declared rows otherwise.
func (c *Config) Weight(id string) float64 {
	if c.Training.Weighting != "rows" {
		return 1
	}
	maxRows := 0
	for _, m := range c.Members {
		if m.Contributor && m.Rows > maxRows {
			maxRows = m.Rows
		}
	}
	m, ok := c.Member(id)
	if !ok || maxRows == 0 {
		return 0
	}
	return float64(m.Rows) / float64(maxRows)
}

// SigningKey returns the public key registered for id, whoever it is (member,
// aggregator or auditor).
func (c *Config) SigningKey(id string) (ed25519.PublicKey, error) {
	// Called for every signature checked: a thousand members' headers per
	// round at a key holder. No list of parties is built.
	if c.Aggregator.ID == id {
		return c.Aggregator.PublicKey()
	}
	for i := range c.Auditors {
		if c.Auditors[i].ID == id {
			return c.Auditors[i].PublicKey()
		}
	}
	for i := range c.Members {
		if c.Members[i].ID == id {
			return c.Members[i].PublicKey()
		}
	}
	return nil, fmt.Errorf("%q is not a party of this federation", id)
}

// checkSealsToAuditors checks that files sealed to p and to every auditor
// together (the aggregator's checkpoints, each member's audit-log witness)
// can be written: age cannot mix post-quantum and classical recipients in
// one file, so p and every auditor must be of one kind. Called after every
// recipient has parsed.
func (c *Config) checkSealsToAuditors(role string, p Party) error {
	r, _ := vault.ParseRecipient(p.Recipient)
	for _, a := range c.Auditors {
		ar, _ := vault.ParseRecipient(a.Recipient)
		if ar.IsPostQuantum() != r.IsPostQuantum() {
			kind := func(pq bool) string {
				if pq {
					return "a post-quantum (age1pq1…)"
				}
				return "a classical (age1…)"
			}
			return fmt.Errorf("federation config: %s %q has %s recipient and auditor %q %s one: files sealed to both (checkpoints, audit-log witnesses) cannot mix the two kinds; give them recipients of one kind",
				role, p.ID, kind(r.IsPostQuantum()), a.ID, kind(ar.IsPostQuantum()))
		}
	}
	return nil
}

// AuditorRecipients returns the age recipients of the federation's
// auditors, to which sealed outputs meant for an audit are encrypted.
func (c *Config) AuditorRecipients() ([]vault.Recipient, error) {
	var out []vault.Recipient
	for _, a := range c.Auditors {
		r, err := vault.ParseRecipient(a.Recipient)
		if err != nil {
			return nil, fmt.Errorf("auditor %q: %w", a.ID, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// Parse reads a config, rejecting unknown fields, and validates it.
func Parse(r io.Reader, source string) (*Config, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s: trailing data after the config", source)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	return &c, nil
}

// Load reads and validates the config file at path.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(f, path)
}

// Marshal returns the config as indented JSON, for people to read; the hash
// is over [Config.Canonical], not these bytes.
func (c *Config) Marshal() []byte {
	var b bytes.Buffer
	if err := json.Indent(&b, c.Canonical(), "", "  "); err != nil {
		panic("federation: " + err.Error())
	}
	b.WriteByte('\n')
	return b.Bytes()
}

// EncodeScale is the public factor contributors multiply their clipped,
// weighted update by before encryption (and the aggregator divides the
// decrypted sum by): an update clipped to L2 ≤ UpdateBound has no
// coordinate above UpdateBound, so scaling by MaxAbs/UpdateBound (when
// below 1) keeps every encrypted value within what the preset holds. It is
// 1 without encryption.
func (c *Config) EncodeScale() float64 {
	if !c.HE.Enabled {
		return 1
	}
	p, err := c.HE.Params()
	if err != nil {
		return 1
	}
	return min(1, p.Literal().MaxAbs/c.HE.UpdateBound)
}

// Params returns the CKKS parameters of the config's preset.
func (h HE) Params() (*he.Params, error) {
	for _, id := range []he.PresetID{he.PresetCompact, he.PresetPrecise, he.PresetInsecureTestCompact, he.PresetInsecureTestPrecise} {
		if id.String() == h.Preset {
			return he.Preset(id)
		}
	}
	return nil, fmt.Errorf("unknown CKKS preset %q (want compact or precise)", h.Preset)
}

// googleDrawDistance is the statistical distance from the ideal Gaussian
// that Google's library states for one draw of its secure sampler.
var googleDrawDistance = math.Exp2(-45)

// checkSamplerDistance refuses a federation in which Google's sampler
// (--noise google) would draw so many values that its distance from the
// ideal Gaussian, (1+e^ε)·draws·2^-45, exceeds δ/1000: the guarantee is then
// at worst (ε, 1.001·δ). The default sampler's distance is below 1e-30 per
// draw (package dp) and negligible beside any δ.
func (c *Config) checkSamplerDistance() error {
	if !c.DP.Enabled || c.DP.Noise != "google" {
		return nil
	}
	n, err := c.NumParams()
	if err != nil {
		return err
	}
	draws := float64(n) * float64((c.Training.Rounds+c.Training.SpareRounds)*c.Training.LocalSteps)
	dist := (1 + math.Exp(c.DP.Epsilon)) * draws * googleDrawDistance
	if dist > c.DP.Delta/1000 {
		return fmt.Errorf("federation config: the google noise sampler's distance from the ideal Gaussian over %.3g draws (%.2g) exceeds δ/1000; use the fast sampler", draws, dist)
	}
	return nil
}

// MaxCount bounds each confusion-matrix count a contributor releases in a
// private evaluation (larger noisy counts are clamped to it, which is
// post-processing), and EvalScale is the factor counts are multiplied by
// before encryption so that they fit the preset's values.
const MaxCount = 4096

// EvalScale is the public factor evaluation counts are encoded with.
func (c *Config) EvalScale() float64 {
	if !c.HE.Enabled {
		return 1
	}
	p, err := c.HE.Params()
	if err != nil {
		return 1
	}
	return p.Literal().MaxAbs / MaxCount
}

// KeyPolicy is the life of the federation's collective key: its key
// holders, the most addends of any sum (every contributor) and the
// decryption budget L.
func (c *Config) KeyPolicy() he.KeyPolicy {
	return he.KeyPolicy{KeyHolders: len(c.KeyHolders()), Contributors: len(c.Contributors()), Decryptions: c.DecryptionBudget()}
}

// CKKS returns the CKKS parameters of the config's preset with the
// flooding sized for [Config.KeyPolicy]: what key holders and the
// aggregator work with.
func (c *Config) CKKS() (*he.Params, error) {
	p, err := c.HE.Params()
	if err != nil {
		return nil, err
	}
	return p.WithPolicy(c.KeyPolicy())
}

// DecryptionBudget returns L, the ciphertext decryptions each collective key
// may release over its life: the config's, or by default enough for every
// planned round of a key epoch, the spare rounds and the private
// evaluation, each decrypted up to MaxDecryptions times. Zero without
// encryption.
func (c *Config) DecryptionBudget() uint64 {
	if !c.HE.Enabled {
		return 0
	}
	if c.HE.DecryptionBudget > 0 {
		return c.HE.DecryptionBudget
	}
	p, err := c.HE.Params()
	if err != nil {
		return 0
	}
	n, err := c.NumParams()
	if err != nil {
		return 0
	}
	size, err := c.UploadSize(n)
	if err != nil {
		return 0
	}
	per := uint64(p.Ciphertexts(size))
	rounds := uint64(c.Training.Rounds + c.Training.SpareRounds)
	if n := c.HE.KeyEpochRounds; n > 0 {
		rounds = uint64(min(n, c.Training.Rounds) + c.Training.SpareRounds)
	}
	total := per * rounds
	if l, err := c.StatsLayout(); err == nil {
		total += uint64(p.Ciphertexts(l.Len()))
	}
	if c.Evaluation.Enabled {
		total += uint64(p.Ciphertexts(c.EvalScores().Len()))
	}
	return total * uint64(max(1, c.MaxDecryptions))
}

// UploadPlan returns round's compression map of the model's updates
// (compress.RoundSeed of the config's hash and the round), nil without
// compression: what every contributor compresses with and the aggregator
// expands the decrypted sum with.
func (c *Config) UploadPlan(round uint64) (*compress.Plan, error) {
	cc, err := compress.Parse(c.Training.Compress)
	if err != nil || cc.Scheme == compress.None {
		return nil, err
	}
	n, err := c.NumParams()
	if err != nil {
		return nil, err
	}
	h := c.Hash()
	return compress.NewPlan(cc, n, compress.RoundSeed(h[:], round))
}

// UploadSize returns how many values a training upload holds: the
// model's params, or their compressed length (the same every round, and
// computed without drawing the round's map).
func (c *Config) UploadSize(params int) (int, error) {
	cc, err := compress.Parse(c.Training.Compress)
	if err != nil {
		return 0, err
	}
	return cc.Size(params), nil
}

// EndorsementQuorum is q, how many key holders must endorse a sum before any
// of them helps decrypt it: the smallest q with 2q − K ≥ T for K key holders
// and threshold T, so that any two endorsing quorums share at least T key
// holders, at least one of them honest when no more than T−1 collude.
func (c *Config) EndorsementQuorum() int {
	k := len(c.KeyHolders())
	return (k+c.Threshold-1)/2 + 1
}
