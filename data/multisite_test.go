package data

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func TestMultiSite(t *testing.T) {
	sites := MultiSite(4000, 3)
	if len(sites) != 4 {
		t.Fatalf("%d sites", len(sites))
	}
	again := MultiSite(4000, 3)
	for s, site := range sites {
		if err := sameDataset(site.Data, again[s].Data); err != nil {
			t.Fatalf("site %d not deterministic: %v", s, err)
		}
		if err := site.Data.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	mean := func(d *Dataset, j int) float64 {
		var s float64
		for i := range d.Rows() {
			s += d.X.At(i, j)
		}
		return s / float64(d.Rows())
	}
	// Means in the sites' own units, ±4 standard errors.
	tests := []struct {
		site, col int
		want, sd  float64
	}{
		{0, 0, 55, 12},
		{1, 0, 55 + 1.5*12, 12},
		{1, 1, 132 + 1.5*18, 18},
		{2, 2, (108 - 0.5*26) / mgdlPerMmol, 26 / mgdlPerMmol},
		{3, 2, 108, 26},
	}
	for _, tt := range tests {
		if got := mean(sites[tt.site].Data, tt.col); math.Abs(got-tt.want) > 4*tt.sd/math.Sqrt(4000) {
			t.Errorf("site %d column %d: mean %v, want %v", tt.site, tt.col, got, tt.want)
		}
	}
	if !slices.Equal(sites[3].Absent, []string{"bmi"}) {
		t.Errorf("absent %q", sites[3].Absent)
	}
	for i := range sites[3].Data.Rows() {
		if !math.IsNaN(sites[3].Data.X.At(i, 3)) {
			t.Fatalf("site-d row %d has a bmi", i)
		}
	}
	// The risk differs by site: site-b is sicker than the reference.
	prev := func(d *Dataset) float64 { return float64(d.ClassCounts()[1]) / float64(d.Rows()) }
	if pa, pb := prev(sites[0].Data), prev(sites[1].Data); !(pb > pa+0.2) {
		t.Errorf("prevalence site-a %.3f, site-b %.3f: want site-b higher by > 0.2", pa, pb)
	}
	// The declared scale harmonizes site-c's glucose.
	c := sites[2].Data
	if err := c.ScaleColumns(sites[2].Scale); err != nil {
		t.Fatal(err)
	}
	if got, want := mean(c, 2), 108-0.5*26.0; math.Abs(got-want) > 4*26/math.Sqrt(4000) {
		t.Errorf("harmonized glucose mean %v, want %v", got, want)
	}
}

func TestScaleColumnsErrors(t *testing.T) {
	d := MultiSite(3, 1)[0].Data
	before := d.X.RawMatrix().Data[0]
	for _, f := range []map[string]float64{{"nope": 2}, {"age": 0}, {"age": math.Inf(1)}, {"age": 2, "sbp": 1e308}} {
		err := d.ScaleColumns(f)
		if err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error %v", f, err)
		}
	}
	if d.X.RawMatrix().Data[0] != before {
		t.Error("a failed ScaleColumns changed the data")
	}
}
