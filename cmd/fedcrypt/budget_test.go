package main

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestBudgetEpsilon(t *testing.T) {
	cases := []struct {
		name      string
		args      []string
		want, tol float64
	}{
		{"rdp opacus", []string{"--noise-multiplier", "1.5", "--sample-rate", "0.04", "--steps", "2250", "--delta", "1e-5", "--accountant", "rdp"}, 7.32911, 1e-4 * 7.32911},
		{"pld opacus prv", []string{"--noise-multiplier", "1.5", "--sample-rate", "0.05", "--steps", "1000", "--delta", "1e-6", "--accountant", "pld"}, 6.2048, 0.0052},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runCLI(t, "", append([]string{"budget", "--json"}, c.args...)...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
				t.Fatalf("stdout is not one JSON object: %v\n%s", err, r.stdout)
			}
			for _, k := range []string{"epsilon", "delta", "noise_multiplier", "sample_rate", "steps", "accountant"} {
				if _, ok := got[k]; !ok {
					t.Errorf("JSON lacks %q: %s", k, r.stdout)
				}
			}
			if eps := got["epsilon"].(float64); math.Abs(eps-c.want) > c.tol {
				t.Errorf("epsilon %v, want %v ± %v", eps, c.want, c.tol)
			}
			if got["noise_multiplier"].(float64) != 1.5 || got["accountant"] != c.args[len(c.args)-1] {
				t.Errorf("settings not echoed: %s", r.stdout)
			}
		})
	}
}

func TestBudgetTargetEpsilon(t *testing.T) {
	r := runCLI(t, "", "budget", "--target-epsilon", "8", "--sample-rate", "0.04", "--steps", "2000", "--delta", "1e-5", "--json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var got budgetResult
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatal(err)
	}
	if math.Abs(got.NoiseMultiplier-1.3561) > 2e-4 || got.Epsilon > 8 || got.Epsilon < 7.99 {
		t.Errorf("σ %v with ε %v, want σ ≈ 1.3561 and ε just below 8", got.NoiseMultiplier, got.Epsilon)
	}
	// The human table names the same numbers.
	h := runCLI(t, "", "budget", "--target-epsilon", "8", "--sample-rate", "0.04", "--steps", "2000")
	if h.code != 0 || !strings.Contains(h.stdout, "noise multiplier  1.356") || !strings.Contains(h.stdout, "accountant        rdp") {
		t.Errorf("exit %d, table:\n%s", h.code, h.stdout)
	}
}

func TestBudgetBadInput(t *testing.T) {
	base := []string{"--sample-rate", "0.01", "--steps", "100", "--noise-multiplier", "1"}
	with := func(flag, value string) []string {
		out := []string{"budget"}
		for i := 0; i < len(base); i += 2 {
			if base[i] != flag {
				out = append(out, base[i], base[i+1])
			}
		}
		return append(out, flag, value)
	}
	cases := []struct {
		args  []string
		words []string
	}{
		{with("--sample-rate", "0"), []string{"--sample-rate 0", "(0, 1]"}},
		{with("--sample-rate", "1.5"), []string{"--sample-rate 1.5"}},
		{with("--sample-rate", "NaN"), []string{"--sample-rate NaN"}},
		{with("--noise-multiplier", "0"), []string{"--noise-multiplier 0"}},
		{with("--noise-multiplier", "-2"), []string{"--noise-multiplier -2"}},
		{with("--noise-multiplier", "NaN"), []string{"--noise-multiplier NaN"}},
		{with("--steps", "0"), []string{"--steps 0"}},
		{with("--delta", "1"), []string{"--delta 1", "(0, 1)"}},
		{with("--delta", "0"), []string{"--delta 0"}},
		{with("--delta", "nan"), []string{"--delta NaN"}},
		{with("--accountant", "moments"), []string{"--accountant", "moments"}},
		{with("--target-epsilon", "1"), []string{"not both"}},
		{[]string{"budget", "--sample-rate", "0.01", "--steps", "10"}, []string{"--target-epsilon"}},
		{[]string{"budget", "--sample-rate", "0.01", "--steps", "10", "--target-epsilon", "-1"}, []string{"--target-epsilon -1"}},
		{with("--steps", "ten"), []string{"steps"}},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args[1:], " "), func(t *testing.T) {
			r := runCLI(t, "", c.args...)
			wantOneLineError(t, r, c.words...)
			if r.code != 2 {
				t.Errorf("exit %d, want 2 (usage)", r.code)
			}
			if r.stdout != "" {
				t.Errorf("stdout not empty: %q", r.stdout)
			}
		})
	}
}

func TestBudgetUnboundedEpsilon(t *testing.T) {
	r := runCLI(t, "", "budget", "--noise-multiplier", "1", "--sample-rate", "0.5", "--steps", "10", "--delta", "1e-300", "--accountant", "pld", "--json")
	wantOneLineError(t, r, "unbounded", "1e-300")
	if r.code != 1 || r.stdout != "" {
		t.Errorf("exit %d, stdout %q", r.code, r.stdout)
	}
}
