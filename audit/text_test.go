package audit_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fedcrypt/fedcrypt/audit"
	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/protocol"
	"github.com/fedcrypt/fedcrypt/sim"
)

// textRun runs a seeded federation of 3 hospitals on 300 of the medical
// abstracts (sim.TextDefaults: DP, encryption, IDF from the statistics
// phase), 2 rounds, and returns its directory.
func textRun(t testing.TB) string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "examples", "clinicaltext", "medical-abstracts.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ds, _, err := data.Load(f, "medical-abstracts.csv", data.Options{Label: "condition", Text: "abstract"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ds, err = data.StratifiedSplit(ds, 0.15, 18); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "run")
	cfg := sim.TextDefaults("abstract", true)
	seed := uint64(18)
	cfg.Rounds, cfg.Epsilon, cfg.Seed, cfg.OutDir = 2, 3, &seed, dir
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := sim.Run(ctx, ds, cfg); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestVerifyTextRun verifies a federation on free text, recomputing the
// text featurization from the logged totals, and fails a log whose
// statistics entry records another featurization, or in which a hospital
// claims to have trained with another one: IDF weights that are not the
// totals', or the numeric transform alone.
func TestVerifyTextRun(t *testing.T) {
	base := textRun(t)
	keys := partyKeys(t, base)
	run, err := audit.VerifyFile(filepath.Join(base, sim.FileAudit), loadFed(t, base), audit.Options{})
	if err != nil || !run.Verified {
		t.Fatalf("untouched text run: %v", err)
	}
	st := run.Statistics
	if st == nil || len(st.TextTransform) != 64 || st.Transform != nil {
		t.Fatalf("statistics facts: %+v", st)
	}
	entries := readEntries(t, filepath.Join(base, sim.FileAudit))
	stats, round := -1, -1
	for i, e := range entries {
		switch {
		case e.Type == audit.TypeStatistics && stats < 0:
			stats = i
		case e.Type == audit.TypeRound && round < 0:
			round = i
		}
	}
	var body audit.StatisticsBody
	if err := json.Unmarshal(entries[stats].Body, &body); err != nil {
		t.Fatal(err)
	}
	fed := loadFed(t, base)
	in, err := fed.Transforms(body.Totals, body.NoiseStdDev)
	if err != nil {
		t.Fatal(err)
	}
	otherIDF := *in.Text
	otherIDF.IDF = append([]float64(nil), in.Text.IDF...)
	otherIDF.IDF[0] *= 2

	cases := []struct {
		name   string
		tamper func(e []audit.Entry)
		entry  int
		reason string
	}{
		{"statistics record another text transform", func(e []audit.Entry) {
			var b map[string]any
			json.Unmarshal(e[stats].Body, &b)
			d := otherIDF.Digest()
			b["text_transform"] = hex.EncodeToString(d[:])
			e[stats].Body, _ = json.Marshal(b)
		}, stats + 1, "text transform"},
		{"a hospital trained with other IDF weights", func(e []audit.Entry) {
			forgeClaim(t, &e[round], keys["h2"], "h2", func(c *protocol.Claim) {
				c.Transform = federation.TransformDigest(in.Numeric, &otherIDF)
			})
		}, round + 1, "not the federation's"},
		{"a hospital trained without the text featurization", func(e []audit.Entry) {
			forgeClaim(t, &e[round], keys["h2"], "h2", func(c *protocol.Claim) { c.Transform = in.Numeric.Digest() })
		}, round + 1, "not the federation's"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyRun(t, base)
			e := readEntries(t, filepath.Join(dir, sim.FileAudit))
			c.tamper(e)
			rewrite(t, dir, keys, e)
			failsAt(t, dir, audit.Options{}, c.entry, c.reason)
		})
	}
}
