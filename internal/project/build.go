package project

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/fedavg"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/internal/pki"
	"github.com/fedcrypt/fedcrypt/model"
	"github.com/fedcrypt/fedcrypt/transport/grpcnet"
	"github.com/fedcrypt/fedcrypt/vault"
)

// Roles a member may have.
const (
	RoleContributor = "contributor"
	RoleKeyHolder   = "key_holder"
)

// AggregatorID is the aggregator's id when the project names none.
const AggregatorID = "aggregator"

// Defaults are the settings a project file may leave out, those of
// "fedcrypt sim": encryption with the precise preset and updates bounded
// by 4, DP with the RDP accountant and the fast sampler, 3 decryption
// attempts per sum, min_contributors T+1 (at most the contributors), one
// spare round, local SGD with momentum 0.5, FedAvgM on the server at
// learning rate 0.3 and momentum 0.9, equal weighting, mean imputation and
// z-score normalization; a text column's n-grams hashed into 1,024
// buckets with DP and 2¹⁸ without (sim.DefaultTextFeatures).
var Defaults = struct {
	Preset, Accountant, Noise, Optimizer, ServerOptimizer, Weighting, Missing, Normalize string
	UpdateBound, Momentum, ServerLR, ServerMomentum                                      float64
	MaxDecryptions, SpareRounds, TextBuckets, TextBucketsNoDP                            int
}{
	Preset: "precise", Accountant: "rdp", Noise: "fast", Optimizer: model.OptSGD, ServerOptimizer: fedavg.FedAvgM,
	Weighting: "equal", Missing: data.MissingMean, Normalize: "zscore",
	UpdateBound: 4, Momentum: 0.5, ServerLR: 0.3, ServerMomentum: 0.9, MaxDecryptions: 3, SpareRounds: 1,
	TextBuckets: 1 << 10, TextBucketsNoDP: 1 << 18,
}

// Build checks the project and returns the federation's config, validated.
// It reads the certificate requests and certificates the project names and
// checks that each names its party and only hosts the project allows it.
// Errors are one line naming the file, the line, the party and the field.
func (f *File) Build() (*federation.Config, error) {
	if f.Version != Version {
		return nil, f.errAt(at("version"), "version %d: this fedcrypt reads project files of version %d", f.Version, Version)
	}
	if strings.TrimSpace(f.Name) == "" {
		return nil, f.errAt(at("name"), "name: the federation needs a name")
	}
	if len(f.Members) < 2 {
		return nil, f.errAt(at("members"), "members: a federation needs at least 2, got %d", len(f.Members))
	}
	fed := &federation.Config{Version: federation.Version, Name: f.Name}
	agg := f.Aggregator
	if agg.ID == "" {
		agg.ID = AggregatorID
	}
	if len(agg.Hosts) == 0 {
		return nil, f.errAt(at("aggregator"), "aggregator: hosts: name the DNS names or addresses members reach it at")
	}
	p, _, err := f.party(at("aggregator"), "aggregator", "", agg)
	if err != nil {
		return nil, err
	}
	fed.Aggregator = p
	first := map[string]int{agg.ID: f.line("aggregator")}
	for i, a := range f.Auditors {
		if a.ID == "" {
			a.ID = "auditor" + itoa(i+1)
		}
		if _, err := vault.ParseRecipient(a.Recipient); err != nil {
			return nil, f.errAt(at("auditors", i, "recipient"), "auditor %q: recipient: %v", a.ID, err)
		}
		fed.Auditors = append(fed.Auditors, federation.Party{ID: a.ID, Recipient: a.Recipient})
	}
	var holders []string
	contributors := 0
	for i, m := range f.Members {
		where := at("members", i)
		if m.ID == "" {
			return nil, f.errAt(where, "members[%d]: id: missing", i)
		}
		if line, dup := first[m.ID]; dup {
			return nil, f.errAt(append(where, "id"), "member %q: id: listed twice (first at line %d)", m.ID, line)
		}
		first[m.ID] = f.line(append(where, "id")...)
		p, key, err := f.party(where, fmt.Sprintf("member %q", m.ID), m.ID, m.Party)
		if err != nil {
			return nil, err
		}
		fm := federation.Member{Party: p, Rows: m.Rows}
		if key != nil {
			if fm.TLSKey, err = grpcnet.KeyPin(key); err != nil {
				return nil, f.errAt(where, "member %q: %v", m.ID, err)
			}
		}
		roles := m.Roles
		if len(roles) == 0 {
			roles = []string{RoleContributor, RoleKeyHolder}
		}
		for _, r := range roles {
			switch r {
			case RoleContributor:
				fm.Contributor = true
			case RoleKeyHolder:
				fm.KeyHolder = true
			default:
				return nil, f.errAt(append(where, "roles"), "member %q: roles: %q, want %s or %s", m.ID, r, RoleContributor, RoleKeyHolder)
			}
		}
		if fm.KeyHolder {
			holders = append(holders, m.ID)
		}
		if fm.Contributor {
			contributors++
		}
		fed.Members = append(fed.Members, fm)
	}
	switch {
	case f.Threshold < 2:
		return nil, f.errAt(at("threshold"), "threshold %d: must be at least 2", f.Threshold)
	case f.Threshold > len(holders):
		return nil, f.errAt(at("threshold"), "threshold %d exceeds the %d key holders (%s)", f.Threshold, len(holders), strings.Join(holders, ", "))
	}
	fed.Threshold = f.Threshold
	fed.MinContributors = f.MinContributors
	if fed.MinContributors == 0 {
		fed.MinContributors = min(f.Threshold+1, contributors)
	}
	if err := f.settings(fed); err != nil {
		return nil, err
	}
	if err := fed.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", f.path, err)
	}
	return fed, nil
}

