package main

import (
	"bytes"
	"context"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/sim"
)

// TestSimOverGRPCMatchesInMemory runs the same simulation in one process
// and with every party a separate process over gRPC with mutual TLS: both
// complete every round and their accuracies agree within DP noise.
func TestSimOverGRPCMatchesInMemory(t *testing.T) {
	long(t, "a simulation in memory and the same over real processes")
	t.Parallel()
	ds, _, err := data.LoadEmbedded("wdbc", data.Options{Missing: "mean"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := sim.Defaults()
	cfg.Bounds, _ = data.EmbeddedBounds("wdbc")
	seed := uint64(1)
	cfg.Seed = &seed
	cases := []struct {
		name                 string
		hospitals, threshold int
		dropout              float64
	}{
		{"3 hospitals", 3, 2, 0},
		{"5 hospitals with dropout", 5, 3, 0.2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if testing.Short() && tc.dropout > 0 {
				t.Skip("dropout run skipped in -short")
			}
			c := cfg
			c.Hospitals, c.Threshold, c.Dropout = tc.hospitals, tc.threshold, tc.dropout
			c.Timeout = 30 * time.Second
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			mem, err := sim.Run(ctx, ds, c)
			if err != nil {
				t.Fatalf("in memory: %v", err)
			}
			c.OutDir = filepath.Join(t.TempDir(), "run")
			net, err := sim.RunProcesses(ctx, ds, c, sim.Processes{Binary: binPath()})
			if err != nil {
				t.Fatalf("over gRPC: %v", err)
			}
			// Without faults every round completes; with them a round may
			// be abandoned when too many hospitals drop at once, and the
			// run may end early for lack of quorum, as in memory.
			t.Logf("completed rounds: %d over gRPC (%s), %d in memory", net.Rounds, net.Ended, mem.Rounds)
			if (tc.dropout == 0 && net.Rounds != c.Rounds) || net.Rounds < 1 {
				t.Errorf("completed rounds: %d over gRPC, want %d (%s)", net.Rounds, c.Rounds, net.Ended)
			}
			if len(net.History) < net.Rounds || net.BytesUpPerRound <= 0 {
				t.Errorf("gRPC run: %d rounds in its history for %d completed, %v bytes up per round", len(net.History), net.Rounds, net.BytesUpPerRound)
			}
			if net.TestRows != mem.TestRows || net.Params != mem.Params {
				t.Errorf("gRPC run: %d test rows, %d params; in memory %d, %d", net.TestRows, net.Params, mem.TestRows, mem.Params)
			}
			if !(net.Epsilon > 0 && net.Epsilon <= c.Epsilon*(1+1e-9)) {
				t.Errorf("gRPC run: ε %v, want in (0, %v]", net.Epsilon, c.Epsilon)
			}
			// Both runs see the same held-out rows; their models differ by
			// DP noise and which hospitals dropped when.
			const tol = 0.08
			t.Logf("accuracy: %.4f over gRPC, %.4f in memory", net.Accuracy, mem.Accuracy)
			if math.Abs(net.Accuracy-mem.Accuracy) > tol || net.Accuracy < 0.85 {
				t.Errorf("accuracy %.4f over gRPC, %.4f in memory: want within %v of each other and ≥ 0.85", net.Accuracy, mem.Accuracy, tol)
			}
		})
	}
}

// A gRPC simulation's --out directory serves as an in-memory one does: the
// summary names only files that exist, audit verify and predict work on it
// as the README shows, and with --recipient no secret key is left in the
// clear.
func TestSimOverGRPCOutDirectory(t *testing.T) {
	long(t, "federations of real processes")
	t.Parallel()
	dir := t.TempDir()
	auditor := keygenFor(t, dir, "auditor")
	rows, _, _ := data.Embedded("wdbc")
	writeFile(t, dir, "rows.csv", string(rows))
	for _, tc := range []struct {
		name     string
		extra    []string
		identity string
	}{
		{"researcher key", nil, filepath.Join("run", "researcher.key")},
		{"recipient", []string{"--recipient", auditor.Recipient}, auditor.Identity},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, "run")
			os.RemoveAll(out)
			r := runCLI(t, dir, append([]string{"sim", "--transport", "grpc", "--rounds", "2", "--out", "run"}, tc.extra...)...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			m := regexp.MustCompile(`Artefacts in run: (.*); sealed: (.*)`).FindStringSubmatch(r.stdout)
			if m == nil {
				t.Fatalf("no artefacts line:\n%s", r.stdout)
			}
			for _, name := range strings.Split(m[1]+", "+m[2], ", ") {
				if _, err := os.Stat(filepath.Join(out, name)); err != nil {
					t.Errorf("the summary names %s, which is not there: %v", name, err)
				}
			}
			for _, want := range []string{"federation.json", "audit.jsonl", "model.age"} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("the summary does not name %s", want)
				}
			}
			v := runCLI(t, dir, "audit", "verify", "run", "-i", tc.identity, "--witness", filepath.Join("run", "hospitals"))
			if v.code != 0 || !strings.Contains(v.stdout, "anchored") || !strings.Contains(v.stdout, "witnessed by h1, h2, h3") {
				t.Errorf("audit verify run: exit %d\n%s%s", v.code, v.stdout, v.stderr)
			}
			fed, err := federation.Load(filepath.Join(out, "federation.json"))
			if err != nil {
				t.Fatal(err)
			}
			p := runCLI(t, dir, "predict", "--checkpoint", filepath.Join("run", "model.age"), "-i", tc.identity,
				"--signer", fed.Aggregator.SigningKey, "--data", "rows.csv", "--json")
			if p.code != 0 || !strings.Contains(p.stdout, `"labelled_rows": 569`) {
				t.Errorf("predict: exit %d: %s", p.code, p.stderr)
			}
			var secrets []string
			filepath.WalkDir(out, func(path string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					if b, _ := os.ReadFile(path); bytes.Contains(b, []byte("AGE-SECRET-KEY-")) {
						secrets = append(secrets, strings.TrimPrefix(path, out+string(filepath.Separator)))
					}
				}
				return nil
			})
			want := []string{"researcher.key"}
			if tc.extra != nil {
				want = nil
			}
			if !slices.Equal(secrets, want) {
				t.Errorf("secret keys in the clear: %v, want %v", secrets, want)
			}
		})
	}
}

// keyHolders returns the members of the federation config at path that hold
// key shares.
func keyHolders(t *testing.T, path string) []string {
	t.Helper()
	fed, err := federation.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range fed.Members {
		if m.KeyHolder {
			ids = append(ids, m.ID)
		}
	}
	return ids
}

// --committee names the key holders over gRPC too: a simulation of four
// hospitals with a committee of two gives two key holders.
// (TestInitCommittee checks init's.)
func TestCommitteeHoldsTheKeys(t *testing.T) {
	long(t, "a federation of real processes")
	t.Parallel()
	dir := t.TempDir()
	r := runCLI(t, dir, "sim", "--transport", "grpc", "--hospitals", "4", "--committee", "2", "--threshold", "2", "--rounds", "1", "--out", "run")
	if r.code != 0 {
		t.Fatalf("sim: exit %d: %s", r.code, r.stderr)
	}
	if got := keyHolders(t, filepath.Join(dir, "run", "federation.json")); !slices.Equal(got, []string{"h1", "h2"}) {
		t.Errorf("sim over gRPC: key holders %v, want h1 and h2", got)
	}
}
