package project

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Version is the project file format this package reads.
const Version = 1

// File is a project file as written. Its zero-valued settings take the
// defaults of [Defaults] when the federation is built.
type File struct {
	Version         int        `yaml:"version"`
	Name            string     `yaml:"name"`
	Aggregator      Party      `yaml:"aggregator"`
	Auditors        []Auditor  `yaml:"auditors"`
	Members         []Member   `yaml:"members"`
	Threshold       int        `yaml:"threshold"`
	MinContributors int        `yaml:"min_contributors"`
	MaxDecryptions  int        `yaml:"max_decryptions"`
	HE              HE         `yaml:"he"`
	DP              DP         `yaml:"dp"`
	Model           string     `yaml:"model"`
	Training        Training   `yaml:"training"`
	Evaluation      Evaluation `yaml:"evaluation"`
	Data            Data       `yaml:"data"`

	path string     // where the file was read from, for errors and relative paths
	root *yaml.Node // the document, for the lines errors name
}

// Party is a party's public parts: its age recipient, its ed25519 signing
// key ("ed25519:…"), the host names its certificate may carry and,
// optionally, its certificate request or a certificate already issued
// (paths relative to the project file).
type Party struct {
	ID         string   `yaml:"id"`
	Recipient  string   `yaml:"recipient"`
	SigningKey string   `yaml:"signing_key"`
	Hosts      []string `yaml:"hosts"`
	CSR        string   `yaml:"csr"`
	Cert       string   `yaml:"cert"`
}

// Member is a hospital. Roles are "contributor" and "key_holder"; none
// given means both.
type Member struct {
	Party `yaml:",inline"`
	Roles []string `yaml:"roles"`
	// Rows is the declared (public) number of training rows, for
	// weighting: rows.
	Rows int `yaml:"rows"`
}

// Auditor receives the sealed checkpoints.
type Auditor struct {
	ID        string `yaml:"id"`
	Recipient string `yaml:"recipient"`
}

// HE configures encryption of updates (see [federation.HE]).
type HE struct {
	Enabled          *bool   `yaml:"enabled"`
	Preset           string  `yaml:"preset"`
	UpdateBound      float64 `yaml:"update_bound"`
	DecryptionBudget uint64  `yaml:"decryption_budget"`
	KeyEpochRounds   int     `yaml:"key_epoch_rounds"`
}

// DP configures each contributor's DP-SGD (see [federation.DP]).
type DP struct {
	Enabled    *bool   `yaml:"enabled"`
	Epsilon    float64 `yaml:"epsilon"`
	Delta      float64 `yaml:"delta"`
	Accountant string  `yaml:"accountant"`
	Noise      string  `yaml:"noise"`
	ClipNorm   float64 `yaml:"clip_norm"`
	SampleRate float64 `yaml:"sample_rate"`
}

// Training configures local and server optimization (see
// [federation.Training]).
type Training struct {
	Rounds          int      `yaml:"rounds"`
	LocalSteps      int      `yaml:"local_steps"`
	SpareRounds     *int     `yaml:"spare_rounds"`
	Optimizer       string   `yaml:"optimizer"`
	LR              float64  `yaml:"lr"`
	Momentum        *float64 `yaml:"momentum"`
	ServerOptimizer string   `yaml:"server_optimizer"`
	Weighting       string   `yaml:"weighting"`
}

// Evaluation configures the private evaluation of the final model.
type Evaluation struct {
	Enabled bool    `yaml:"enabled"`
	Epsilon float64 `yaml:"epsilon"`
	Holdout float64 `yaml:"holdout"`
	// Bins is the number of probability bins of the released score
	// histograms, for the AUC; 0 means federation.DefaultEvalBins.
	Bins int `yaml:"bins"`
}

// Data is the schema every member's data set must match and how it is
// read. With two classes the second is the positive one.
type Data struct {
	Label       string   `yaml:"label"`
	Classes     []string `yaml:"classes"`
	Features    []string `yaml:"features"`
	Drop        []string `yaml:"drop"`
	Missing     string   `yaml:"missing"`
	PrivacyUnit string   `yaml:"privacy_unit"`
	Normalize   string   `yaml:"normalize"`
	// Bounds are features' declared ranges, [lo, hi] by name: public
	// knowledge such as clinical ranges. Values are clamped to them, and
	// the statistics phase releases their moments and histograms.
	Bounds map[string][]float64 `yaml:"bounds"`
	// StatsShare is the share of ε the statistics phase takes (default
	// stats.DefaultEpsilonShare).
	StatsShare float64 `yaml:"stats_share"`
	// Text, when set, names a free-text column and how its documents
	// become the model's input; the model is then a text model.
	Text *Text `yaml:"text"`
}

// Text is a free-text column and its featurization (see [text.Config]):
// word n-grams hashed into buckets, sublinear tf, IDF from the statistics
// phase's DP document frequencies (each document counted in at most
// max_terms_per_doc buckets), l2 norm (mean for an embedding bag). The
// model reads the buckets, then the numeric features, if any.
type Text struct {
	Column         string `yaml:"column"`
	Buckets        int    `yaml:"buckets"`
	NGrams         int    `yaml:"ngrams"`
	HashSeed       uint64 `yaml:"hash_seed"`
	IDF            *bool  `yaml:"idf"`
	MaxTermsPerDoc int    `yaml:"max_terms_per_doc"`
}

// maxFile bounds a project file's size.
const maxFile = 4 << 20

// Load reads the project file at path strictly (see [Parse]).
func Load(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(f, path)
}

// Parse decodes a project file read from path. An unknown or repeated
// field, or a value of the wrong type, is an error naming it and its line.
// It does not validate the settings: [File.Build] does.
func Parse(r io.Reader, path string) (*File, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(b) > maxFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxFile)
	}
	f := &File{path: path}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty project file", path)
		}
		return nil, fmt.Errorf("%s: %s", path, yamlError(err))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: more than one YAML document", path)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %s", path, yamlError(err))
	}
	if len(doc.Content) == 1 {
		f.root = doc.Content[0]
	}
	return f, nil
}

// yamlError folds the YAML library's error into one line:
// "line 7: field colour not found in type project.Member".
func yamlError(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return strings.Join(te.Errors, "; ")
	}
	return strings.ReplaceAll(strings.TrimPrefix(err.Error(), "yaml: "), "\n", "; ")
}

// Dir is the directory relative paths in the file are resolved against.
func (f *File) Dir() string { return filepath.Dir(f.path) }

// resolve returns p relative to the project file.
func (f *File) resolve(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(f.Dir(), p)
}

// errAt returns an error located at the node path names ("members", 2,
// "recipient"): "fed.yaml:14: what". The line is of the deepest node found.
func (f *File) errAt(path []any, format string, a ...any) error {
	msg := fmt.Sprintf(format, a...)
	if line := f.line(path...); line > 0 {
		return fmt.Errorf("%s:%d: %s", f.path, line, msg)
	}
	return fmt.Errorf("%s: %s", f.path, msg)
}

func (f *File) line(path ...any) int {
	n := f.root
	line := 0
	for _, step := range path {
		if n == nil {
			break
		}
		line = n.Line
		var next *yaml.Node
		switch s := step.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == s {
						next = n.Content[i+1]
						line = n.Content[i].Line
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && s < len(n.Content) {
				next = n.Content[s]
			}
		}
		if next == nil {
			return line
		}
		n = next
		line = n.Line
	}
	return line
}

// at is a node path: "members", 2, "recipient".
func at(steps ...any) []any { return steps }

// itoa is for messages.
var itoa = strconv.Itoa
