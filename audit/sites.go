package audit

import (
	"crypto/ed25519"
	"fmt"
	"math"
	"slices"

	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/protocol"
	"github.com/fedcrypt/fedcrypt/stats"
	"github.com/fedcrypt/fedcrypt/vault"
)

// SiteScores is one hospital's own evaluation release, as an auditor
// opened it: its noisy counts on its own held-out rows, read as scores.
// Each is a DP release on its own, the same release the hospital added to
// the federation's sum.
type SiteScores struct {
	ID string `json:"id"`
	stats.ScoreMetrics
	// NoiseStdDev is the standard deviation of the noise in each count.
	NoiseStdDev float64 `json:"noise_std_dev"`
}

// SiteMean is the unweighted mean of the sites' scores, each site counting
// once whatever its size; a score undefined at a site is left out of its
// mean, and AUCSites says how many sites the AUC averages.
type SiteMean struct {
	Sites     int     `json:"sites"`
	Accuracy  float64 `json:"accuracy"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	AUC       float64 `json:"auc"`
	AUCSites  int     `json:"auc_sites"`
}

// OpenSite opens a hospital's sealed evaluation release (a claim's Site),
// written and signed by signer, with an auditor's identity, and reads it
// in layout. noise is the standard deviation of each count's noise, as the
// hospital's claim states it.
func OpenSite(id string, sealed []byte, signer ed25519.PublicKey, auditor *vault.Identity, layout stats.Scores, noise float64) (SiteScores, error) {
	b, err := vault.UnsealBytes(sealed, protocol.SealKindSite, signer, auditor)
	if err != nil {
		return SiteScores{}, fmt.Errorf("site release of %q: %w", id, err)
	}
	sc, err := protocol.ParseSiteCounts(b)
	if err != nil {
		return SiteScores{}, fmt.Errorf("site release of %q: %w", id, err)
	}
	v := make([]float64, len(sc.Counts))
	for i, c := range sc.Counts {
		v[i] = float64(c)
	}
	m, err := layout.Metrics(v)
	if err != nil {
		return SiteScores{}, fmt.Errorf("site release of %q: %w", id, err)
	}
	return SiteScores{ID: id, ScoreMetrics: m, NoiseStdDev: noise}, nil
}

// OpenSites opens every sealed release in sealed (by hospital) with an
// auditor's identity, the signers' keys taken from fed, in fed's member
// order, and returns them with their mean.
func OpenSites(fed *federation.Config, sealed map[string][]byte, sigma map[string]float64, auditor *vault.Identity) ([]SiteScores, *SiteMean, error) {
	layout := fed.EvalScores()
	var out []SiteScores
	for _, m := range fed.Members {
		b, ok := sealed[m.ID]
		if !ok {
			continue
		}
		key, err := fed.SigningKey(m.ID)
		if err != nil {
			return nil, nil, err
		}
		s, err := OpenSite(m.ID, b, key, auditor, layout, sigma[m.ID]*layout.Sensitivity())
		if err != nil {
			return nil, nil, err
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, nil, nil
	}
	return out, MeanOf(out), nil
}

// MeanOf returns the sites' mean scores.
func MeanOf(sites []SiteScores) *SiteMean {
	m := &SiteMean{Sites: len(sites)}
	var n [4]int
	for _, s := range sites {
		for i, v := range []struct {
			name string
			at   *float64
			val  float64
		}{{"accuracy", &m.Accuracy, s.Accuracy}, {"precision", &m.Precision, s.Precision}, {"recall", &m.Recall, s.Recall}, {"f1", &m.F1, s.F1}} {
			if !slices.Contains(s.Undefined, v.name) {
				*v.at += v.val
				n[i]++
			}
		}
		if !slices.Contains(s.Undefined, "auc") {
			m.AUC += s.AUC
			m.AUCSites++
		}
	}
	for i, at := range []*float64{&m.Accuracy, &m.Precision, &m.Recall, &m.F1} {
		*at /= math.Max(1, float64(n[i]))
	}
	m.AUC /= math.Max(1, float64(m.AUCSites))
	return m
}
