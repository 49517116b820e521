package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/internal/preflight"
)

func init() {
	register(&command{name: "preflight", summary: "check a member's site before a run: config, keys, certificate, data, ledger, aggregator", run: runPreflight})
}

// versionCheck is preflight's line on a federation version after the
// first (members added or removed): whether this member accepted it
// (member accept). A first version, or a config that does not load, has
// none.
func versionCheck(config, member, ledger string) []preflight.Check {
	fed, err := federation.Load(config)
	if err != nil || fed.Lineage == nil {
		return nil
	}
	c := preflight.Check{Name: "version", Status: preflight.OK, Detail: fmt.Sprintf("revision %d of %q, accepted by %s", fed.Revision(), fed.Name, member)}
	if ledger == "" {
		c.Status, c.Detail = preflight.Skip, fmt.Sprintf("revision %d of %q: give --ledger to check this member accepted it", fed.Revision(), fed.Name)
	} else if err := checkAccepted(ledger, fed, config, member); err != nil {
		c.Status, c.Detail = preflight.Fail, err.Error()
	}
	return []preflight.Check{c}
}

func runPreflight(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "preflight", "fedcrypt preflight --config FILE --member ID --identity FILE [--data FILE.age] [--ledger DIR] [--aggregator ADDR] [flags]", `
Checks, at a member's site, what "fedcrypt client join" relies on, and prints
one line per check with ✓, ! (passes, needs attention) or ✗ and what to fix:
the federation config and this member in it; that the identity's recipient
and signing key are the ones the config lists; the TLS key, the certificate
(issued by the federation CA, for this member, valid now, with the key the
config pins for the member) and its expiry;
that the data set decrypts and has the schema's columns, label and classes;
that the ledger directory is writable; and that the aggregator's name
resolves, a mutual TLS handshake with this member's certificate succeeds, and
its health service answers, each within --timeout; and, for a version of the
federation after its first, that this member accepted it (member accept). It opens no session, so a
member already running is not disturbed. Exits non-zero if a check fails.`)
	config := fs.String("config", "", "the federation config `file` (federation.json)")
	member := fs.String("member", "", "this hospital's member `id`")
	var keys keyFlags
	keys.register(fs)
	var tf tlsFlags
	tf.register(fs)
	dataPath := fs.String("data", "", "this hospital's training data (CSV `file`, age-encrypted to --identity)")
	ledger := fs.String("ledger", "", "the ledger `directory` client join will use")
	addr := fs.String("aggregator", "", "the aggregator's `address` (host:port)")
	serverName := fs.String("server-name", "", "`name` the aggregator's certificate must be valid for (default: the address's host)")
	timeout := fs.Duration("timeout", 10*time.Second, "bound on each network check")
	jsonOut := fs.Bool("json", false, "print one JSON object on stdout")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return usagef("preflight: unexpected argument %q", pos[0])
	case *config == "", *member == "", keys.identity == "":
		return usagef("preflight: --config, --member and --identity are required")
	case *timeout <= 0:
		return usagef("--timeout %v: must be positive", *timeout)
	}
	tf.defaults(*config, keys.identity)
	id, err := keys.load(e)
	if err != nil {
		return err
	}
	checks := preflight.Run(ctx, preflight.Config{Config: *config, Member: *member, Identity: id, CA: tf.ca, Cert: tf.cert, TLSKey: tf.key,
		Data: *dataPath, Ledger: *ledger, Aggregator: *addr, ServerName: *serverName, Timeout: *timeout})
	checks = append(checks, versionCheck(*config, *member, *ledger)...)
	failed := preflight.Failed(checks)
	if *jsonOut {
		if err := writeJSON(e.stdout, map[string]any{"ok": !failed, "member": *member, "checks": checks}); err != nil {
			return err
		}
	} else {
		mark := map[preflight.Status]string{preflight.OK: "✓", preflight.Warn: "!", preflight.Fail: "✗", preflight.Skip: "-"}
		for _, c := range checks {
			fmt.Fprintf(e.stdout, "%s %-13s %s\n", mark[c.Status], c.Name, c.Detail)
		}
	}
	if failed {
		var names []string
		for _, c := range checks {
			if c.Status == preflight.Fail {
				names = append(names, c.Name)
			}
		}
		return errors.New("preflight: failed: " + fmt.Sprint(names) + " (see the lines marked ✗ for what to fix)")
	}
	return nil
}
