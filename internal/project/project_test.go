package project

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fedcrypt/fedcrypt/internal/pki"
	"github.com/fedcrypt/fedcrypt/transport/grpcnet"
	"github.com/fedcrypt/fedcrypt/vault"
)

// party is one party's public parts as a test writes them into a project.
type party struct{ recipient, signingKey string }

func newParty(t testing.TB) party {
	t.Helper()
	id, err := vault.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	return party{id.Recipient().String(), vault.FormatSigningKey(id.SigningPublicKey())}
}

// writeCSR writes a certificate request for s into dir/name.
func writeCSR(t testing.TB, dir, name string, s pki.Subject) string {
	t.Helper()
	csr, _, err := pki.NewRequest(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), csr, 0o644); err != nil {
		t.Fatal(err)
	}
	return name
}

// fixture is a valid project of members a, b, c in a directory; edit
// rewrites its text before it is written.
type fixture struct {
	dir  string
	text string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	dir := t.TempDir()
	agg := newParty(t)
	var b strings.Builder
	fmt.Fprintf(&b, "version: 1\nname: test\naggregator:\n  recipient: %s\n  signing_key: %s\n  hosts: [agg.example.org]\n  csr: %s\nmembers:\n",
		agg.recipient, agg.signingKey, writeCSR(t, dir, "agg.csr", pki.Subject{Hosts: []string{"agg.example.org"}}))
	for _, id := range []string{"a", "b", "c"} {
		p := newParty(t)
		fmt.Fprintf(&b, "  - id: %s\n    recipient: %s\n    signing_key: %s\n    csr: %s\n", id, p.recipient, p.signingKey,
			writeCSR(t, dir, id+".csr", pki.Subject{Member: id}))
	}
	b.WriteString(`threshold: 2
model: logreg
dp: {epsilon: 1, delta: 1e-5, clip_norm: 1, sample_rate: 0.2}
training: {rounds: 3, local_steps: 5, lr: 0.1}
data:
  label: y
  classes: [no, yes]
  features: [age, bmi, glucose]
`)
	return &fixture{dir: dir, text: b.String()}
}

func (f *fixture) load(t *testing.T) (*File, error) {
	t.Helper()
	path := filepath.Join(f.dir, "fed.yaml")
	if err := os.WriteFile(path, []byte(f.text), 0o644); err != nil {
		t.Fatal(err)
	}
	return Load(path)
}

func (f *fixture) build(t *testing.T) error {
	t.Helper()
	pf, err := f.load(t)
	if err != nil {
		return err
	}
	_, err = pf.Build()
	return err
}

// lineOf returns the 1-based line of the first line of text containing s.
func lineOf(text, s string) int {
	for i, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			return i + 1
		}
	}
	return 0
}

func TestBuild(t *testing.T) {
	f := newFixture(t)
	pf, err := f.load(t)
	if err != nil {
		t.Fatal(err)
	}
	fed, err := pf.Build()
	if err != nil {
		t.Fatal(err)
	}
	if err := fed.Validate(); err != nil {
		t.Fatal(err)
	}
	switch {
	case fed.Name != "test" || fed.Aggregator.ID != AggregatorID || len(fed.Members) != 3:
		t.Errorf("federation %q, aggregator %q, %d members", fed.Name, fed.Aggregator.ID, len(fed.Members))
	case fed.Threshold != 2 || fed.MinContributors != 3:
		t.Errorf("threshold %d, min contributors %d; want 2 and T+1 = 3", fed.Threshold, fed.MinContributors)
	case !fed.Members[1].Contributor || !fed.Members[1].KeyHolder:
		t.Error("a member with no roles given is not both contributor and key holder")
	case !fed.HE.Enabled || fed.HE.Preset != Defaults.Preset || !fed.DP.Enabled || fed.Training.SpareRounds != Defaults.SpareRounds:
		t.Errorf("defaults not applied: he %+v, dp enabled %v, spare %d", fed.HE, fed.DP.Enabled, fed.Training.SpareRounds)
	case strings.Join(fed.Data.Schema.Features, ",") != "age,bmi,glucose" || fed.Data.Schema.Classes[1] != "yes":
		t.Errorf("schema %+v", fed.Data.Schema)
	}
}

