package preflight

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/internal/pki"
	"github.com/fedcrypt/fedcrypt/transport/grpcnet"
	"github.com/fedcrypt/fedcrypt/vault"
)

// Config names what to check. Empty Data, Ledger or Aggregator skip their
// checks.
type Config struct {
	Config   string          // federation.json
	Member   string          // the member's id
	Identity *vault.Identity // the member's identity, already opened
	CA       string          // the federation CA's certificate
	Cert     string          // the member's certificate
	TLSKey   string          // its key, age-encrypted to Identity
	Data     string          // the member's data set
	Ledger   string          // its ledger directory
	// Aggregator is the aggregator's host:port; ServerName the name its
	// certificate must be valid for (default: the address's host).
	Aggregator, ServerName string
	// Timeout bounds each network check (default 10 s).
	Timeout time.Duration
	// Now is the clock certificates are checked at (default time.Now).
	Now func() time.Time
}

// Status is a check's outcome.
type Status string

const (
	OK   Status = "ok"
	Warn Status = "warn" // passes, but needs attention soon
	Fail Status = "fail"
	Skip Status = "skip" // not run: an earlier check it needs failed
)

// Check is one line of the checklist: what was checked, and what was
// found or what to fix.
type Check struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	Detail string `json:"detail"`
}

// Failed reports whether any check failed.
func Failed(cs []Check) bool {
	for _, c := range cs {
		if c.Status == Fail {
			return true
		}
	}
	return false
}

// run is one preflight's state as checks proceed.
type run struct {
	cfg    Config
	checks []Check
	fed    *federation.Config
	creds  grpcnet.Credentials
	tlsOK  bool
}

func (r *run) add(name string, s Status, format string, a ...any) {
	r.checks = append(r.checks, Check{Name: name, Status: s, Detail: fmt.Sprintf(format, a...)})
}

// Run performs every check and returns the checklist, in order.
func Run(ctx context.Context, cfg Config) []Check {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r := &run{cfg: cfg}
	defer clear(r.creds.Key)
	r.config()
	r.keys()
	r.certificate()
	r.data()
	r.ledger()
	r.aggregator(ctx)
	return r.checks
}

func (r *run) config() {
	fed, err := federation.Load(r.cfg.Config)
	if err != nil {
		r.add("config", Fail, "%v: use the federation.json the coordinator sent", oneLine(err))
		return
	}
	m, ok := fed.Member(r.cfg.Member)
	if !ok {
		r.add("config", Fail, "%s: %q is not a member of federation %q (members: %s): check --member", r.cfg.Config, r.cfg.Member, fed.Name, strings.Join(ids(fed), ", "))
		return
	}
	r.fed = fed
	var roles []string
	if m.Contributor {
		roles = append(roles, "contributor")
	}
	if m.KeyHolder {
		roles = append(roles, "key holder")
	}
	r.add("config", OK, "federation %q, hash %s; %s is %s", fed.Name, fed.Hash(), r.cfg.Member, strings.Join(roles, " and "))
}

func (r *run) keys() {
	if r.fed == nil {
		r.add("keys", Skip, "needs the config")
		return
	}
	m, _ := r.fed.Member(r.cfg.Member)
	id := r.cfg.Identity
	switch {
	case id.Recipient().String() != m.Recipient:
		r.add("keys", Fail, "the identity's recipient %s is not the one the config lists for %s (%s): use the identity you made with fedcrypt keygen, or have the coordinator list yours", id.Recipient(), r.cfg.Member, m.Recipient)
	case vault.FormatSigningKey(id.SigningPublicKey()) != m.SigningKey:
		r.add("keys", Fail, "the identity's signing key is not the one the config lists for %s: use the identity you made with fedcrypt keygen, or have the coordinator list its signing-key.pub", r.cfg.Member)
	default:
		r.add("keys", OK, "identity matches %s's recipient and signing key in the config", r.cfg.Member)
	}
}

