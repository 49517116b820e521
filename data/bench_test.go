package data

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// TestLoadLargeFile writes a synthetic set with a privacy unit to a real
// file and loads it back: 200,000 rows × 30 features (5,000 with -short).
func TestLoadLargeFile(t *testing.T) {
	rows := 200_000
	if testing.Short() {
		rows = 5_000
	}
	d := withUnits(Synthetic(rows, 30, 2, 3))
	path := filepath.Join(t.TempDir(), "large.csv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.WriteCSV(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	back, rep, err := Load(r, path, d.Options())
	if err != nil {
		t.Fatal(err)
	}
	if err := sameDataset(d, back); err != nil {
		t.Fatal(err)
	}
	if rep.Rows != rows || rep.Units != d.NumUnits() {
		t.Errorf("report: %d rows, %d units; want %d, %d", rep.Rows, rep.Units, rows, d.NumUnits())
	}
}

func BenchmarkLoad(b *testing.B) {
	sets := map[string][]byte{}
	for _, name := range EmbeddedNames() {
		sets[name], _, _ = Embedded(name)
	}
	var buf bytes.Buffer
	if err := Synthetic(100_000, 30, 2, 1).WriteCSV(&buf); err != nil {
		b.Fatal(err)
	}
	sets["synthetic-rows=100000-features=30"] = buf.Bytes()
	for _, name := range []string{"wdbc", "digits", "synthetic-rows=100000-features=30"} {
		opt := Options{Label: "class"}
		if _, o, ok := Embedded(name); ok {
			opt = o
		}
		raw := sets[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			var rows int
			for b.Loop() {
				d, _, err := Load(bytes.NewReader(raw), name, opt)
				if err != nil {
					b.Fatal(err)
				}
				rows = d.Rows()
			}
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

func BenchmarkTransformApply(b *testing.B) {
	for _, shape := range [][2]int{{569, 30}, {100_000, 30}, {10_000, 784}} {
		b.Run(fmt.Sprintf("rows=%d/features=%d", shape[0], shape[1]), func(b *testing.B) {
			d := Synthetic(shape[0], shape[1], 2, 1)
			tr, err := FitTransform(d.X, MissingMean, NormalizeZScore)
			if err != nil {
				b.Fatal(err)
			}
			var dst mat.Dense
			b.ReportAllocs()
			for b.Loop() {
				if err := tr.Apply(&dst, d.X); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(shape[0]*shape[1])*float64(b.N)/b.Elapsed().Seconds(), "cells/s")
		})
	}
}

func BenchmarkFitTransform(b *testing.B) {
	for _, impute := range []string{MissingMean, MissingMedian} {
		b.Run("rows=100000/features=30/impute="+impute, func(b *testing.B) {
			d := Synthetic(100_000, 30, 2, 1)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := FitTransform(d.X, impute, NormalizeZScore); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(100_000*30)*float64(b.N)/b.Elapsed().Seconds(), "cells/s")
		})
	}
}

func BenchmarkPartition(b *testing.B) {
	d := Synthetic(100_000, 30, 10, 1)
	for _, scheme := range []string{"iid", "dirichlet:0.5", "quantity:0.5"} {
		s, err := ParseScheme(scheme)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("rows=100000/hospitals=10/"+scheme, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Partition(d, 10, s, 1); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(d.Rows())*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

func BenchmarkStratifiedKFold(b *testing.B) {
	d := Synthetic(100_000, 30, 2, 1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := StratifiedKFold(d, 5, 1); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(d.Rows())*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
