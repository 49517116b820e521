package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"slices"

	"github.com/fedcrypt/fedcrypt/data"
)

// boundsFlags are the statistics phase's flags: the features' declared
// ranges and the share of ε the release takes.
type boundsFlags struct {
	file  string
	share float64
}

func (b *boundsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&b.file, "bounds", "", "JSON `file` of declared feature ranges, {\"feature\": [lo, hi], ...}: public knowledge (clinical ranges), never the data's own; "+
		"values are clamped to them and normalized with them (default for an embedded set: its published ranges)")
	fs.Float64Var(&b.share, "stats-share", 0, "share of ε the statistics phase's release takes, in (0, 1) (default 0.1)")
}

// load returns the declared ranges for ds, loaded from source: the
// --bounds file's, else an embedded set's published ones, else none. A
// range for a column ds lacks, or one that is not finite lo < hi, is an
// error naming it.
func (b *boundsFlags) load(source string, ds *data.Dataset) (map[string][2]float64, error) {
	if b.file == "" {
		out, _ := data.EmbeddedBounds(source)
		return out, nil
	}
	raw, err := os.ReadFile(b.file)
	if err != nil {
		return nil, fmt.Errorf("--bounds: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var out map[string][2]float64
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("--bounds %s: want a JSON object of feature → [lo, hi]: %v", b.file, err)
	}
	for name, r := range out {
		switch {
		case !slices.Contains(ds.Features, name):
			return nil, fmt.Errorf("--bounds %s: %q is not a feature of the data (features: %v)", b.file, name, ds.Features)
		case math.IsNaN(r[0]) || math.IsInf(r[0], 0) || math.IsInf(r[1], 0) || !(r[0] < r[1]):
			return nil, fmt.Errorf("--bounds %s: %q: [%v, %v] is not a finite range lo < hi", b.file, name, r[0], r[1])
		}
	}
	return out, nil
}