func TestBuildRefuses(t *testing.T) {
	stranger := newParty(t)
	for _, tc := range []struct {
		name string
		edit func(f *fixture) string // rewrites f.text; returns the text of the line the error must name
		want []string
	}{
		{"unknown field", func(f *fixture) string {
			f.text = strings.Replace(f.text, "  - id: b\n", "  - id: b\n    colour: blue\n", 1)
			return "colour: blue"
		}, []string{"field colour not found"}},
		{"repeated field", func(f *fixture) string {
			f.text = strings.Replace(f.text, "threshold: 2\n", "threshold: 2\nthreshold: 3\n", 1)
			return "threshold: 3"
		}, []string{`"threshold" already defined at line`}},
		{"wrong type", func(f *fixture) string {
			f.text = strings.Replace(f.text, "threshold: 2\n", "threshold: two\n", 1)
			return "threshold: two"
		}, []string{"two"}},
		{"duplicate member id", func(f *fixture) string {
			f.text = strings.Replace(f.text, "  - id: c\n", "  - id: a # again\n", 1)
			return "# again"
		}, []string{`member "a": id: listed twice (first at line 9)`}},
		{"threshold above key holders", func(f *fixture) string {
			f.text = strings.Replace(f.text, "threshold: 2\n", "threshold: 4\n", 1)
			return "threshold: 4"
		}, []string{"threshold 4 exceeds the 3 key holders"}},
		{"threshold with contributors only", func(f *fixture) string {
			f.text = strings.Replace(f.text, "  - id: b\n", "  - id: b\n    roles: [contributor]\n", 1)
			f.text = strings.Replace(f.text, "threshold: 2\n", "threshold: 3\n", 1)
			return "threshold: 3"
		}, []string{"threshold 3 exceeds the 2 key holders (a, c)"}},
		{"malformed recipient", func(f *fixture) string {
			i := strings.Index(f.text, "  - id: b\n    recipient: ") + len("  - id: b\n    recipient: ")
			f.text = f.text[:i] + "age1notakey" + f.text[i+strings.IndexByte(f.text[i:], '\n'):]
			return "recipient: age1notakey"
		}, []string{`member "b": recipient:`}},
		{"malformed signing key", func(f *fixture) string {
			i := strings.Index(f.text, "  - id: c\n")
			j := i + strings.Index(f.text[i:], "signing_key: ") + len("signing_key: ")
			f.text = f.text[:j] + "ed25519:AAAA" + f.text[j+strings.IndexByte(f.text[j:], '\n'):]
			return "signing_key: ed25519:AAAA"
		}, []string{`member "c": signing_key:`}},
		{"unknown role", func(f *fixture) string {
			f.text = strings.Replace(f.text, "  - id: b\n", "  - id: b\n    roles: [keyholder]\n", 1)
			return "roles: [keyholder]"
		}, []string{`member "b": roles: "keyholder"`}},
		{"request of another member", func(f *fixture) string {
			f.text = strings.Replace(f.text, "csr: b.csr", "csr: c.csr", 1)
			return "csr: c.csr"
		}, []string{`member "b": csr c.csr names member "c"`}},
		{"request with a host not allowed", func(f *fixture) string {
			writeCSR(t, f.dir, "b-host.csr", pki.Subject{Member: "b", Hosts: []string{"b.example.org"}})
			f.text = strings.Replace(f.text, "csr: b.csr", "csr: b-host.csr", 1)
			return "csr: b-host.csr"
		}, []string{`host "b.example.org"`, "allows it no host"}},
		{"too few members", func(f *fixture) string {
			f.text = f.text[:strings.Index(f.text, "  - id: b\n")] + f.text[strings.Index(f.text, "threshold:"):]
			return "  - id: a"
		}, []string{"at least 2, got 1"}},
		{"an auditor key in a member's place", func(f *fixture) string {
			f.text = strings.Replace(f.text, "threshold: 2\n", "threshold: 2\nauditors:\n  - recipient: "+stranger.signingKey+"\n", 1)
			return "  - recipient: " + stranger.signingKey
		}, []string{`auditor "auditor1": recipient:`}},
		{"unknown model", func(f *fixture) string {
			f.text = strings.Replace(f.text, "model: logreg", "model: forest", 1)
			return "model: forest"
		}, []string{"model forest"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			line := lineOf(f.text, tc.edit(f))
			err := f.build(t)
			if err == nil {
				t.Fatal("built")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
			wantAt := fmt.Sprintf("fed.yaml:%d:", line)
			if !strings.Contains(msg, wantAt) && !strings.Contains(msg, fmt.Sprintf("line %d:", line)) {
				t.Errorf("error %q does not name line %d", msg, line)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
		})
	}
}

func TestSignChecksTheProject(t *testing.T) {
	f := newFixture(t)
	pf, err := f.load(t)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ca, err := grpcnet.NewCA("test", now.Add(-time.Hour), now.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(f.dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cert, who, err := pf.Sign(ca, read("b.csr"), now, now.Add(time.Hour))
	if err != nil || who != `member "b"` {
		t.Fatalf("sign b's request: %s, %v", who, err)
	}
	c, _ := grpcnet.ParseCertificate(cert)
	if id, err := grpcnet.MemberID(c); err != nil || id != "b" {
		t.Fatalf("certificate names %q, %v", id, err)
	}
	if _, who, err := pf.Sign(ca, read("agg.csr"), now, now.Add(time.Hour)); err != nil || who != "aggregator" {
		t.Fatalf("sign the aggregator's request: %s, %v", who, err)
	}
	writeCSR(t, f.dir, "z.csr", pki.Subject{Member: "z"})
	writeCSR(t, f.dir, "b2.csr", pki.Subject{Member: "b"})
	writeCSR(t, f.dir, "agg2.csr", pki.Subject{Hosts: []string{"evil.example.org"}})
	for _, tc := range []struct{ csr, want string }{
		{"z.csr", `member "z" is not in project`},
		{"b2.csr", "differs from the one the project pins"},
		{"agg2.csr", `host "evil.example.org"`},
	} {
		t.Run(tc.csr, func(t *testing.T) {
			if _, _, err := pf.Sign(ca, read(tc.csr), now, now.Add(time.Hour)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
