package data

import (
	"fmt"
	"math"
	"slices"
)

// sameDataset reports the first difference between two data sets (NaN
// equals NaN; names are not compared).
func sameDataset(a, b *Dataset) error {
	switch {
	case !slices.Equal(a.Features, b.Features):
		return fmt.Errorf("features %q vs %q", a.Features, b.Features)
	case !slices.Equal(a.Classes, b.Classes):
		return fmt.Errorf("classes %q vs %q", a.Classes, b.Classes)
	case a.Label != b.Label || a.PrivacyUnit != b.PrivacyUnit || a.Missing != b.Missing:
		return fmt.Errorf("label/unit/missing %q/%q/%q vs %q/%q/%q", a.Label, a.PrivacyUnit, a.Missing, b.Label, b.PrivacyUnit, b.Missing)
	case !slices.Equal(a.Y, b.Y):
		return fmt.Errorf("labels differ")
	case !slices.Equal(a.Units, b.Units) || !slices.Equal(a.UnitIDs, b.UnitIDs):
		return fmt.Errorf("units differ")
	case a.TextColumn != b.TextColumn || !slices.Equal(a.Text, b.Text):
		return fmt.Errorf("text column %q vs %q, or documents differ", a.TextColumn, b.TextColumn)
	case (a.X == nil) != (b.X == nil):
		return fmt.Errorf("one feature matrix is nil")
	case a.X == nil:
		return nil
	}
	ar, ac := a.X.Dims()
	br, bc := b.X.Dims()
	if ar != br || ac != bc {
		return fmt.Errorf("shape %d×%d vs %d×%d", ar, ac, br, bc)
	}
	for i := range ar {
		for j := range ac {
			x, y := a.X.At(i, j), b.X.At(i, j)
			if x != y && !(math.IsNaN(x) && math.IsNaN(y)) {
				return fmt.Errorf("X[%d,%d] = %v vs %v", i, j, x, y)
			}
		}
	}
	return nil
}
