package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/internal/preflight"
)

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

func runPreflight(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
	config := fs.String("config", "", "the federation config `file` (federation.json)")
	member := fs.String("member", "", "this hospital's member `id`")
	var keys keyFlags
	keys.register(fs)
	var tf tlsFlags
	tf.register(fs)
	var dataPath rowsFile
	dataPath.register(fs, "this hospital's training data", true)
	ledger := fs.String("ledger", "", "the ledger `directory` client join will use")
	addr := fs.String("aggregator", "", "the aggregator's `address` (host:port)")
	serverName := fs.String("server-name", "", "`name` the aggregator's certificate must be valid for (default: the address's host)")
	timeout := fs.Duration("timeout", 10*time.Second, "bound on each network check")
	var jsonOut bool
	(*jsonFlag)(&jsonOut).register(fs)
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
		Data: string(dataPath), Ledger: *ledger, Aggregator: *addr, ServerName: *serverName, Timeout: *timeout})
	checks = append(checks, versionCheck(*config, *member, *ledger)...)
	failed := preflight.Failed(checks)
	if jsonOut {
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
