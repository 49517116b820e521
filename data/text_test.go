package data

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

const notesCSV = "note,age,dx\n" +
	"\"Ménière's disease, 3 years\",61,ear\n" +
	",40,heart\n" +
	"\"Chest pain.\nECG normal\",52,heart\n" +
	"NA,33,ear\n"

func TestLoadTextColumn(t *testing.T) {
	d, rep, err := Load(strings.NewReader(notesCSV), "notes.csv", Options{Label: "dx", Text: "note"})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	want := []string{"Ménière's disease, 3 years", "", "Chest pain.\nECG normal", ""}
	if !slices.Equal(d.Text, want) || d.TextColumn != "note" {
		t.Errorf("documents %q in column %q, want %q", d.Text, d.TextColumn, want)
	}
	if !slices.Equal(d.Features, []string{"age"}) || rep.Rows != 4 {
		t.Errorf("features %q, %d rows", d.Features, rep.Rows)
	}
	s := d.Schema()
	if s.Text != "note" {
		t.Errorf("schema text column %q", s.Text)
	}
	if err := s.Check(d); err != nil {
		t.Error(err)
	}
	sub := d.Subset([]int{2, 0})
	if !slices.Equal(sub.Text, []string{want[2], want[0]}) {
		t.Errorf("subset documents %q", sub.Text)
	}
	var buf bytes.Buffer
	if err := d.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	back, _, err := Load(&buf, "back.csv", d.Options())
	if err != nil {
		t.Fatal(err)
	}
	if err := sameDataset(d, back); err != nil {
		t.Errorf("round trip: %v", err)
	}
	other := d.Schema()
	other.Text = ""
	if err := other.Check(d); err == nil || !strings.Contains(err.Error(), "text column") {
		t.Errorf("schema without the text column accepted the data set: %v", err)
	}
}

func TestLoadTextOnly(t *testing.T) {
	csv := "condition,abstract\nneoplasms,Tumor of the trachea.\ngeneral,Chronic pain.\nneoplasms,\n"
	d, _, err := Load(strings.NewReader(csv), "abstracts.csv", Options{Label: "condition", Text: "abstract"})
	if err != nil {
		t.Fatal(err)
	}
	if d.X != nil || len(d.Features) != 0 || d.Rows() != 3 {
		t.Fatalf("X %v, features %q, %d rows; want no numeric features and 3 rows", d.X, d.Features, d.Rows())
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	folds, err := StratifiedKFold(d, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if n := folds[0].Train.Rows() + folds[0].Test.Rows(); n != 3 || folds[0].Test.Text == nil {
		t.Errorf("fold of %d rows, documents %q", n, folds[0].Test.Text)
	}
	if _, _, err := Load(strings.NewReader(csv), "abstracts.csv", Options{Label: "condition"}); err == nil {
		t.Error("the text column was parsed as a number without an error")
	}
}

func TestLoadTextErrors(t *testing.T) {
	for _, tc := range []struct {
		name, csv string
		opt       Options
		want      string
	}{
		{"not UTF-8", "dx,note\near,fine\nheart,\"bad \xff\xfe patient Smith\"\n", Options{Label: "dx", Text: "note"},
			`t.csv: line 3, column "note": not valid UTF-8 text`},
		{"no such column", "dx,note\near,x\nheart,y\n", Options{Label: "dx", Text: "notes"},
			`t.csv: line 1: no text column "notes" in the header`},
		{"label", "dx,note\near,x\n", Options{Label: "dx", Text: "dx"}, "text column \"dx\" is also the label"},
		{"dropped", "dx,note\near,x\n", Options{Label: "dx", Text: "note", Drop: []string{"note"}}, "also dropped"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Load(strings.NewReader(tc.csv), "t.csv", tc.opt)
			if err == nil || !strings.HasSuffix(err.Error(), tc.want) && !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "Smith") || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q quotes the cell or spans lines", err)
			}
		})
	}
}
