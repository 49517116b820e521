package model

import (
	"encoding/binary"
	"hash/crc32"
	"math"
	"reflect"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func TestSparseWeightsRoundTrip(t *testing.T) {
	for _, c := range sparseCases() {
		t.Run(sparseName(c), func(t *testing.T) {
			m, x, _ := randomSparseProblem(t, c, 5, 2)
			b, err := m.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if string(b[:4]) != "FCSW" {
				t.Fatalf("magic %q", b[:4])
			}
			got, err := UnmarshalSparse(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Config(), m.Config()) || !reflect.DeepEqual(got.Params(), m.Params()) {
				t.Fatalf("round trip changed the model")
			}
			p, q := mat.NewDense(5, c.Outputs, nil), mat.NewDense(5, c.Outputs, nil)
			m.Predict(p, x)
			got.Predict(q, x)
			if !mat.Equal(p, q) {
				t.Error("loaded model predicts differently")
			}
			// A dense weight file is not a sparse one, and the other way round.
			if _, err := Unmarshal(b); err == nil || !strings.Contains(err.Error(), "bad magic") {
				t.Errorf("Unmarshal of a sparse model: %v", err)
			}
		})
	}
}

func TestSparseWeightsRejects(t *testing.T) {
	frame := func(cfg string, params []float64) []byte {
		var b []byte
		b = append(b, "FCSW"...)
		b = binary.LittleEndian.AppendUint16(b, 1)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(cfg)))
		b = append(b, cfg...)
		b = binary.LittleEndian.AppendUint64(b, uint64(len(params)))
		for _, v := range params {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
		}
		return binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
	}
	good := `{"kind":"sparse-linear","inputs":2,"outputs":1,"loss":"bce"}`
	if _, err := UnmarshalSparse(frame(good, []float64{1, 2, 3})); err != nil {
		t.Fatalf("the documented layout does not load: %v", err)
	}
	corrupt := frame(good, []float64{1, 2, 3})
	corrupt[len(corrupt)-9] ^= 1
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"count", frame(good, []float64{1, 2}), "2 parameters, but the config (sparse-linear, 2 inputs, 1 outputs) has 3"},
		{"kind", frame(`{"kind":"mlp","inputs":2,"outputs":1,"loss":"bce"}`, []float64{1}), "unknown kind"},
		{"unknown field", frame(`{"kind":"sparse-linear","inputs":2,"outputs":1,"loss":"bce","vocab":1}`, nil), "unknown field"},
		{"nan", frame(good, []float64{1, math.NaN(), 3}), "parameter 1 is NaN"},
		{"checksum", corrupt, "checksum"},
		{"truncated", frame(good, []float64{1, 2, 3})[:20], "truncated"},
		{"dense magic", append([]byte("FCMW"), frame(good, nil)[4:]...), "bad magic"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := UnmarshalSparse(tc.b)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.ContainsAny(err.Error(), "\n\r") {
				t.Errorf("error %v, want one line with %q", err, tc.want)
			}
		})
	}
}

func FuzzUnmarshalSparse(f *testing.F) {
	seeds := 0
	for _, c := range sparseCases() {
		m, _, _ := randomSparseProblem(f, c, 1, 1)
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
	f.Add([]byte("FCSW"))
	if seeds == 0 {
		f.Fatal("empty seed corpus")
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := UnmarshalSparse(b)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("error spans lines: %q", err)
			}
			return
		}
		out, err := m.MarshalBinary()
		if err != nil {
			t.Fatalf("a loaded model does not marshal: %v", err)
		}
		again, err := UnmarshalSparse(out)
		if err != nil {
			t.Fatalf("a marshalled model does not load: %v", err)
		}
		if !reflect.DeepEqual(again.Config(), m.Config()) || !reflect.DeepEqual(again.Params(), m.Params()) {
			t.Fatalf("round trip changed the model")
		}
	})
}
