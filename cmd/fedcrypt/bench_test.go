package main

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/fedcrypt/fedcrypt/bench"
	"github.com/fedcrypt/fedcrypt/he"
)

func TestBenchQuickJSON(t *testing.T) {
	long(t, "bench --quick measures for seconds; package bench's TestRunQuick checks the figures with -short")
	t.Parallel()
	r := runCLI(t, "", "bench", "--quick", "--json", "--reps", "2")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var rep bench.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, r.stdout)
	}
	// Every measurement says so as it starts, each key holder case too.
	for _, want := range []string{"plaintext aggregation", "key holder 1 of "} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("no progress line %q on stderr:\n%s", want, r.stderr)
		}
	}
	var top map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &top); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"he_bytes_per_param", "he_precision_bits", "he_encrypt_params_per_s", "dp_noise_ns_per_draw", "dp_step_ratio", "dp_step_ratio_all_cores", "round_ratio"} {
		v, ok := top[k].(float64)
		if !ok || !(v > 0) {
			t.Errorf("%s = %v, want a positive number", k, top[k])
		}
	}
	p, err := he.Preset(he.PresetPrecise)
	if err != nil {
		t.Fatal(err)
	}
	if want := float64(p.UpdateSize(1e6)) / 1e6; rep.HEBytesPerParam != want || want > 33 {
		t.Errorf("he_bytes_per_param %v, want the precise preset's %v (≤ 33)", rep.HEBytesPerParam, want)
	}
	if rep.HEPrecisionBits < 16 {
		t.Errorf("he_precision_bits %v < 16", rep.HEPrecisionBits)
	}
	if len(rep.DP) != 2 || len(rep.HE) != 2 || len(rep.Rounds) != 2 || len(rep.Noise) != 2 || len(rep.KeyHolder) != 2 {
		t.Errorf("sections: %d dp, %d he, %d rounds, %d noise, %d key holder", len(rep.DP), len(rep.HE), len(rep.Rounds), len(rep.Noise), len(rep.KeyHolder))
	}
	// A key holder's measured download (real messages) is what plan
	// estimates, at the federation's endorsement quorum: 7 of 10 key
	// holders, 10 of 16, at T = 3.
	for _, k := range rep.KeyHolder {
		est := bench.KeyHolderDownload(p, k.Params, k.Hospitals, k.KeyHolders, k.Threshold)
		if k.KeyHolderBytes != est {
			t.Errorf("measured %+v\nestimate %+v", k.KeyHolderBytes, est)
		}
		if want := map[int]int{10: 7, 16: 10}[k.KeyHolders]; k.Quorum != want || k.Threshold != 3 {
			t.Errorf("%d key holders at T = %d: quorum %d, want %d", k.KeyHolders, k.Threshold, k.Quorum, want)
		}
		v := k.Verify
		if parts := v.Envelopes + v.Headers + v.Fingerprints + v.Endorsements + v.Sum; !(k.VerifySeconds > 0) || math.Abs(parts-k.VerifySeconds) > 1e-9 {
			t.Errorf("%d hospitals: verify %v s, parts %+v", k.Hospitals, k.VerifySeconds, v)
		}
	}
	if c := rep.KeyHolderCosts; !(c.HeaderUs > 0 && c.FingerprintUs > 0 && c.EndorsementUs > 0 && c.SumMsPerCt > 0) {
		t.Errorf("key_holder_costs %+v", c)
	}
}

func TestBenchTable(t *testing.T) {
	long(t, "a second bench run; the JSON test covers the figures")
	t.Parallel()
	r := runCLI(t, "", "bench", "--quick", "--reps", "1")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"machine", "DP-SGD on wdbc", "encrypt params/s, 1 core", "round_ratio", "key holder per round"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, r.stdout)
		}
	}
}
