package sim

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/fedcrypt/fedcrypt/data"
)

// TestProcessesCountDropoutsAsInMemory runs one federation whose hospitals
// drop out in memory and as separate processes over gRPC with mutual TLS
// (client join --sim-dropout, whose connection the same Faults wrap), with
// every hospital's update needed in every round. Both runners count the
// rounds alike: every round completes at its first attempt with all five
// updates, though hospitals went away: each came back and got what it lost
// of the round under way.
func TestProcessesCountDropoutsAsInMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds fedcrypt and runs a process per party")
	}
	bin := filepath.Join(t.TempDir(), "fedcrypt")
	build := exec.Command("go", "build", "-o", bin, "../cmd/fedcrypt")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("go build: %v", err)
	}
	cfg := Defaults()
	cfg.Bounds, _ = data.EmbeddedBounds("wdbc")
	cfg.Seed = seeded(3)
	cfg.Hospitals, cfg.Threshold, cfg.MinContributors, cfg.Rounds = 5, 3, 5, 5
	cfg.Dropout, cfg.Timeout = 0.4, 30*time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	mem, err := Run(ctx, wdbc(t), cfg)
	if err != nil {
		t.Fatalf("in memory: %v", err)
	}
	cfg.OutDir = filepath.Join(t.TempDir(), "run")
	net, err := RunProcesses(ctx, wdbc(t), cfg, Processes{Binary: bin})
	if err != nil {
		t.Fatalf("over gRPC: %v", err)
	}
	for _, r := range []struct {
		name string
		res  *Result
	}{{"in memory", mem}, {"over gRPC", net}} {
		dropped := 0
		for _, h := range r.res.History {
			dropped += len(h.Dropped)
			if !h.Completed || h.Attempt != 1 || len(h.Contributors) != cfg.Hospitals {
				t.Errorf("%s: round %d attempt %d: completed %v by %v (%s); want every round completed at once by all",
					r.name, h.Round, h.Attempt, h.Completed, h.Contributors, h.Reason)
			}
		}
		t.Logf("%s: %d rounds completed in %d attempts, %d hospitals went away", r.name, r.res.Rounds, len(r.res.History), dropped)
		if r.res.Rounds != cfg.Rounds || len(r.res.History) != cfg.Rounds || dropped == 0 {
			t.Errorf("%s: %d rounds completed in %d attempts, %d hospitals went away; want %d rounds at once, some hospital gone",
				r.name, r.res.Rounds, len(r.res.History), dropped, cfg.Rounds)
		}
	}
}
