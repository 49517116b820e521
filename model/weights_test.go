package model

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// weightFile writes the weight format byte by byte as the package documentation describes it.
func weightFile(version uint16, cfgJSON string, params []float64) []byte {
	var b []byte
	b = append(b, "FCMW"...)
	b = binary.LittleEndian.AppendUint16(b, version)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(cfgJSON)))
	b = append(b, cfgJSON...)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(params)))
	for _, v := range params {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
	}
	return binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
}

func TestWeightsFormatAsDocumented(t *testing.T) {
	cfg := Config{Kind: KindLogReg, Inputs: 2, Outputs: 1, Loss: LossBCE}
	m, _ := New(cfg, rand.New(rand.NewPCG(1, 2)))
	copy(m.Params(), []float64{0.5, -1.25, 3})
	got, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	want := weightFile(1, `{"kind":"logreg","inputs":2,"outputs":1,"loss":"bce"}`, []float64{0.5, -1.25, 3})
	if !bytes.Equal(got, want) {
		t.Errorf("MarshalBinary:\n got  %x\n want %x", got, want)
	}
}

func TestWeightsRoundTrip(t *testing.T) {
	for n, cfg := range gradCases() {
		t.Run(caseName(cfg), func(t *testing.T) {
			m, x, _ := randomProblem(t, cfg, 4, uint64(n))
			b, err := m.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			got, err := Unmarshal(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Config(), m.Config()) {
				t.Errorf("config %+v, want %+v", got.Config(), m.Config())
			}
			for i, v := range m.Params() {
				if math.Float64bits(got.Params()[i]) != math.Float64bits(v) {
					t.Fatalf("param %d: %v, want %v", i, got.Params()[i], v)
				}
			}
			p, q := mat.NewDense(4, cfg.Outputs, nil), mat.NewDense(4, cfg.Outputs, nil)
			m.Predict(p, x)
			got.Predict(q, x)
			if !mat.Equal(p, q) {
				t.Errorf("loaded model predicts differently")
			}
			// Loading into a model of the same architecture overwrites its weights.
			other, _ := New(cfg, rand.New(rand.NewPCG(99, 99)))
			if err := other.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(other.Params(), m.Params()) {
				t.Errorf("UnmarshalBinary did not load the weights")
			}
		})
	}
}

func TestWeightsErrors(t *testing.T) {
	logreg := `{"kind":"logreg","inputs":2,"outputs":1,"loss":"bce"}`
	good := weightFile(1, logreg, []float64{1, 2, 3})
	corrupt := bytes.Clone(good)
	corrupt[len(corrupt)-10] ^= 1
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "truncated header"},
		{"magic", append([]byte("GIF8"), good[4:]...), "bad magic"},
		{"version", weightFile(2, logreg, []float64{1, 2, 3}), "unsupported version 2"},
		{"truncated config", good[:20], "truncated config"},
		{"truncated params", good[:len(good)-5], "truncated or trailing"},
		{"trailing", append(bytes.Clone(good), 0), "truncated or trailing"},
		{"checksum", corrupt, "checksum"},
		{"shape", weightFile(1, logreg, []float64{1, 2, 3, 4}), "4 parameters, but the config"},
		{"NaN", weightFile(1, logreg, []float64{1, math.NaN(), 3}), "parameter 1 is NaN"},
		{"Inf", weightFile(1, logreg, []float64{1, 2, math.Inf(-1)}), "parameter 2 is -Inf"},
		{"bad JSON", weightFile(1, `{"kind":`, []float64{1, 2, 3}), "config"},
		{"unknown field", weightFile(1, `{"kind":"logreg","inputs":2,"outputs":1,"loss":"bce","extra":1}`, []float64{1, 2, 3}), "unknown field"},
		{"two objects", weightFile(1, logreg+"{}", []float64{1, 2, 3}), "trailing data"},
		{"invalid config", weightFile(1, `{"kind":"logreg","inputs":0,"outputs":1,"loss":"bce"}`, nil), "inputs 0"},
		{"huge config", weightFile(1, `{"kind":"mlp","inputs":16777216,"outputs":1,"hidden":[16777216],"loss":"mse"}`, nil), "parameters, at most"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Unmarshal(tt.b)
			wantErr(t, err, tt.want)
		})
	}
	for n := range len(good) {
		if _, err := Unmarshal(good[:n]); err == nil {
			t.Errorf("a %d-byte prefix of a %d-byte file loads", n, len(good))
		}
	}
}

