// Command fedcrypt trains diagnosis models across hospitals with differential
// privacy, multiparty homomorphic encryption and age encryption at rest.
//
// Every command is a row of the table in commands.go: its name, usage line,
// summary, help text, examples and run function. Each has its own flag set
// (no flags registered by dependencies on the global flag set leak in), a
// --help, and where it produces a result a --json flag that prints exactly
// one JSON object on stdout. Errors print one line, "fedcrypt: ...", on
// stderr and exit non-zero: 2 for a mistake in the command line, 1 otherwise.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// env is what a command may touch of the process: its streams. Commands never
// call os.Exit and never write to os.Stdout directly, so they can be tested.
type env struct {
	stdout io.Writer
	stderr io.Writer
	stdin  io.Reader
}

// usageError marks an error caused by how the command was invoked; it exits
// with status 2 instead of 1.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// errReported ends a command that has printed why it failed as its result
// (a failed verification's verdict): it exits with status 1 and prints
// nothing more, so that the reason is said once.
var errReported = errors.New("failure reported")

func main() {
	os.Exit(runProcess())
}

// runProcess runs fedcrypt on the process's arguments and streams, stopping
// the command's context on SIGINT or SIGTERM, and returns the exit status.
func runProcess() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, &env{stdout: os.Stdout, stderr: os.Stderr, stdin: os.Stdin}, os.Args[1:])
}

// run executes the command line args and returns the exit status.
func run(ctx context.Context, e *env, args []string) int {
	table := commandTable()
	switch {
	case len(args) == 0:
		printUsage(e.stderr, table)
		return 2
	case isHelp(args[0]):
		printUsage(e.stderr, table)
		return 0
	case args[0] == "help" && len(args) == 1:
		printUsage(e.stderr, table)
		return 0
	case args[0] == "help":
		return run(ctx, e, append(args[1:], "--help"))
	case args[0] == "--version":
		args = []string{"version"}
	}
	c, rest, err := lookup(e, table, args)
	if err == nil {
		err = c.exec(ctx, e, rest)
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errReported):
		return 1
	}
	fmt.Fprintf(e.stderr, "fedcrypt: %s\n", oneLine(err.Error()))
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

func isHelp(s string) bool { return s == "-h" || s == "--help" || s == "-help" }

// lookup finds the command args name, one word ("sim") or two ("data
// split"), and returns it with the arguments that follow its name. A group's
// name alone, or with --help, prints the group's commands.
func lookup(e *env, table []*command, args []string) (*command, []string, error) {
	for _, c := range table {
		if c.name == args[0] {
			return c, args[1:], nil
		}
	}
	group := groupOf(table, args[0])
	if len(group) == 0 {
		return nil, nil, usagef("unknown command %q (run 'fedcrypt --help' for the list)", args[0])
	}
	if len(args) == 1 || isHelp(args[1]) {
		fmt.Fprintf(e.stderr, "usage: fedcrypt %s <command> [flags]\n\ncommands:\n", args[0])
		for _, c := range group {
			fmt.Fprintf(e.stderr, "  %-18s %s\n", c.name, c.short)
		}
		fmt.Fprintf(e.stderr, "\nRun 'fedcrypt %s <command> --help' for its flags and examples.\n", args[0])
		if len(args) == 1 {
			return nil, nil, usagef("%s: missing subcommand (%s)", args[0], subNames(group))
		}
		return nil, nil, flag.ErrHelp
	}
	for _, c := range group {
		if c.name == args[0]+" "+args[1] {
			return c, args[2:], nil
		}
	}
	if strings.HasPrefix(args[1], "-") {
		return nil, nil, usagef("%s: flag provided but not defined: %s (flags follow the subcommand: %s)", args[0], args[1], subNames(group))
	}
	return nil, nil, usagef("%s: unknown subcommand %q (want %s)", args[0], args[1], subNames(group))
}

// groupOf returns the commands whose name is word followed by a subcommand.
func groupOf(table []*command, word string) []*command {
	var group []*command
	for _, c := range table {
		if strings.HasPrefix(c.name, word+" ") {
			group = append(group, c)
		}
	}
	return group
}

// subNames lists a group's subcommands for an error: "export or quantize".
func subNames(group []*command) string {
	var names []string
	for _, c := range group {
		names = append(names, c.name[strings.IndexByte(c.name, ' ')+1:])
	}
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

func printUsage(w io.Writer, table []*command) {
	fmt.Fprintln(w, "fedcrypt: federated training with differential privacy, multiparty CKKS and age encryption at rest")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "usage: fedcrypt <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, c := range table {
		fmt.Fprintf(w, "  %-18s %s\n", c.name, c.short)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'fedcrypt <command> --help' for a command's flags and examples.")
}

// oneLine folds a multi-line error (errors.Join) into one line.
func oneLine(s string) string {
	return strings.ReplaceAll(strings.TrimSpace(s), "\n", "; ")
}
