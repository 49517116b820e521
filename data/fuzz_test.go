package data

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// FuzzLoad checks that Load never panics, that what it loads satisfies the
// Dataset invariants and agrees with its Report, and that WriteCSV writes
// it back exactly.
func FuzzLoad(f *testing.F) {
	head := func(name string, n int) []byte {
		raw, _, _ := Embedded(name)
		lines := bytes.SplitAfter(raw, []byte("\n"))
		return bytes.Join(lines[:n], nil)
	}
	f.Add(head("wdbc", 6), "diagnosis", "M", "", "", "", uint8(0))
	f.Add(head("wdbc", 4), "diagnosis", "B", "id", "", "", uint8(2))
	f.Add(head("digits", 8), "digit", "", "", "", "", uint8(1))
	f.Add(head("digits", 3), "digit", "", "px0", "px1", "", uint8(0))
	f.Add([]byte("p,a,b,y\nx,1,NA,M\nx,?,2,B\nz,3,4,B\n"), "y", "", "", "p", "", uint8(0))
	f.Add([]byte("p,a,b,y\nx,1,NA,M\nx,?,2,B\nz,3,4,B\n"), "y", "M", "", "p", "", uint8(2))
	f.Add([]byte("a,y\n1,M\n2,B\n3\n"), "y", "", "", "", "", uint8(0))
	f.Add([]byte("a,y\n1,M\nabc,B\n"), "y", "", "", "", "", uint8(0))
	f.Add([]byte("a,a,y\n1,2,M\n"), "y", "", "", "", "", uint8(0))
	f.Add([]byte("\ufeffa,\"y\"\r\n\"1\",M\r\n2,\"B\"\r\n"), "y", "", "", "", "", uint8(0))
	f.Add([]byte("a,y\n1,M\n2\"x,B\n"), "y", "", "", "", "", uint8(0))
	f.Add([]byte(""), "y", "", "", "", "", uint8(0))
	clinic, err := os.ReadFile("testdata/clinic.csv")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(clinic, "outcome", "sick", "record_id", "patient", "", uint8(0))
	f.Add(clinic, "outcome", "", "ward", "patient", "", uint8(2))
	f.Add([]byte("condition,abstract\nneoplasms,\"Tumor, 3 cm.\"\ngeneral,\ngeneral,\"pain\r\nNA\"\n"), "condition", "", "", "", "abstract", uint8(0))
	f.Add([]byte("id,note,y\n1,caf\xc3\xa9,a\n2,\xff,b\n"), "y", "", "id", "", "note", uint8(1))
	f.Fuzz(func(t *testing.T, csv []byte, label, positive, drop, unit, text string, missing uint8) {
		opt := Options{Label: label, Positive: positive, PrivacyUnit: unit, Text: text, Missing: []string{"", MissingMedian, MissingDrop}[missing%3]}
		if drop != "" {
			opt.Drop = []string{drop}
		}
		d, rep, err := Load(bytes.NewReader(csv), "fuzz.csv", opt)
		if err != nil {
			if msg := err.Error(); !strings.HasPrefix(msg, "fuzz.csv: ") || strings.ContainsAny(msg, "\n\r") {
				t.Fatalf("error %q is not one line naming the file", msg)
			}
			return
		}
		if err := d.Validate(); err != nil {
			t.Fatalf("loaded data set breaks an invariant: %v", err)
		}
		if rep.Rows != d.Rows() || rep.RowsRead != d.Rows()+rep.RowsDropped+rep.RowsMissingLabel {
			t.Fatalf("report %+v disagrees with %d rows", rep, d.Rows())
		}
		if positive != "" && d.Classes[1] != positive {
			t.Fatalf("positive %q but classes %q", positive, d.Classes)
		}
		if (text != "") != (d.Text != nil) {
			t.Fatalf("text column %q: documents %v", text, d.Text != nil)
		}
		if (unit != "") != (d.Units != nil) || (unit != "" && rep.Units != d.NumUnits()) {
			t.Fatalf("privacy unit %q: units %v, report %d", unit, d.Units, rep.Units)
		}
		var buf bytes.Buffer
		if err := d.WriteCSV(&buf); err != nil {
			t.Fatal(err)
		}
		back, _, err := Load(bytes.NewReader(buf.Bytes()), "back.csv", d.Options())
		if err != nil {
			t.Fatalf("reloading what WriteCSV wrote: %v", err)
		}
		if err := sameDataset(d, back); err != nil {
			t.Fatalf("round trip: %v", err)
		}
	})
}
