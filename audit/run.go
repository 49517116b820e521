package audit

import (
	"encoding/hex"
	"fmt"
	"time"

	"github.com/fedcrypt/fedcrypt/dp"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/protocol"
)

// Run is what [VerifyRun] established about a run, in the order it read
// the log. When verification fails, it holds what was read up to the
// failure.
type Run struct {
	Verified bool `json:"verified"`
	// Anchored says the log was checked against a sealed checkpoint's head,
	// AnchorEntry being the entry it names; without an anchor, a log whose
	// tail was cut off after its end entry cannot be detected.
	Anchored    bool `json:"anchored"`
	AnchorEntry int  `json:"anchor_entry,omitempty"`
	// Witnesses lists, per hospital, the signed heads it kept that were
	// checked against the log (Options.Witnesses), in member order.
	Witnesses  []WitnessFacts `json:"witnesses,omitempty"`
	Entries    int            `json:"entries"`
	Head       string         `json:"head"` // hex SHA-256 of the last entry read
	ConfigHash string         `json:"config_hash"`
	Software   string         `json:"software,omitempty"`
	// Federation is the federation's name, and Started the time of the
	// log's first entry, as its writer recorded it.
	Federation string    `json:"federation,omitempty"`
	Started    time.Time `json:"started,omitzero"`
	// Unprotected lists what the run ran without (DP, encryption).
	Unprotected []string `json:"unprotected,omitempty"`

	Threshold       int     `json:"threshold"`
	MinContributors int     `json:"min_contributors"`
	Encrypted       bool    `json:"encrypted"`
	Preset          string  `json:"preset,omitempty"`
	Security        string  `json:"security,omitempty"` // the preset's security level, in words
	UpdateBound     float64 `json:"update_bound,omitempty"`
	CollectiveKey   string  `json:"collective_public_key,omitempty"` // digest of the collective public key
	// Epochs are the run's collective keys, each with its decryption
	// budget and how much of it the run's decryptions took.
	Epochs []Epoch `json:"key_epochs,omitempty"`

	DP          bool                `json:"dp"`
	Delta       float64             `json:"delta,omitempty"`
	Accountant  dp.AccountantConfig `json:"accountant"`
	PrivacyUnit string              `json:"privacy_unit,omitempty"` // "" means one record

	Rounds    []RoundFacts `json:"rounds"`
	Hospitals []*Hospital  `json:"hospitals"`
	Ended     string       `json:"ended,omitempty"` // the last end entry's reason
	Resumes   int          `json:"resumes,omitempty"`
	// Statistics is the statistics phase's release, nil if the log has
	// none.
	Statistics *StatisticsFacts `json:"statistics,omitempty"`
	// Evaluation is the private evaluation of the final model, nil if the
	// log has none that completed.
	Evaluation *EvaluationFacts `json:"evaluation,omitempty"`
	// Lineage is the federation version's lineage, as the setup entry
	// records it: the version this one replaces, members added and removed.
	Lineage *federation.Lineage `json:"lineage,omitempty"`
}

// RoundFacts is one round entry (completed) or round-abandoned entry.
type RoundFacts struct {
	Entry         int               `json:"entry"`
	Round         uint64            `json:"round"`
	Attempt       int               `json:"attempt"`
	Completed     bool              `json:"completed"`
	Reason        string            `json:"reason,omitempty"`
	Contributors  []string          `json:"contributors"`
	Declined      map[string]string `json:"declined,omitempty"`
	Dropped       []string          `json:"dropped,omitempty"`
	DecryptionSet []string          `json:"decryption_set,omitempty"`
	Uploads       []UploadFacts     `json:"uploads,omitempty"`
	ModelDigest   string            `json:"model_digest,omitempty"`
	BytesUp       int64             `json:"bytes_up,omitempty"`
}

