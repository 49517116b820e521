package main

import (
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"os"
	"strings"
)

// parseFlags parses args with fs, allowing flags and positional arguments to
// be interleaved ("audit verify DIR --config F"). It returns the positional
// arguments in order. A bad flag is a usage error of one line; --help
// returns flag.ErrHelp.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, flag.ErrHelp
			}
			return nil, usagef("%s: %v (see 'fedcrypt %s --help')", fs.Name(), err, fs.Name())
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

// writeJSON prints v as exactly one indented JSON object on w, with the
// fields a command's stdout adds (jsonFields).
func writeJSON(w io.Writer, v any) error {
	if f, ok := w.(*jsonFields); ok {
		merged, err := f.merge(v)
		if err != nil {
			return err
		}
		w, v = f.Writer, merged
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// input is a file a command reads, named for the error that refuses to
// write over it.
type input struct{ what, path string }

// notAnInput refuses an output path that is one of the files the command
// reads or must keep (an audit log, a sealed model, a data set): a slip of
// -o must never destroy them. Paths are compared as files, so another name
// for the same file is caught too. An output that does not exist yet is
// always fine.
func notAnInput(flagName, out string, inputs ...input) error {
	st, err := os.Stat(out)
	if err != nil {
		return nil
	}
	for _, in := range inputs {
		if in.path == "" {
			continue
		}
		if ist, err := os.Stat(in.path); err == nil && os.SameFile(st, ist) {
			if in.path != out {
				return usagef("%s %s: would overwrite the %s (%s); choose another file", flagName, out, in.what, in.path)
			}
			return usagef("%s %s: would overwrite the %s; choose another file", flagName, out, in.what)
		}
	}
	return nil
}

// logFlags choose what a long-running party (aggregator serve, client join)
// logs on stderr: by default one line per protocol event worth a person's
// attention (a member online, a round, a retry, a refusal), as text.
type logFlags struct {
	level, format string
	verbose       bool
}

func (l *logFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&l.level, "log-level", "info", "`level` of the protocol log on stderr: debug, info, warn or error")
	fs.StringVar(&l.format, "log-format", "text", "`format` of the protocol log: text or json")
	fs.BoolVar(&l.verbose, "verbose", false, "short for --log-level debug")
}

// logger returns the logger the flags ask for, or a usage error naming the
// flag.
func (l *logFlags) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(l.level)); err != nil {
		return nil, usagef("--log-level %q: want debug, info, warn or error", l.level)
	}
	if l.verbose {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	switch l.format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usagef("--log-format %q: want text or json", l.format)
}
