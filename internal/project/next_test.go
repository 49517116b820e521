package project

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/internal/pki"
	"github.com/fedcrypt/fedcrypt/transport/grpcnet"
)

// TestBuildNextVersion: the coordinator removes member a and adds d to the
// project file; the next version follows the first, names both changes,
// and pins every member's TLS key, the key of its certificate request.
func TestBuildNextVersion(t *testing.T) {
	f := newFixture(t)
	pf, err := f.load(t)
	if err != nil {
		t.Fatal(err)
	}
	v1, err := pf.Build()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range v1.Members {
		b, err := os.ReadFile(filepath.Join(f.dir, m.ID+".csr"))
		if err != nil {
			t.Fatal(err)
		}
		r, err := pki.ParseRequest(b)
		if err != nil {
			t.Fatal(err)
		}
		want, err := grpcnet.KeyPin(r.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		if m.TLSKey != want {
			t.Errorf("member %s: pin %q, want its request's key %s", m.ID, m.TLSKey, want)
		}
	}

	f.text = regexp.MustCompile(`(?m)^  - id: a\n(    .*\n)+`).ReplaceAllString(f.text, "")
	d := newParty(t)
	f.text = strings.Replace(f.text, "threshold:", fmt.Sprintf("  - id: d\n    recipient: %s\n    signing_key: %s\n    csr: %s\nthreshold:",
		d.recipient, d.signingKey, writeCSR(t, f.dir, "d.csr", pki.Subject{Member: "d"})), 1)
	pf, err = f.load(t)
	if err != nil {
		t.Fatal(err)
	}
	v2, err := pf.BuildNext(v1)
	if err != nil {
		t.Fatal(err)
	}
	if l := v2.Lineage; l.Revision != 2 || l.Previous != v1.Hash().String() || !slices.Equal(l.Added, []string{"d"}) || !slices.Equal(l.Removed, []string{"a"}) {
		t.Fatalf("lineage %+v: want revision 2 after %s, d added, a removed", l, v1.Hash())
	}
	if err := federation.CheckSuccessor(v1, v2); err != nil {
		t.Fatal(err)
	}

	// A renamed federation would start every member's budget afresh.
	f.text = strings.Replace(f.text, "name: test", "name: test-2", 1)
	if pf, err = f.load(t); err != nil {
		t.Fatal(err)
	}
	if _, err := pf.BuildNext(v1); !errors.Is(err, federation.ErrNotSuccessor) || !strings.Contains(err.Error(), "fed.yaml") {
		t.Fatalf("renamed next version: %v, want a refusal naming the project file", err)
	}
}
