// Package layout has no code: its test checks that the module's import
// graph agrees with the package map in DESIGN.md ("Layout"), so that
// every package is in the map and imports only what its row allows.
package layout
