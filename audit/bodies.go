package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/dp"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/he"
	"github.com/fedcrypt/fedcrypt/model"
)

// Entry types written by the aggregator, each with its body type: the
// aggregator writes these types and [VerifyRun] reads them, so this file is
// the log's schema.
//
// The body's JSON keys are fixed by the logs already written: the hash
// chain covers every body byte for byte, so old bodies are never encoded
// again, only decoded. Bodies written with a map had their keys in
// alphabetical order; bodies written with these types have them in field
// order. Both decode alike, and [Entry.DecodeBody] refuses a key the type
// does not declare.
const (
	TypeSetup          = "setup"           // SetupBody
	TypeStatistics     = "statistics"      // StatisticsBody
	TypeRound          = "round"           // RoundBody
	TypeRoundAbandoned = "round-abandoned" // RoundAbandonedBody
	TypeResume         = "resume"          // ResumeBody
	TypeEnd            = "end"             // EndBody
	TypeEvaluation     = "evaluation"      // EvaluationBody: the private evaluation of the final model
	TypeRekey          = "rekey"           // RekeyBody: a new key epoch between rounds
)

// Body is an entry's body: one of the body types below, which names its
// entry type.
type Body interface {
	EntryType() string
}

func (SetupBody) EntryType() string          { return TypeSetup }
func (StatisticsBody) EntryType() string     { return TypeStatistics }
func (RoundBody) EntryType() string          { return TypeRound }
func (RoundAbandonedBody) EntryType() string { return TypeRoundAbandoned }
func (ResumeBody) EntryType() string         { return TypeResume }
func (EndBody) EntryType() string            { return TypeEnd }
func (EvaluationBody) EntryType() string     { return TypeEvaluation }
func (RekeyBody) EntryType() string          { return TypeRekey }

// DecodeBody decodes e's body into dst, a pointer to the body type of e's
// type. A key dst does not declare (misspelled, or from another entry
// type) is an error naming it.
func (e *Entry) DecodeBody(dst any) error {
	dec := json.NewDecoder(bytes.NewReader(e.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		// encoding/json has no error type for an unknown field.
		if key, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return fmt.Errorf("body: unknown key %s", key)
		}
		return fmt.Errorf("body: %w", err)
	}
	return nil
}

// SetupBody is the body of a setup entry: the federation as the run set it
// up, from its config, and the collective key of the run's first key
// epoch. A resumed run sets up again, with a fresh key epoch.
type SetupBody struct {
	ConfigHash      string        `json:"config_hash"`
	Software        string        `json:"software"` // the aggregator's release
	Members         []SetupMember `json:"members"`
	Threshold       int           `json:"threshold"`
	MinContributors int           `json:"min_contributors"`
	MaxDecryptions  int           `json:"max_decryptions"`
	HE              federation.HE `json:"he"`
	DP              federation.DP `json:"dp"`
	Model           model.Config  `json:"model"`
	// SparseModel is the model of a federation on a text column, whose
	// Model is then the zero value; nil otherwise.
	SparseModel *model.SparseConfig `json:"sparse_model,omitempty"`
	Training    federation.Training `json:"training"`
	Schema      data.Schema         `json:"schema"`
	// Accountant is every setting of the federation's accountant, defaults
	// filled in ([AccountantSettings]); nil in logs that predate it.
	Accountant *dp.AccountantConfig `json:"accountant,omitempty"`
	// Unprotected lists what the run runs without (see [Unprotected]).
	Unprotected []string `json:"unprotected,omitempty"`
	// Lineage is the version this config replaces, and the members added
	// and removed; nil for a federation's first version.
	Lineage *federation.Lineage `json:"lineage,omitempty"`

	// With encryption: the CKKS parameters' figures, for readers.
	HELogQ          float64 `json:"he_log_q,omitempty"`
	HESlots         int     `json:"he_slots,omitempty"`
	HEFloodingSigma float64 `json:"he_flooding_sigma,omitempty"`
	HEPrecisionBits float64 `json:"he_precision_bits,omitempty"`
	HESecurity      string  `json:"he_security,omitempty"` // [SecurityLevel]
	// With encryption: the digest of the collective public key, its key
	// epoch, its decryption budget and the policy the flooding is sized
	// for.
	CollectiveKey    string        `json:"collective_public_key,omitempty"`
	KeyEpoch         uint64        `json:"key_epoch,omitempty"`
	DecryptionBudget uint64        `json:"decryption_budget,omitempty"`
	KeyPolicy        *he.KeyPolicy `json:"key_policy,omitempty"`
}

// SetupMember is one member of the federation as its setup entry records
// it.
type SetupMember struct {
	ID          string `json:"id"`
	Contributor bool   `json:"contributor"`
	KeyHolder   bool   `json:"key_holder"`
	SigningKey  string `json:"signing_key"`
	Recipient   string `json:"recipient"`
}

// StatisticsBody is the body of a statistics entry: one attempt at the
// statistics phase, completed or abandoned.
type StatisticsBody struct {
	Completed bool   `json:"completed"`
	Attempt   int    `json:"attempt"`
	Nonce     string `json:"nonce,omitempty"`
	// Uploads are the contributors' signed claims of their releases.
	Uploads []UploadClaim `json:"uploads,omitempty"`
	// Totals is the decrypted sum (the stats layout's order), each value
	// with Gaussian noise of standard deviation NoiseStdDev: the
	// contributors' σ summed in quadrature.
	Totals      []float64       `json:"totals,omitempty"`
	NoiseStdDev float64         `json:"noise_std_dev,omitempty"`
	Transform   *data.Transform `json:"transform,omitempty"`
	// Notes name the transform's figures that fell back from a DP
	// estimate too noisy to use.
	Notes []string `json:"notes,omitempty"`
	// TextTransform is, with a text column, the SHA-256 (hex) of the text
	// featurization the totals give (its IDF weights from the document
	// frequencies when IDF is on: text.Transform.Digest), and TextNote
	// how that estimate degraded, if it did.
	TextTransform string `json:"text_transform,omitempty"`
	TextNote      string `json:"text_note,omitempty"`
	Decryption

	// An abandoned attempt's reason, and who declined, dropped or was
	// refused.
	Reason   string            `json:"reason,omitempty"`
	Declined map[string]string `json:"declined,omitempty"`
	Dropped  []string          `json:"dropped,omitempty"`
	Refused  map[string]string `json:"refused,omitempty"`
}

