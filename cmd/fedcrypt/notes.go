package main

import (
	"fmt"
	"math"
	"slices"

	"github.com/fedcrypt/fedcrypt/model"
	"github.com/fedcrypt/fedcrypt/sim"
)

// metricFormat returns how m's metrics print: a metric the rows do not
// define (model.Metrics.Undefined), such as AUC on test rows of one class,
// is "n/a", never a misleading 0.
func metricFormat(m model.Metrics) func(name string, v float64) string {
	undefined := m.Undefined()
	return func(name string, v float64) string {
		if slices.Contains(undefined, name) {
			return "n/a"
		}
		return fmt.Sprintf("%.4f", v)
	}
}

// simNotes are what a simulation's figures need said after them: why
// rounds show no metrics, why ε ended below its cap, and when a private
// evaluation's noise outweighs its counts.
func simNotes(r *sim.Result, cfg sim.Config) []string {
	var notes []string
	for _, h := range r.History {
		if h.Completed && !h.Evaluated {
			notes = append(notes, "Rounds show - in the metric columns: with one process per party (--transport grpc) only the final model is scored, above.")
			break
		}
	}
	if s := spareNote(r.Epsilon, cfg.Epsilon, cfg.SpareRounds()); r.DP && s != "" {
		notes = append(notes, s+".")
	}
	if ev := r.PrivateEvaluation; ev != nil && ev.Reason == "" {
		rows := 0
		for _, n := range r.TrainRows {
			rows += n
		}
		validation := cfg.EvalHoldout * float64(rows)
		cells := len(ev.Confusion) * len(ev.Confusion)
		// The noise on the total count against the rows counted.
		if noise := ev.NoiseStdDev * math.Sqrt(float64(cells)); noise >= 0.1*validation {
			notes = append(notes, fmt.Sprintf("At this size the noise dominates the private evaluation: noise σ = %.3g on each of %d counts against about %.0f validation rows; read the held-out test rows' figures above, or give --private-eval a larger ε.",
				ev.NoiseStdDev, cells, validation))
		}
	}
	return notes
}

// spareNote says why ε ended below its cap, when the budget of spare rounds
// kept for retried rounds was not spent; "" when ε reached the cap.
func spareNote(epsilon, cap float64, spare int) string {
	if spare == 0 || epsilon >= 0.99*cap {
		return ""
	}
	return fmt.Sprintf("ε ended at %.3g, below the cap %g: the noise was calibrated to keep the budget of %s for retried rounds, which this run did not need",
		epsilon, cap, count(spare, "spare round"))
}
