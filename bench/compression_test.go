package bench

import (
	"context"
	"os"
	"testing"

	"github.com/fedcrypt/fedcrypt/model"
)

// TestCompressionAccuracy is the measurement behind BENCHMARKS.md's compression table: with a
// tenth of the upload bytes per round (encrypted, precise preset), the median held-out accuracy
// over seeds 1–3 is within 1 point of dense on digits and within 2 points on the abstracts.
// About two minutes on 2 cores; skipped with -short.
func TestCompressionAccuracy(t *testing.T) {
	if testing.Short() {
		t.Skip("about two minutes of federated DP-SGD")
	}
	seeds := []uint64{1, 2, 3}
	for _, c := range []struct {
		name   string
		cfg    CompressionConfig
		points float64
	}{
		{"digits", DigitsCompression(seeds), 0.01},
		{"abstracts", AbstractsCompression(abstractsCSV(t), seeds), 0.02},
	} {
		t.Run(c.name, func(t *testing.T) {
			rs, err := MeasureCompression(context.Background(), c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			dense := rs[0]
			for _, r := range rs {
				t.Logf("%-14s %6d of %d values, %9d B encrypted (%7d B plain) per hospital per round, accuracy %.4f %v",
					r.Scheme, r.Uploaded, r.Params, r.HEBytes, r.PlainBytes, r.Median, r.Accuracy)
				if r.Scheme == "none" {
					continue
				}
				if r.HEBytes*10 > dense.HEBytes || r.PlainBytes*10 > dense.PlainBytes {
					t.Errorf("%s: %d B against %d dense: not 10× fewer", r.Scheme, r.HEBytes, dense.HEBytes)
				}
				if r.Median < dense.Median-c.points {
					t.Errorf("%s: median accuracy %.4f, dense %.4f: more than %.0f points below", r.Scheme, r.Median, dense.Median, 100*c.points)
				}
			}
		})
	}
}

func abstractsCSV(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../../examples/clinicaltext/medical-abstracts.csv")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCompressionQuick runs a small federation through every scheme: the harness trains (above
// the majority class), and each compressed upload has its plan's size.
func TestCompressionQuick(t *testing.T) {
	cfg := CompressionConfig{Data: "wdbc", Model: "mlp:64", Hospitals: 3, Rounds: 10, LocalSteps: 5, Epsilon: 5, Delta: 1e-5,
		ClipNorm: 1, SampleRate: 0.2, Local: model.OptimizerConfig{Name: model.OptSGD, LR: 0.1}, UpdateBound: 4,
		Preset: DefaultPreset, Schemes: []string{"none", "randk:0.25", "srht:0.25:ef"}, Seeds: []uint64{1}}
	rs, err := MeasureCompression(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		want := r.Params
		if r.Scheme != "none" {
			want = (r.Params + 3) / 4
		}
		if r.Uploaded != want || r.PlainBytes != 8*want {
			t.Errorf("%s: %d values (%d B) uploaded of %d parameters, want %d", r.Scheme, r.Uploaded, r.PlainBytes, r.Params, want)
		}
		if r.Median < 0.7 {
			t.Errorf("%s: accuracy %.3f on wdbc", r.Scheme, r.Median)
		}
	}
	if _, err := MeasureCompression(context.Background(), CompressionConfig{Preset: DefaultPreset, Schemes: []string{"topk:0.1"}}); err == nil {
		t.Error("an unknown scheme was accepted")
	}
}