// UploadClaim is one contributor's signed claim for a release.
type UploadClaim struct {
	From  string `json:"from"`
	Claim []byte `json:"claim"` // the hospital's signed claim envelope, verbatim
}

// RoundBody is the body of a round entry: a completed round, its sum
// decrypted and the global model updated.
type RoundBody struct {
	Round        uint64            `json:"round"`
	Attempt      int               `json:"attempt"`
	Contributors []string          `json:"contributors"` // whose uploads were summed
	Declined     map[string]string `json:"declined"`     // contributor → reason
	Dropped      []string          `json:"dropped"`
	Refused      map[string]string `json:"refused"` // rejected messages: sender → reason
	Decryption
	// ShareDigests are the SHA-256 of each decryption share combined, by
	// key holder.
	ShareDigests map[string]string `json:"share_digests"`
	Uploads      []RoundUpload     `json:"uploads"`
	ModelDigest  string            `json:"model_digest"` // of the global model after the round
	BytesUp      int64             `json:"bytes_up"`
	Nonce        string            `json:"nonce"` // hex; every claim of the round is bound to it
}

// Decryption is how a sum was decrypted: the key holders whose shares
// decrypted it, the key epoch, and the range [First, First+Count) of the
// epoch's decryption budget it took. Zero without encryption.
type Decryption struct {
	DecryptionSet   []string `json:"decryption_set,omitempty"`
	KeyEpoch        uint64   `json:"key_epoch,omitempty"`
	DecryptionFirst uint64   `json:"decryption_first,omitempty"`
	DecryptionCount uint64   `json:"decryption_count,omitempty"`
}

// RoundUpload is one upload of a round: the digest of its signed envelope
// and the hospital's signed claim, verbatim.
type RoundUpload struct {
	From   string `json:"from"`
	Digest string `json:"digest"`
	Claim  []byte `json:"claim"`
	// Facts is the claim decoded, for people reading the log; [VerifyRun]
	// checks it against the signed claim.
	Facts *ClaimFacts `json:"facts,omitempty"`
}

// RoundAbandonedBody is the body of a round-abandoned entry: an attempt at
// a round that did not complete, and why.
type RoundAbandonedBody struct {
	Round   uint64 `json:"round"`
	Attempt int    `json:"attempt"`
	Reason  string `json:"reason"`
	// Uploads are the contributors whose uploads arrived.
	Uploads  []string          `json:"uploads"`
	Declined map[string]string `json:"declined"`
	Dropped  []string          `json:"dropped"`
	Refused  map[string]string `json:"refused"`
}

// ResumeBody is the body of a resume entry: the run continues from its
// checkpoint after round AfterRound (nil only in a malformed entry).
type ResumeBody struct {
	AfterRound *uint64 `json:"after_round"`
	Software   string  `json:"software,omitempty"` // the resuming aggregator's release
}

// EndBody is the body of an end entry.
type EndBody struct {
	Reason string `json:"reason"`
}

// EvaluationBody is the body of an evaluation entry: the private
// evaluation of the final model, as the federation's round
// Training.Rounds+1. One that did not complete sets only Reason, Declined
// and Dropped.
type EvaluationBody struct {
	Completed    bool          `json:"completed"`
	Round        uint64        `json:"round,omitempty"`
	Nonce        string        `json:"nonce,omitempty"`
	Contributors []string      `json:"contributors,omitempty"`
	Uploads      []UploadClaim `json:"uploads,omitempty"`
	// Totals are the decrypted noisy totals in the federation's layout
	// (stats.Scores), nil in logs that predate them; NoiseStdDev is each
	// total's noise. Confusion, Accuracy and AUC are read from them.
	Totals      []float64   `json:"totals"`
	Confusion   [][]float64 `json:"confusion,omitempty"`
	Accuracy    float64     `json:"accuracy,omitempty"`
	AUC         float64     `json:"auc,omitempty"`
	Bins        int         `json:"bins,omitempty"`
	Epsilon     float64     `json:"epsilon,omitempty"` // each release's own ε
	NoiseStdDev float64     `json:"noise_std_dev,omitempty"`
	Decryption

	Reason   string            `json:"reason,omitempty"`
	Declined map[string]string `json:"declined,omitempty"`
	Dropped  []string          `json:"dropped,omitempty"`
}

// RekeyBody is the body of a rekey entry: the federation moved to a new key
// epoch between rounds, with a new collective key (its digest) from fresh
// secrets and a new decryption budget, for the reason given (every N
// rounds, or a budget that could not cover another round).
type RekeyBody struct {
	Epoch            uint64 `json:"epoch"`
	Reason           string `json:"reason"`
	CollectiveKey    string `json:"collective_public_key"`
	DecryptionBudget uint64 `json:"decryption_budget"`
}

// round returns the round of a round or round-abandoned entry.
func (e *Entry) round() (uint64, error) {
	if e.Type == TypeRound {
		var b RoundBody
		err := e.DecodeBody(&b)
		return b.Round, err
	}
	var b RoundAbandonedBody
	err := e.DecodeBody(&b)
	return b.Round, err
}
