// Command fedcrypt trains diagnosis models across hospitals with differential
// privacy, multiparty homomorphic encryption and age encryption at rest.
//
// Every subcommand has its own flag set (no flags registered by dependencies
// on the global flag set leak in), a --help, and where it produces a result a
// --json flag that prints exactly one JSON object on stdout. Errors print one
// line, "fedcrypt: ...", on stderr and exit non-zero.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/fedcrypt/fedcrypt/version"
)

// command is one subcommand of fedcrypt. Commands register themselves in
// their own file's init function, so each lives in one file.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env *env, args []string) error
}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("fedcrypt: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, &env{stdout: os.Stdout, stderr: os.Stderr, stdin: os.Stdin}, os.Args[1:])
	stop()
	os.Exit(code)
}

// run executes the command line args and returns the exit status.
func run(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 || isHelp(args[0]) || args[0] == "help" {
		if len(args) > 1 && args[0] == "help" {
			return run(ctx, e, []string{args[1], "--help"})
		}
		printUsage(e.stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] == "version" || args[0] == "--version" {
		fmt.Fprintln(e.stdout, version.Software())
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "fedcrypt: unknown command %q (run 'fedcrypt --help' for the list)\n", args[0])
		return 2
	}
	err := c.run(ctx, e, args[1:])
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

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "fedcrypt: federated training with differential privacy, multiparty CKKS and age encryption at rest")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "usage: fedcrypt <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'fedcrypt <command> --help' for a command's flags.")
}

// oneLine folds a multi-line error (errors.Join) into one line.
func oneLine(s string) string {
	return strings.ReplaceAll(strings.TrimSpace(s), "\n", "; ")
}
