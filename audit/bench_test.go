package audit_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/fedcrypt/fedcrypt/audit"
	"github.com/fedcrypt/fedcrypt/sim"
)

// BenchmarkVerifyRun measures verifying a whole run's log: the chain,
// signatures, claims and ε recomputed per hospital per round, which
// dominates with the PLD accountant.
func BenchmarkVerifyRun(b *testing.B) {
	for _, acct := range []string{"rdp", "pld"} {
		for _, rounds := range []int{10} {
			b.Run(fmt.Sprintf("accountant=%s/hospitals=3/rounds=%d", acct, rounds), func(b *testing.B) {
				dir := simRun(b, rounds, func(c *sim.Config) { c.Accountant = acct })
				fed := loadFed(b, dir)
				raw, err := os.ReadFile(filepath.Join(dir, sim.FileAudit))
				if err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				claims := 0
				for b.Loop() {
					run, err := audit.VerifyRun(bytes.NewReader(raw), "bench", fed, audit.Options{})
					if err != nil {
						b.Fatal(err)
					}
					claims = 0
					for _, h := range run.Hospitals {
						claims += len(h.Spends)
					}
				}
				b.ReportMetric(float64(claims)*float64(b.N)/b.Elapsed().Seconds(), "claims/s")
				b.ReportMetric(float64(len(raw)), "log-bytes")
			})
		}
	}
}

// BenchmarkReportHTML measures writing a report with its three plots.
func BenchmarkReportHTML(b *testing.B) {
	dir := simRun(b, 10, nil)
	run, err := audit.VerifyFile(filepath.Join(dir, sim.FileAudit), loadFed(b, dir), audit.Options{})
	if err != nil {
		b.Fatal(err)
	}
	rep := &audit.Report{Source: dir, Run: run}
	b.ReportAllocs()
	var n int
	for b.Loop() {
		var buf bytes.Buffer
		if err := rep.WriteHTML(&buf); err != nil {
			b.Fatal(err)
		}
		n = buf.Len()
	}
	b.ReportMetric(float64(n), "page-bytes")
}