// party checks one party's public keys and, when given, its certificate
// request or certificate, and returns the key that pins its certificate
// (nil when the project gives neither). member is the member's id, empty
// for the aggregator.
func (f *File) party(where []any, who, member string, p Party) (federation.Party, crypto.PublicKey, error) {
	if _, err := vault.ParseRecipient(p.Recipient); err != nil {
		return federation.Party{}, nil, f.errAt(append(where, "recipient"), "%s: recipient: %v", who, err)
	}
	if _, err := vault.ParseSigningKey(p.SigningKey); err != nil {
		return federation.Party{}, nil, f.errAt(append(where, "signing_key"), "%s: signing_key: %v", who, err)
	}
	key, err := f.pinned(where, who, member, p)
	if err != nil {
		return federation.Party{}, nil, err
	}
	return federation.Party{ID: p.ID, Recipient: p.Recipient, SigningKey: p.SigningKey}, key, nil
}

// pinned reads the party's certificate request or certificate, checks
// that it names the party and only hosts it is allowed, and returns its
// public key (nil when the project gives neither).
func (f *File) pinned(where []any, who, member string, p Party) (crypto.PublicKey, error) {
	switch {
	case p.CSR != "" && p.Cert != "":
		return nil, f.errAt(append(where, "cert"), "%s: give csr or cert, not both", who)
	case p.CSR != "":
		b, err := os.ReadFile(f.resolve(p.CSR))
		if err != nil {
			return nil, f.errAt(append(where, "csr"), "%s: csr: %v", who, err)
		}
		r, err := pki.ParseRequest(b)
		if err != nil {
			return nil, f.errAt(append(where, "csr"), "%s: csr %s: %v", who, p.CSR, err)
		}
		if r.Subject.Member != member {
			return nil, f.errAt(append(where, "csr"), "%s: csr %s names %s", who, p.CSR, describe(r.Subject.Member))
		}
		if err := r.Check(who, pki.Expect{Hosts: p.Hosts}); err != nil {
			return nil, f.errAt(append(where, "csr"), "csr %s: %v", p.CSR, err)
		}
		return r.PublicKey, nil
	case p.Cert != "":
		b, err := os.ReadFile(f.resolve(p.Cert))
		if err != nil {
			return nil, f.errAt(append(where, "cert"), "%s: cert: %v", who, err)
		}
		c, err := grpcnet.ParseCertificate(b)
		if err != nil {
			return nil, f.errAt(append(where, "cert"), "%s: cert %s: %v", who, p.Cert, err)
		}
		if err := certNames(c, member, p.Hosts); err != nil {
			return nil, f.errAt(append(where, "cert"), "%s: cert %s: %v", who, p.Cert, err)
		}
		return c.PublicKey, nil
	}
	return nil, nil
}

func describe(member string) string {
	if member == "" {
		return "no member (it is a server's request)"
	}
	return fmt.Sprintf("member %q", member)
}

// certNames checks that c names member (the aggregator when empty) and only
// hosts among hosts.
func certNames(c *x509.Certificate, member string, hosts []string) error {
	id, err := grpcnet.MemberID(c)
	switch {
	case member != "" && err != nil:
		return err
	case member != "" && id != member:
		return fmt.Errorf("names member %q", id)
	case member == "" && err == nil:
		return fmt.Errorf("names member %q, not the aggregator", id)
	}
	var names []string
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	for _, h := range append(names, c.DNSNames...) {
		if !slices.Contains(hosts, h) {
			return fmt.Errorf("names host %q, which the project does not allow", h)
		}
	}
	return nil
}

// Expect returns what the CA accepts in a certificate request from member
// (the aggregator when empty): the hosts the project allows it and the key
// it pins. A member the project does not list is an error.
func (f *File) Expect(member string) (pki.Expect, error) {
	p, where, who := f.Aggregator, at("aggregator"), "aggregator"
	if member != "" {
		i := slices.IndexFunc(f.Members, func(m Member) bool { return m.ID == member })
		if i < 0 {
			return pki.Expect{}, fmt.Errorf("member %q is not in project %s", member, f.path)
		}
		p, where, who = f.Members[i].Party, at("members", i), fmt.Sprintf("member %q", member)
	}
	key, err := f.pinned(where, who, member, p)
	if err != nil {
		return pki.Expect{}, err
	}
	return pki.Expect{Hosts: p.Hosts, PublicKey: key}, nil
}
