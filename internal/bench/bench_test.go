package bench

import (
	"context"
	"math"
	"testing"

	"github.com/fedcrypt/fedcrypt/he"
)

// TestRunQuick checks that a quick run's figures are present, positive and
// consistent with each other and with package he's exact sizes.
func TestRunQuick(t *testing.T) {
	r, err := Run(context.Background(), Config{Quick: true, Reps: 2})
	if err != nil {
		t.Fatal(err)
	}
	p, err := he.Preset(he.PresetPrecise)
	if err != nil {
		t.Fatal(err)
	}
	if want := float64(p.UpdateSize(WireParams)) / WireParams; r.HEBytesPerParam != want {
		t.Errorf("he_bytes_per_param %v, want the precise preset's %v", r.HEBytesPerParam, want)
	}
	if r.HEBytesPerParam > 33 || r.HEPrecisionBits < 16 {
		t.Errorf("default preset: %.2f bytes/param, %.1f bits; want ≤ 33 and ≥ 16", r.HEBytesPerParam, r.HEPrecisionBits)
	}
	for _, h := range r.HE {
		// Within a few bits of the σ estimate: the worst of thousands of
		// values lies 2 to 5 standard deviations out, and DecodePublic
		// rounds away the bits below the error's tail.
		if d := h.ExpectedPrecisionBits - h.PrecisionBits; d < 0 || d > 6 {
			t.Errorf("%s: measured %.1f bits, σ estimate %.1f", h.Preset, h.PrecisionBits, h.ExpectedPrecisionBits)
		}
		for name, s := range map[string]Span{"encrypt 1 core": h.EncryptOneCore, "encrypt": h.EncryptAllCores,
			"aggregate": h.Aggregate, "share": h.DecryptionShareMs, "combine": h.CombineMs} {
			if !(s.Best > 0) || math.IsInf(s.Best, 0) || !(s.Worst > 0) {
				t.Errorf("%s %s: %+v", h.Preset, name, s)
			}
		}
		if h.ShareBytesPerParam >= h.UploadBytesPerParam {
			t.Errorf("%s: a decryption share (%v B/param) is not smaller than an upload (%v)", h.Preset, h.ShareBytesPerParam, h.UploadBytesPerParam)
		}
	}
	if !(r.DPNoiseNsPerDraw > 0) || !(r.DPStepRatio > 0) || !(r.RoundRatio > 0) || !(r.HEEncryptParamsPerS > 0) {
		t.Errorf("headline figures not all positive: %+v", r)
	}
	for _, rd := range r.Rounds {
		// An encrypted upload is the preset's exact update size; a plaintext
		// one carries 8 bytes per parameter.
		if got, want := rd.EncryptedBytesPerHospital, float64(p.UpdateSize(rd.Params)); math.Abs(got-want) > 0.02*want+4096 {
			t.Errorf("%d hospitals: %v encrypted bytes per hospital, want about %v", rd.Hospitals, got, want)
		}
		if rd.PlaintextBytesPerHospital < 8*float64(rd.Params) || rd.PlaintextBytesPerHospital >= rd.EncryptedBytesPerHospital {
			t.Errorf("%d hospitals: plaintext %v bytes per hospital, encrypted %v, params %d", rd.Hospitals, rd.PlaintextBytesPerHospital, rd.EncryptedBytesPerHospital, rd.Params)
		}
	}
	t.Logf("%+v", r)
}
