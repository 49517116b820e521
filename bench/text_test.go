package bench

import (
	"context"
	"math"
	"testing"
)

// TestMeasureTextQuick checks the text figures of a quick run: every model measured at one
// thread and at all, times positive with best ≤ worst, ratios that are the quotient of the
// best times, and a private epoch that costs more than a non-private one (it adds clipping and
// a dense noise draw per parameter per step to the same work).
func TestMeasureTextQuick(t *testing.T) {
	s := Config{Quick: true, Reps: 2}.sizes()
	out, err := measureText(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(textModels(true)) {
		t.Fatalf("%d text models measured", len(out))
	}
	for _, r := range out {
		for name, sp := range map[string]Span{"private 1": r.PrivateOneCore, "plain 1": r.NonPrivateOneCore,
			"private all": r.PrivateAllCores, "plain all": r.NonPrivateAllCores} {
			if !(sp.Best > 0) || sp.Worst < sp.Best || math.IsInf(sp.Worst, 0) {
				t.Errorf("%s %s: %+v", r.Model, name, sp)
			}
		}
		if got := r.PrivateOneCore.Best / r.NonPrivateOneCore.Best; got != r.RatioOneCore || r.RatioOneCore <= 1 {
			t.Errorf("%s: ratio %v at 1 thread, times give %v", r.Model, r.RatioOneCore, got)
		}
		if r.Params < r.Buckets*5 {
			t.Errorf("%s: %d parameters for %d buckets", r.Model, r.Params, r.Buckets)
		}
	}
}
