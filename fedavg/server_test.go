package fedavg

import (
	"math"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b)) }

func TestApplyMatchesHandComputedSteps(t *testing.T) {
	deltas := [][]float64{{1, -2}, {0.5, 0.5}, {-1, 0}}
	cases := []struct {
		name string
		cfg  Config
		want func(step int, w, d []float64, st map[string][]float64)
	}{
		{"fedavg", Config{Name: FedAvg, LR: 0.5}, func(_ int, w, d []float64, _ map[string][]float64) {
			for i := range w {
				w[i] += 0.5 * d[i]
			}
		}},
		{"fedavgm", Config{Name: FedAvgM, LR: 1, Momentum: 0.8}, func(_ int, w, d []float64, st map[string][]float64) {
			v := st["v"]
			for i := range w {
				v[i] = 0.8*v[i] + d[i]
				w[i] += v[i]
			}
		}},
		{"fedadam", Config{Name: FedAdam, LR: 0.1, Beta1: 0.9, Beta2: 0.99, Tau: 1e-3}, func(_ int, w, d []float64, st map[string][]float64) {
			m, v := st["m"], st["v"]
			for i := range w {
				m[i] = 0.9*m[i] + 0.1*d[i]
				v[i] = 0.99*v[i] + 0.01*d[i]*d[i]
				w[i] += 0.1 * m[i] / (math.Sqrt(v[i]) + 1e-3)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := NewServer(c.cfg, 2)
			if err != nil {
				t.Fatal(err)
			}
			got := []float64{0.1, 0.2}
			want := []float64{0.1, 0.2}
			st := map[string][]float64{"m": make([]float64, 2), "v": make([]float64, 2)}
			for k, d := range deltas {
				s.Apply(got, d)
				c.want(k, want, d, st)
				for i := range got {
					if !near(got[i], want[i]) {
						t.Fatalf("step %d param %d: got %v want %v", k, i, got[i], want[i])
					}
				}
			}
		})
	}
}

func TestStateRoundTripContinuesExactly(t *testing.T) {
	for _, name := range []string{FedAvg, FedAvgM, FedAdam} {
		t.Run(name, func(t *testing.T) {
			a, _ := NewServer(Config{Name: name}, 3)
			w := []float64{1, 2, 3}
			a.Apply(w, []float64{0.3, -0.1, 0.2})
			state, err := a.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			b, _ := NewServer(Config{Name: name}, 3)
			if err := b.UnmarshalBinary(state); err != nil {
				t.Fatal(err)
			}
			wa := append([]float64(nil), w...)
			wb := append([]float64(nil), w...)
			d := []float64{-0.2, 0.4, 0.05}
			a.Apply(wa, d)
			b.Apply(wb, d)
			for i := range wa {
				if wa[i] != wb[i] {
					t.Fatalf("param %d after restore: %v != %v", i, wb[i], wa[i])
				}
			}
		})
	}
}

func TestStateRejectsMismatch(t *testing.T) {
	a, _ := NewServer(Config{Name: FedAdam}, 3)
	state, _ := a.MarshalBinary()
	cases := map[string]struct {
		cfg  Config
		n    int
		data []byte
	}{
		"other optimizer": {Config{Name: FedAvgM}, 3, state},
		"other size":      {Config{Name: FedAdam}, 4, state},
		"truncated":       {Config{Name: FedAdam}, 3, state[:len(state)-5]},
		"trailing":        {Config{Name: FedAdam}, 3, append(append([]byte(nil), state...), 0)},
		"garbage":         {Config{Name: FedAdam}, 3, []byte("hello")},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			s, _ := NewServer(c.cfg, c.n)
			if err := s.UnmarshalBinary(c.data); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestValidate(t *testing.T) {
	bad := []Config{
		{Name: "sgd"},
		{Name: FedAvg, LR: -1},
		{Name: FedAvg, LR: math.NaN()},
		{Name: FedAvgM, Momentum: 1},
		{Name: FedAdam, Beta2: 1.5},
		{Name: FedAdam, Tau: -1},
	}
	for _, c := range bad {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	for _, c := range []Config{{}, {Name: FedAvgM}, {Name: FedAdam, LR: 0.01}} {
		if err := c.Validate(); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
}

func TestMeanAndClip(t *testing.T) {
	dst := make([]float64, 2)
	if err := Mean(dst, []float64{3, -6}, 1.5); err != nil || dst[0] != 2 || dst[1] != -4 {
		t.Fatalf("Mean = %v, %v", dst, err)
	}
	if err := Mean(dst, []float64{1, 1}, 0); err == nil {
		t.Error("zero total weight accepted")
	}
	v := []float64{3, 4}
	if n := ClipL2(v, 1); n != 5 || !near(v[0], 0.6) || !near(v[1], 0.8) {
		t.Fatalf("ClipL2: norm %v, v %v", n, v)
	}
	v = []float64{0.3, 0.4}
	ClipL2(v, 1)
	if v[0] != 0.3 || v[1] != 0.4 {
		t.Fatalf("ClipL2 changed a vector inside the bound: %v", v)
	}
}

func FuzzUnmarshalState(f *testing.F) {
	for _, name := range []string{FedAvg, FedAvgM, FedAdam} {
		s, _ := NewServer(Config{Name: name}, 4)
		b, _ := s.MarshalBinary()
		f.Add(name, b)
	}
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		s, err := NewServer(Config{Name: name}, 4)
		if err != nil {
			return
		}
		if err := s.UnmarshalBinary(data); err != nil {
			return
		}
		again, _ := s.MarshalBinary()
		if string(again) != string(data) {
			t.Fatalf("accepted state does not re-encode to itself")
		}
	})
}
