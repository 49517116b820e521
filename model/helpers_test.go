package model

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// wantErr fails t unless err is an error whose message contains want; want "" means no error.
func wantErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("unexpected error %v", err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Errorf("error %v, want one containing %q", err, want)
	}
}

// modelWith builds a model for cfg and sets its parameters to the first entries of params.
func modelWith(t *testing.T, cfg Config, params []float64) *Model {
	t.Helper()
	m, err := New(cfg, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	copy(m.Params(), params)
	return m
}