// UploadFacts names one verified upload: the digest of its signed envelope
// and the SHA-256 of its payload (a ciphertext, or plaintext in runs
// without encryption), as the hospital signed them.
type UploadFacts struct {
	From          string `json:"from"`
	Digest        string `json:"digest"`
	PayloadDigest string `json:"payload_digest"`
	Dataset       string `json:"dataset_commitment"` // the hospital's keyed commitment to its data set
}

// ClaimFacts is a hospital's signed claim for one upload, decoded: what a
// round entry shows people next to the claim itself. [VerifyRun] checks it
// equals the signed claim, and trusts only the latter.
type ClaimFacts struct {
	Weight          float64 `json:"weight"`
	Encrypted       bool    `json:"encrypted"`
	DP              bool    `json:"dp"`
	SampleRate      float64 `json:"sample_rate,omitempty"`
	NoiseMultiplier float64 `json:"noise_multiplier,omitempty"`
	Steps           uint64  `json:"steps,omitempty"`
	ClipNorm        float64 `json:"clip_norm,omitempty"`
	Accountant      string  `json:"accountant,omitempty"`
	PrivacyUnit     string  `json:"privacy_unit,omitempty"`
	Epsilon         float64 `json:"epsilon,omitempty"` // after the round
	Delta           float64 `json:"delta,omitempty"`
	PayloadDigest   string  `json:"payload_digest"`
	// Dataset is the hospital's keyed commitment to its data set.
	Dataset string `json:"dataset_commitment"`
}

// FactsOf decodes a claim for a round entry.
func FactsOf(c protocol.Claim) ClaimFacts {
	return ClaimFacts{Weight: c.Weight, Encrypted: c.Encrypted, DP: c.DP.Enabled, SampleRate: c.DP.SampleRate,
		NoiseMultiplier: c.DP.NoiseMultiplier, Steps: c.DP.Steps, ClipNorm: c.DP.ClipNorm, Accountant: c.DP.Accountant,
		PrivacyUnit: c.DP.PrivacyUnit, Epsilon: c.DP.Epsilon, Delta: c.DP.Delta, PayloadDigest: hex.EncodeToString(c.PayloadDigest[:]),
		Dataset: hex.EncodeToString(c.Dataset[:])}
}

// Hospital is one member's privacy record in the run.
type Hospital struct {
	ID          string  `json:"id"`
	Contributor bool    `json:"contributor"`
	KeyHolder   bool    `json:"key_holder"`
	Cap         float64 `json:"cap,omitempty"` // its ε cap
	Spends      []Spend `json:"spends"`
}

// Spend is one round's DP-SGD as the hospital claimed it (zeros in runs
// without DP, which give no guarantee), and ε after it
// as claimed and as recomputed from every claimed round so far in this
// log. The claim may be higher (spends in earlier runs or abandoned rounds
// count in the hospital's ledger) but never lower.
type Spend struct {
	Round           uint64  `json:"round"`
	Claimed         float64 `json:"claimed_epsilon"`
	Recomputed      float64 `json:"recomputed_epsilon"`
	NoiseMultiplier float64 `json:"noise_multiplier"`
	SampleRate      float64 `json:"sample_rate"`
	Steps           int     `json:"steps"`
	ClipNorm        float64 `json:"clip_norm"`
	// Release names a one-off release rather than a round's DP-SGD:
	// "statistics" or "evaluation".
	Release string `json:"release,omitempty"`
	// LedgerVersion is the version of the hospital's ledger the claim was
	// made from (its number of entries); it only grows, across runs and
	// versions of the federation.
	LedgerVersion uint64 `json:"ledger_version,omitempty"`
}

// TrainingRounds returns how many of h's spends are rounds of DP-SGD.
func (h *Hospital) TrainingRounds() int {
	n := 0
	for _, s := range h.Spends {
		if s.Release == "" {
			n++
		}
	}
	return n
}