func TestWeightsIntoWrongArchitecture(t *testing.T) {
	src, _ := New(Config{Kind: KindMLP, Inputs: 3, Outputs: 1, Hidden: []int{4}, Activation: ActTanh, Loss: LossBCE}, rand.New(rand.NewPCG(1, 1)))
	b, _ := src.MarshalBinary()
	for _, cfg := range []Config{
		{Kind: KindMLP, Inputs: 3, Outputs: 1, Hidden: []int{5}, Activation: ActTanh, Loss: LossBCE},
		{Kind: KindMLP, Inputs: 3, Outputs: 1, Hidden: []int{4}, Activation: ActReLU, Loss: LossBCE},
		{Kind: KindMLP, Inputs: 3, Outputs: 1, Hidden: []int{4}, Activation: ActTanh, Loss: LossMSE},
	} {
		dst, _ := New(cfg, rand.New(rand.NewPCG(2, 2)))
		before := append([]float64(nil), dst.Params()...)
		wantErr(t, dst.UnmarshalBinary(b), "model is mlp")
		if !reflect.DeepEqual(before, dst.Params()) {
			t.Errorf("%+v: failed load changed the weights", cfg)
		}
	}
	nan, _ := New(Config{Kind: KindLogReg, Inputs: 1, Outputs: 1, Loss: LossBCE}, rand.New(rand.NewPCG(1, 1)))
	nan.Params()[0] = math.NaN()
	if _, err := nan.MarshalBinary(); err == nil {
		t.Errorf("MarshalBinary accepted a NaN weight")
	}
}

func FuzzUnmarshal(f *testing.F) {
	seeds := 0
	for n, cfg := range gradCases()[:6] {
		m, _ := New(cfg, rand.New(rand.NewPCG(uint64(n), 1)))
		b, err := m.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2])
		q, err := m.MarshalQuantized()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(q)
		seeds += 3
	}
	f.Add(weightFile(1, `{"kind":"softmax","inputs":1,"outputs":2,"loss":"softmax-ce"}`, []float64{1, 2, 3, 4}))
	f.Add([]byte("FCMW"))
	if seeds == 0 {
		f.Fatal("empty seed corpus")
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		check := func(b []byte) {
			m, err := Unmarshal(b)
			if err != nil {
				return
			}
			out, err := m.MarshalBinary()
			if err != nil {
				t.Fatalf("a loaded model does not marshal: %v", err)
			}
			again, err := Unmarshal(out)
			if err != nil {
				t.Fatalf("a marshalled model does not load: %v", err)
			}
			if !reflect.DeepEqual(again.Config(), m.Config()) {
				t.Fatalf("config changed: %+v → %+v", m.Config(), again.Config())
			}
			for i, v := range m.Params() {
				if math.Float64bits(again.Params()[i]) != math.Float64bits(v) {
					t.Fatalf("param %d changed: %v → %v", i, v, again.Params()[i])
				}
			}
			if out2, _ := again.MarshalBinary(); !bytes.Equal(out, out2) {
				t.Fatalf("re-marshalling is not stable")
			}
		}
		check(b)
		// With the checksum repaired, so that mutations reach the config and parameter checks.
		if len(b) >= 4 {
			fixed := bytes.Clone(b)
			binary.LittleEndian.PutUint32(fixed[len(fixed)-4:], crc32.ChecksumIEEE(fixed[:len(fixed)-4]))
			check(fixed)
		}
	})
}
