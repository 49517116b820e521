package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// newFlags returns a flag set for one subcommand that reports errors instead
// of exiting and prints its usage to e.stderr. usage is the synopsis line
// ("fedcrypt train [flags]"), followed by a description.
func newFlags(e *env, name, usage, description string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: %s\n\n", usage)
		if description != "" {
			fmt.Fprintf(e.stderr, "%s\n\n", strings.TrimSpace(description))
		}
		fmt.Fprintln(e.stderr, "flags:")
		fs.SetOutput(e.stderr)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args with fs, allowing flags and positional arguments to
// be interleaved ("audit verify DIR --config F"). It returns the positional
// arguments in order. A bad flag is a usage error; --help returns
// flag.ErrHelp after printing the usage.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard) // errors are returned as one line, not printed with the usage
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, flag.ErrHelp // the flag package has printed the usage
			}
			return nil, usageError{fmt.Sprintf("%s: %v", fs.Name(), err)}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if rest[0] == "--" {
			return append(positional, rest[1:]...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// stringList is a repeatable string flag (-r A -r B); commas also separate.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// writeJSON prints v as exactly one indented JSON object on w.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
