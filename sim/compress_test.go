package sim

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/fedcrypt/fedcrypt/audit"
	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/federation"
)

// TestCompressedUploads runs the same encrypted federation on digits with
// dense uploads and with the round's shared compression map: the
// compressed updates of the hospitals add up under encryption, fill half
// the ciphertexts, the model still learns, and the log verifies.
func TestCompressedUploads(t *testing.T) {
	csv, opt, _ := data.Embedded("digits")
	ds, _, err := data.Load(bytes.NewReader(csv), "digits", opt)
	if err != nil {
		t.Fatal(err)
	}
	bounds, _ := data.EmbeddedBounds("digits")
	results := map[string]*Result{}
	for _, scheme := range []string{"", "srht:0.45:ef"} {
		cfg := Defaults()
		cfg.Model, cfg.Epsilon, cfg.Hospitals, cfg.Seed, cfg.Bounds = "mlp:64", 3, 4, seeded(1), bounds
		cfg.Compress = scheme
		cfg.OutDir = filepath.Join(t.TempDir(), "run")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		res, err := Run(ctx, ds, cfg)
		cancel()
		if err != nil {
			t.Fatalf("compress %q: %v", scheme, err)
		}
		fed, err := federation.Load(filepath.Join(cfg.OutDir, FileConfig))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := audit.VerifyFile(filepath.Join(cfg.OutDir, FileAudit), fed, audit.Options{}); err != nil {
			t.Fatalf("compress %q: %v", scheme, err)
		}
		t.Logf("compress %q: accuracy %.4f, %.0f bytes up per round", scheme, res.Accuracy, res.BytesUpPerRound)
		results[scheme] = res
	}
	dense, comp := results[""], results["srht:0.45:ef"]
	// 4,810 parameters fill 2 ciphertexts of 4,096 values; 45% of them, 1.
	if r := comp.BytesUpPerRound / dense.BytesUpPerRound; !(r > 0.45 && r < 0.55) {
		t.Errorf("compressed uploads are %.2f of the dense bytes, want about half", r)
	}
	if comp.Rounds != dense.Rounds || !(comp.Accuracy > 0.6) || !(dense.Accuracy > 0.8) {
		t.Errorf("accuracy %.4f compressed, %.4f dense (%d and %d rounds)", comp.Accuracy, dense.Accuracy, comp.Rounds, dense.Rounds)
	}
}