func (r *run) certificate() {
	var err error
	if r.creds.CA, err = os.ReadFile(r.cfg.CA); err != nil {
		r.add("certificate", Fail, "CA certificate: %v: put the federation's ca.crt there or give --ca", err)
		return
	}
	if r.creds.Cert, err = os.ReadFile(r.cfg.Cert); err != nil {
		r.add("certificate", Fail, "%v: put the certificate the coordinator signed there or give --cert", err)
		return
	}
	if r.creds.Key, err = pki.ReadKey(r.cfg.TLSKey, r.cfg.Identity); err != nil {
		r.add("certificate", Fail, "TLS key: %v: give the tls.key.age fedcrypt keygen --csr wrote beside the identity", oneLine(err))
		return
	}
	ca, err := grpcnet.ParseCertificate(r.creds.CA)
	if err != nil {
		r.add("certificate", Fail, "%s: %v", r.cfg.CA, err)
		return
	}
	cert, err := grpcnet.ParseCertificate(r.creds.Cert)
	if err != nil {
		r.add("certificate", Fail, "%s: %v", r.cfg.Cert, err)
		return
	}
	if _, err := tls.X509KeyPair(r.creds.Cert, r.creds.Key); err != nil {
		r.add("certificate", Fail, "%s does not match the TLS key %s: the certificate was issued for another request; send tls.csr again", r.cfg.Cert, r.cfg.TLSKey)
		return
	}
	now := r.cfg.Now()
	if err := pki.VerifyMember(ca, cert, r.cfg.Member, now); err != nil {
		r.add("certificate", Fail, "%s: %v", r.cfg.Cert, err)
		return
	}
	if err := r.pinned(cert); err != nil {
		r.add("certificate", Fail, "%s: %v", r.cfg.Cert, err)
		return
	}
	r.tlsOK = true
	left := cert.NotAfter.Sub(now)
	if left < 30*24*time.Hour {
		r.add("certificate", Warn, "issued by %q to %s; expires in %.0f days (%s): ask the coordinator for a new one", ca.Subject.CommonName, r.cfg.Member, left.Hours()/24, cert.NotAfter.UTC().Format(time.RFC3339))
		return
	}
	r.add("certificate", OK, "issued by %q to %s, valid until %s", ca.Subject.CommonName, r.cfg.Member, cert.NotAfter.UTC().Format(time.RFC3339))
}

// pinned checks the certificate's key against the pin the config lists for
// the member, if any: the aggregator refuses any other.
func (r *run) pinned(cert *x509.Certificate) error {
	if r.fed == nil {
		return nil
	}
	m, _ := r.fed.Member(r.cfg.Member)
	if m.TLSKey == "" {
		return nil
	}
	pin, err := grpcnet.KeyPin(cert.PublicKey)
	if err != nil {
		return err
	}
	if pin != m.TLSKey {
		return fmt.Errorf("its key (sha256 %.16s…) is not the one federation.json pins for %s (%.16s…), so the aggregator refuses it: use the certificate issued for the request the coordinator listed in this version, or send tls.csr again", pin, r.cfg.Member, m.TLSKey)
	}
	return nil
}

func (r *run) data() {
	switch {
	case r.cfg.Data == "":
		r.add("data", Skip, "no --data given")
		return
	case r.fed == nil:
		r.add("data", Skip, "needs the config")
		return
	}
	f, err := vault.Open(r.cfg.Data, r.cfg.Identity)
	if err != nil {
		r.add("data", Fail, "%v: encrypt the data set to your recipient (fedcrypt data encrypt)", oneLine(err))
		return
	}
	defer f.Close()
	ds, _, err := data.Load(f, r.cfg.Data, r.fed.Data.Options)
	if err == nil {
		var lacks []string
		for _, c := range r.fed.Data.Schema.Features {
			if !slices.Contains(ds.Features, c) {
				lacks = append(lacks, c)
			}
		}
		if len(lacks) > 0 {
			r.add("data", Fail, "%s lacks the column(s) %q of the federation's schema: export the data set with every column the coordinator listed", r.cfg.Data, lacks)
			return
		}
		err = r.fed.Data.Schema.Check(ds)
	}
	if err != nil {
		r.add("data", Fail, "%s: %v: the data set must have the federation's columns %s and label %q with classes %q", r.cfg.Data, oneLine(err),
			columns(r.fed.Data.Schema.Features), r.fed.Data.Schema.Label, r.fed.Data.Schema.Classes)
		return
	}
	r.add("data", OK, "%s: %d rows, %d features, label %q with classes %q", r.cfg.Data, ds.Rows(), len(ds.Features), ds.Label, r.fed.Data.Schema.Classes)
}

func (r *run) ledger() {
	if r.cfg.Ledger == "" {
		r.add("ledger", Skip, "no --ledger given")
		return
	}
	if err := os.MkdirAll(r.cfg.Ledger, 0o700); err != nil {
		r.add("ledger", Fail, "%v: the ledger directory must be a writable directory that persists across runs", err)
		return
	}
	f, err := os.CreateTemp(r.cfg.Ledger, ".preflight-*")
	if err != nil {
		r.add("ledger", Fail, "%v: the ledger directory must be a writable directory that persists across runs", err)
		return
	}
	name := f.Name()
	err = f.Sync()
	f.Close()
	os.Remove(name)
	if err != nil {
		r.add("ledger", Fail, "%s: %v: the ledger directory must be on storage that syncs", r.cfg.Ledger, err)
		return
	}
	r.add("ledger", OK, "%s is writable", r.cfg.Ledger)
}