// Epsilon returns the hospital's ε after its last verified round in the
// log, claimed and recomputed; zeros if it contributed to none.
func (h *Hospital) Epsilon() (claimed, recomputed float64) {
	if len(h.Spends) == 0 {
		return 0, 0
	}
	s := h.Spends[len(h.Spends)-1]
	return s.Claimed, s.Recomputed
}

// Guarantee states the hospital's guarantee in plain words.
func (r *Run) Guarantee(h *Hospital) string {
	if !r.DP {
		return "no differential privacy: the model may reveal individual patients"
	}
	claimed, _ := h.Epsilon()
	if len(h.Spends) == 0 {
		return fmt.Sprintf("contributed to no round of this run (cap ε = %g)", h.Cap)
	}
	return fmt.Sprintf("(ε = %.3g, δ = %g)-differential privacy for %s, %s accountant, over %d rounds (cap ε = %g)",
		claimed, r.Delta, r.Neighbouring(), r.Accountant.Kind, h.TrainingRounds(), h.Cap)
}

// Neighbouring names the neighbouring relation of the run's guarantee.
func (r *Run) Neighbouring() string {
	if r.PrivacyUnit == "" {
		return "one record (add/remove one row)"
	}
	return fmt.Sprintf("one patient (add/remove all rows sharing a %q value)", r.PrivacyUnit)
}

// AccountantSettings returns every setting of the federation's accountant,
// defaults filled in: what its clients account with and what [VerifyRun]
// recomputes ε with. The zero value for a federation without DP.
func AccountantSettings(fed *federation.Config) dp.AccountantConfig {
	if !fed.DP.Enabled {
		return dp.AccountantConfig{}
	}
	a, err := dp.NewAccountant(dp.AccountantConfig{Kind: fed.DP.Accountant})
	if err != nil {
		return dp.AccountantConfig{Kind: fed.DP.Accountant}
	}
	return a.Config()
}

func newRun(fed *federation.Config) *Run {
	h := fed.Hash()
	r := &Run{ConfigHash: h.String(), Threshold: fed.Threshold, MinContributors: fed.MinContributors,
		Encrypted: fed.HE.Enabled, UpdateBound: fed.HE.UpdateBound, DP: fed.DP.Enabled, Unprotected: Unprotected(fed)}
	if fed.HE.Enabled {
		r.Preset = fed.HE.Preset
		r.Security = SecurityLevel(fed.HE)
	}
	if fed.DP.Enabled {
		r.Delta, r.PrivacyUnit = fed.DP.Delta, fed.DP.PrivacyUnit
		r.Accountant = dp.AccountantConfig{Kind: fed.DP.Accountant}
	}
	for _, m := range fed.Members {
		hm := &Hospital{ID: m.ID, Contributor: m.Contributor, KeyHolder: m.KeyHolder}
		if fed.DP.Enabled && m.Contributor {
			hm.Cap = fed.DP.Epsilon
		}
		r.Hospitals = append(r.Hospitals, hm)
	}
	return r
}

// hospital returns the record of member id (which VerifyRun has checked
// is a member).
func (r *Run) hospital(id string) *Hospital {
	for _, h := range r.Hospitals {
		if h.ID == id {
			return h
		}
	}
	panic("audit: not a member: " + id)
}

// SecurityLevel describes a preset's security in words: 128-bit classical
// security by the Homomorphic Encryption Standard's bound on log2 Q for the
// ring degree, and the statistical security of the flooding noise.
func SecurityLevel(h federation.HE) string {
	p, err := h.Params()
	if err != nil {
		return "unknown preset"
	}
	lit := p.Literal()
	if lit.InsecureTestOnly {
		return fmt.Sprintf("NOT SECURE: test-only parameters (ring degree 2^%d)", lit.LogN)
	}
	return fmt.Sprintf("128-bit classical security (HE Standard: ring degree 2^%d, log2 Q = %.0f); decryption shares flooded for %d-bit statistical security",
		lit.LogN, p.LogQ(), lit.StatisticalSecurity)
}
