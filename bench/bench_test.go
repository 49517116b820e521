package bench

import (
	"context"
	"errors"
	"math"
	"runtime"
	"slices"
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
	if !(r.DPNoiseNsPerDraw > 0) || !(r.DPStepRatio > 0) || !(r.DPStepRatioAllCores > 0) || !(r.RoundRatio > 0) || !(r.HEEncryptParamsPerS > 0) {
		t.Errorf("headline figures not all positive: %+v", r)
	}
	for _, d := range r.DP {
		for name, s := range map[string]Span{"private 1 core": d.PrivateOneCore, "non-private 1 core": d.NonPrivateOneCore,
			"private": d.Private, "non-private": d.NonPrivate} {
			if !(s.Best > 0) || math.IsInf(s.Best, 0) || s.Worst > s.Best {
				t.Errorf("dp-sgd %s, %s: %+v", d.Model, name, s)
			}
		}
		if d.RatioOneCore != d.NonPrivateOneCore.Best/d.PrivateOneCore.Best || d.RatioAllCores != d.NonPrivate.Best/d.Private.Best {
			t.Errorf("dp-sgd %s: ratios %v, %v are not those of the best figures %+v", d.Model, d.RatioOneCore, d.RatioAllCores, d)
		}
		if d.Model == "mlp:310" && (r.DPStepRatio != d.RatioOneCore || r.DPStepRatioAllCores != d.RatioAllCores) {
			t.Errorf("headline ratios %v, %v; the 10k MLP's %v, %v", r.DPStepRatio, r.DPStepRatioAllCores, d.RatioOneCore, d.RatioAllCores)
		}
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

// TestAtEachParallelism: the function runs on one core, then on all, and
// GOMAXPROCS is restored afterwards, also when it fails.
func TestAtEachParallelism(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	for _, fail := range []bool{false, true} {
		var seen []int
		err := atEachParallelism(func(threads int) error {
			seen = append(seen, runtime.GOMAXPROCS(0))
			if threads != seen[len(seen)-1] {
				t.Errorf("told %d threads, GOMAXPROCS is %d", threads, seen[len(seen)-1])
			}
			if fail {
				return errors.New("boom")
			}
			return nil
		})
		if fail != (err != nil) {
			t.Errorf("fail %v: error %v", fail, err)
		}
		want := []int{1, procs}
		if fail {
			want = want[:1]
		}
		if !slices.Equal(seen, want) {
			t.Errorf("fail %v: ran at %v, want %v", fail, seen, want)
		}
		if got := runtime.GOMAXPROCS(0); got != procs {
			t.Fatalf("fail %v: GOMAXPROCS %d after, was %d", fail, got, procs)
		}
	}
}
