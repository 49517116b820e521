package audit

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/protocol"
	"github.com/fedcrypt/fedcrypt/stats"
)

// StatisticsFacts is what a verified statistics entry established.
type StatisticsFacts struct {
	Entry        int      `json:"entry"`
	Contributors []string `json:"contributors"`
	// Epsilon is each contributor's ε for the release alone, and
	// NoiseMultiplier and Sensitivity the Gaussian mechanism's.
	Epsilon         float64         `json:"epsilon"`
	NoiseMultiplier float64         `json:"noise_multiplier,omitempty"`
	Sensitivity     float64         `json:"sensitivity,omitempty"`
	Values          int             `json:"values"`
	NoiseStdDev     float64         `json:"noise_std_dev"`
	Transform       *data.Transform `json:"transform"`
	Notes           []string        `json:"notes,omitempty"`
	// TextTransform is the SHA-256 (hex) of the text featurization the
	// totals give, with a text column.
	TextTransform string `json:"text_transform,omitempty"`
	// Summary is what the totals say, with standard errors.
	Summary *stats.Summary `json:"-"`
	// trained is the digest of the transforms every later claim must
	// name (federation.TransformDigest).
	trained [32]byte
}

// statistics checks a statistics entry: it comes once, before any round;
// each release is a claim signed by its hospital for round 0 and the
// entry's nonce, one unsampled Gaussian release with at least the noise
// the federation's statistics spec calibrates, charged to the hospital's
// spends; the decryption follows the key's budget; and the recorded noise
// and transform are what the federation computes from the totals.
func (v *verifier) statistics(e *Entry, n int) error {
	var b StatisticsBody
	if err := e.DecodeBody(&b); err != nil {
		return err
	}
	if !b.Completed {
		return nil // abandoned: a contributor that released sends the same vector again
	}
	switch {
	case v.run.Statistics != nil:
		return fail(n, "a second statistics release (the first at entry %d)", v.run.Statistics.Entry)
	case len(v.run.Rounds) > 0:
		return fail(n, "statistics after round %d: the transform must be fixed before training", v.run.Rounds[len(v.run.Rounds)-1].Round)
	case len(b.Uploads) < v.fed.MinContributors:
		return fail(n, "statistics of %d releases, fewer than min-contributors %d", len(b.Uploads), v.fed.MinContributors)
	}
	layout, err := v.fed.StatsLayout()
	if err != nil {
		return fail(n, "the federation's statistics spec: %v", err)
	}
	if len(b.Totals) != layout.Len() {
		return fail(n, "%d totals, the federation's statistics have %d values", len(b.Totals), layout.Len())
	}
	if err := v.decryptionSet(b.DecryptionSet); err != nil {
		return fail(n, "statistics: decryption set: %v", err)
	}
	if err := v.decryptions(n, 0, b.KeyEpoch, b.DecryptionFirst, b.DecryptionCount); err != nil {
		return err
	}
	facts := &StatisticsFacts{Entry: n, Values: layout.Len()}
	var want float64 // the noise's variance in each total
	if d := v.fed.DP; d.Enabled {
		rel, err := layout.Calibrate(d.Epsilon, d.Delta)
		if err != nil {
			return fail(n, "calibrate the federation's statistics release: %v", err)
		}
		facts.Epsilon, facts.NoiseMultiplier, facts.Sensitivity = rel.Epsilon, rel.NoiseMultiplier, rel.Sensitivity
	}
	seen := map[string]bool{}
	for _, u := range b.Uploads {
		if seen[u.From] {
			return fail(n, "two statistics releases from %q", u.From)
		}
		seen[u.From] = true
		var c protocol.Claim
		var err error
		if v.fed.DP.Enabled {
			if c, err = v.releaseClaim(u, 0, b.Nonce); err != nil {
				return fail(n, "statistics: %s's claim: %v", u.From, err)
			}
			if c.DP.ClipNorm != facts.Sensitivity || c.DP.NoiseMultiplier < facts.NoiseMultiplier*(1-ClaimTolerance) {
				return fail(n, "statistics: %s released with noise multiplier %g at sensitivity %g, the federation calibrates %g at %g",
					u.From, c.DP.NoiseMultiplier, c.DP.ClipNorm, facts.NoiseMultiplier, facts.Sensitivity)
			}
			s := c.DP.NoiseMultiplier * c.DP.ClipNorm
			want += s * s
		} else if c, err = v.openClaim(u, 0, b.Nonce); err != nil {
			return fail(n, "statistics: %s's claim: %v", u.From, err)
		}
		if err := v.spend(u.From, 0, c); err != nil {
			return fail(n, "statistics: hospital %q: %v", u.From, err)
		}
		h := v.run.hospital(u.From)
		h.Spends[len(h.Spends)-1].Release = TypeStatistics
		facts.Contributors = append(facts.Contributors, u.From)
	}
	if got, want := b.NoiseStdDev, math.Sqrt(want); math.Abs(got-want) > 1e-9*want {
		return fail(n, "noise standard deviation %g, the releases' noise gives %g", got, want)
	}
	in, err := v.fed.Transforms(b.Totals, b.NoiseStdDev)
	if err != nil {
		return fail(n, "the federation's transform from the totals: %v", err)
	}
	x, _ := json.Marshal(in.Numeric)
	y, _ := json.Marshal(b.Transform)
	if !bytes.Equal(x, y) {
		return fail(n, "the recorded transform is not the one the totals give")
	}
	if in.Text != nil {
		d := in.Text.Digest()
		facts.TextTransform = hex.EncodeToString(d[:])
	}
	if b.TextTransform != facts.TextTransform {
		return fail(n, "the recorded text transform %.16q is not the one the totals give (%.16q)", b.TextTransform, facts.TextTransform)
	}
	facts.NoiseStdDev, facts.Transform, facts.Notes, facts.Summary = b.NoiseStdDev, in.Numeric, in.Notes, in.Summary
	facts.trained = in.Digest()
	v.run.Statistics = facts
	return nil
}
