// Command insecure asks package he for the presets from an ordinary (non-
// test) binary, for TestInsecurePresetsRefusedOutsideTests: it prints one
// line per request, the error or "ok".
package main

import (
	"fmt"

	"github.com/fedcrypt/fedcrypt/he"
)

func main() {
	report := func(what string, err error) {
		if err != nil {
			fmt.Printf("%s: %v\n", what, err)
		} else {
			fmt.Printf("%s: ok\n", what)
		}
	}
	for _, id := range []he.PresetID{he.PresetCompact, he.PresetPrecise, he.PresetInsecureTestCompact, he.PresetInsecureTestPrecise} {
		_, err := he.Preset(id)
		report("Preset "+id.String(), err)
	}
	lit := he.ParamsLiteral{ID: 99, LogN: 10, LogQ: []int{61}, LogScale: 50, MaxAbs: 1,
		MaxAddends: 64, MaxKeyHolders: 8, StatisticalSecurity: 30, InsecureTestOnly: true}
	_, err := he.NewParams(lit)
	report("NewParams InsecureTestOnly", err)
	report("Validate InsecureTestOnly", lit.Validate())
}