func (r *run) aggregator(ctx context.Context) {
	if r.cfg.Aggregator == "" {
		r.add("aggregator", Skip, "no --aggregator given")
		return
	}
	host, port, err := net.SplitHostPort(r.cfg.Aggregator)
	if err != nil {
		r.add("aggregator", Fail, "address %q: %v: give host:port", r.cfg.Aggregator, err)
		return
	}
	lctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	addrs, err := net.DefaultResolver.LookupHost(lctx, host)
	cancel()
	if err != nil {
		r.add("aggregator", Fail, "%s does not resolve: %v: check the aggregator's name and this site's DNS", host, oneLine(err))
		return
	}
	r.add("aggregator", OK, "%s resolves to %s", host, strings.Join(addrs, ", "))
	if !r.tlsOK {
		r.add("TLS handshake", Skip, "needs a valid certificate")
		return
	}
	name := r.cfg.ServerName
	if name == "" {
		name = host
	}
	tc, err := grpcnet.ClientConfig(r.creds, name)
	if err != nil {
		r.add("TLS handshake", Fail, "%v", err)
		return
	}
	if err := r.handshake(ctx, tc); err != nil {
		r.add("TLS handshake", Fail, "%s: %v", r.cfg.Aggregator, err)
		return
	}
	r.add("TLS handshake", OK, "mutual TLS with %s as %s (server certificate valid for %q)", net.JoinHostPort(host, port), r.cfg.Member, name)
	r.health(ctx, tc)
}

// handshake runs a TLS handshake and waits for the server's first bytes:
// in TLS 1.3 the server checks the client's certificate after the client
// has finished, and a refusal arrives as an alert on the first read.
func (r *run) handshake(ctx context.Context, tc *tls.Config) error {
	hctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	d := tls.Dialer{Config: tc.Clone()}
	d.Config.NextProtos = []string{"h2"}
	conn, err := d.DialContext(hctx, "tcp", r.cfg.Aggregator)
	if err != nil {
		return explain(err)
	}
	defer conn.Close()
	dl, _ := hctx.Deadline()
	conn.SetReadDeadline(dl)
	var b [1]byte
	if _, err := conn.Read(b[:]); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return fmt.Errorf("no answer after the handshake within %v: is this a fedcrypt aggregator?", r.cfg.Timeout)
		}
		return explain(err)
	}
	return nil
}

func (r *run) health(ctx context.Context, tc *tls.Config) {
	cc, err := grpc.NewClient("passthrough:///"+r.cfg.Aggregator, grpc.WithTransportCredentials(credentials.NewTLS(tc)))
	if err != nil {
		r.add("health", Fail, "%v", err)
		return
	}
	defer cc.Close()
	hctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	resp, err := healthpb.NewHealthClient(cc).Check(hctx, &healthpb.HealthCheckRequest{Service: grpcnet.ServiceName})
	switch {
	case err != nil:
		r.add("health", Fail, "%v", oneLine(err))
	case resp.GetStatus() != healthpb.HealthCheckResponse_SERVING:
		r.add("health", Fail, "the aggregator reports %s: it is not running a federation now", resp.GetStatus())
	default:
		r.add("health", OK, "the aggregator is serving")
	}
}

// explain turns a dial or handshake error into what to fix.
func explain(err error) error {
	s := oneLine(err)
	var ce *tls.CertificateVerificationError
	switch {
	case errors.As(err, &ce):
		return fmt.Errorf("the aggregator's certificate does not verify against the federation CA (%v): check the address, --server-name and ca.crt", oneLine(ce.Err))
	case strings.Contains(s, "connection refused"):
		return fmt.Errorf("%s: nothing listens there; check the address and port, and that the aggregator runs", s)
	case strings.Contains(s, "remote error: tls:"):
		return fmt.Errorf("the aggregator refused this certificate (%s): check that it was issued by the federation's CA to this member and has not expired", s)
	case errors.Is(err, context.DeadlineExceeded) || strings.Contains(s, "i/o timeout"):
		return fmt.Errorf("%s: no answer; check the address, the port and any firewall between this site and the aggregator", s)
	}
	return err
}

func oneLine(err error) string { return strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ") }

func ids(fed *federation.Config) []string {
	out := make([]string, len(fed.Members))
	for i, m := range fed.Members {
		out[i] = m.ID
	}
	return out
}

// columns lists up to 5 column names, for a hint.
func columns(cs []string) string {
	if len(cs) <= 5 {
		return fmt.Sprintf("%q", cs)
	}
	return fmt.Sprintf("%q… (%d in all)", cs[:5], len(cs))
}
