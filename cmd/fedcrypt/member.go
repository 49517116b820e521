package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/fedcrypt/fedcrypt/client"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/protocol"
	"github.com/fedcrypt/fedcrypt/vault"
)

func runAccept(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
	config := fs.String("config", "", "the new version's federation config `file`")
	previous := fs.String("previous", "", "the federation config `file` this member ran under, which the new version replaces")
	member := fs.String("member", "", "this hospital's member `id`")
	var keys keyFlags
	keys.register(fs)
	ledger := fs.String("ledger", "", "the ledger `directory` client join uses (kept across versions)")
	var jsonOut bool
	(*jsonFlag)(&jsonOut).register(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return usagef("member accept: unexpected argument %q", pos[0])
	case *config == "", *member == "", keys.identity == "", *ledger == "":
		return usagef("member accept: --config, --member, --identity and --ledger are required")
	}
	fed, err := federation.Load(*config)
	if err != nil {
		return err
	}
	l := fed.Lineage
	if l == nil {
		return fmt.Errorf("member accept: %s is the first version of federation %q (no lineage): there is nothing to accept; join it", *config, fed.Name)
	}
	me, ok := fed.Member(*member)
	if !ok {
		return fmt.Errorf("member accept: %q is not a member of %s (revision %d of %q)", *member, *config, l.Revision, fed.Name)
	}
	id, err := keys.load(e)
	if err != nil {
		return err
	}
	if id.Recipient().String() != me.Recipient || vault.FormatSigningKey(id.SigningPublicKey()) != me.SigningKey {
		return fmt.Errorf("member accept: --identity %s: not the keys %s lists for %q", keys.identity, *config, *member)
	}
	var changes []string
	switch {
	case *previous != "":
		prev, err := federation.Load(*previous)
		if err != nil {
			return fmt.Errorf("--previous: %w", err)
		}
		if err := federation.CheckSuccessor(prev, fed); err != nil {
			return fmt.Errorf("member accept: %s does not follow %s: %w", *config, *previous, err)
		}
		changes = federation.Changes(prev, fed)
	case !slices.Contains(l.Added, *member):
		return usagef("member accept: --previous: %q was a member of the version this one replaces; give that version's federation.json to check what changes", *member)
	default:
		changes = []string{fmt.Sprintf("adds %q", l.Added)}
	}
	spent, entries, err := ledgerSpent(*ledger, *member, id)
	if err != nil {
		return err
	}
	if entries == 0 && *previous != "" && me.Contributor && fed.DP.Enabled {
		fmt.Fprintf(e.stderr, "warning: no ledger for %q in %s: if this member contributed before, give --ledger the directory client join used, or its earlier spend is not counted\n", *member, *ledger)
	}
	path, err := writeAcceptance(*ledger, fed, *member, id)
	if err != nil {
		return err
	}
	res := map[string]any{"member": *member, "federation": fed.Name, "config_hash": fed.Hash().String(), "revision": l.Revision,
		"previous": l.Previous, "changes": changes, "epsilon_spent": spent, "epsilon_cap": fed.DP.Epsilon, "ledger_entries": entries,
		"acceptance": path}
	if jsonOut {
		return writeJSON(e.stdout, res)
	}
	fmt.Fprintf(e.stdout, "%s accepts revision %d of %q (%s), after %.16s…\n", *member, l.Revision, fed.Name, fed.Hash(), l.Previous)
	for _, c := range changes {
		fmt.Fprintf(e.stdout, "  %s\n", c)
	}
	fmt.Fprintf(e.stdout, "  a new collective key: this version's key ceremony draws fresh secrets\n")
	if fed.DP.Enabled {
		fmt.Fprintf(e.stdout, "  ledger: ε %.4g of cap %g spent in %d entries, carried into this version\n", spent, fed.DP.Epsilon, entries)
	}
	fmt.Fprintf(e.stdout, "acceptance written to %s\n", path)
	return nil
}

// ledgerSpent reads the member's ledger in dir: ε spent and entries, zeros
// when it has none yet.
func ledgerSpent(dir, member string, id *vault.Identity) (float64, int, error) {
	l, err := client.ReadLedger(dir, member, id)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return 0, 0, nil
	case err != nil:
		return 0, 0, fmt.Errorf("--ledger %s: %w", dir, err)
	}
	return l.Epsilon(), len(l.Entries()), nil
}

// acceptancePath is where a member keeps its acceptance of a version.
func acceptancePath(dir, member string, fed *federation.Config) string {
	return filepath.Join(dir, fmt.Sprintf("%s.accepted-%.16s.env", member, fed.Hash().String()))
}

// writeAcceptance signs the member's acceptance of fed and writes it into
// the ledger directory; it is public (hashes and a signature).
func writeAcceptance(dir string, fed *federation.Config, member string, id *vault.Identity) (string, error) {
	env := &protocol.Envelope{Kind: protocol.KindAccept, From: member, Config: fed.Hash(), Round: uint64(fed.Revision()),
		Body: []byte(fed.Lineage.Previous)}
	env.Sign(id.SigningKey())
	b, err := env.MarshalBinary()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("--ledger: %w", err)
	}
	path := acceptancePath(dir, member, fed)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return "", fmt.Errorf("--ledger: %w", err)
	}
	return path, nil
}

// checkAccepted returns nil when fed is a first version, or member has
// accepted it (a signed acceptance in its ledger directory), and otherwise
// an error that says how to accept it.
func checkAccepted(dir string, fed *federation.Config, config, member string) error {
	l := fed.Lineage
	if l == nil {
		return nil
	}
	path := acceptancePath(dir, member, fed)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		var what []string
		if len(l.Added) > 0 {
			what = append(what, fmt.Sprintf("adds %s", strings.Join(l.Added, ", ")))
		}
		if len(l.Removed) > 0 {
			what = append(what, fmt.Sprintf("removed %s", strings.Join(l.Removed, ", ")))
		}
		return fmt.Errorf("%s is revision %d of %q (%s), which %q has not accepted: run fedcrypt member accept --config %s --previous OLD-federation.json --member %s --identity KEY --ledger %s",
			config, l.Revision, fed.Name, strings.Join(what, "; "), member, config, member, dir)
	}
	if err != nil {
		return fmt.Errorf("acceptance %s: %w", path, err)
	}
	env, err := protocol.ParseStored(b) // perhaps written by an earlier release
	if err != nil {
		return fmt.Errorf("acceptance %s: %w", path, err)
	}
	if env.Kind != protocol.KindAccept || env.From != member || env.Round != uint64(l.Revision) || string(env.Body) != l.Previous {
		return fmt.Errorf("acceptance %s: not %q's acceptance of revision %d of %q", path, member, l.Revision, fed.Name)
	}
	if err := env.Verify(fed, fed.Hash()); err != nil {
		return fmt.Errorf("acceptance %s: %w", path, err)
	}
	return nil
}
