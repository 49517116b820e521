package main

import (
	"encoding/json"
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestScripts runs the scripts in testdata/script, each a behaviour of the
// command line as a user meets it: fedcrypt is this test binary, started
// as a separate process in the script's own directory.
func TestScripts(t *testing.T) {
	t.Parallel()
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"status":  cmdStatus,
			"jsonhas": cmdJSONHas,
			"simrun":  cmdSimRun,
		},
		RequireExplicitExec: false,
	})
}

// cmdStatus runs "status N command args...": the command must exit with
// status N; its output is kept for stdout and stderr as exec's is.
func cmdStatus(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: status N command [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("status %q: not a number", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("%s: %v", args[1], err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}

// cmdJSONHas runs "jsonhas FILE field...": FILE (or the last command's
// stdout, for "stdout") holds exactly one JSON object with every field, a
// dotted path into nested objects ("assumed.label"). With "!" none of the
// fields may be there.
func cmdJSONHas(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: jsonhas FILE field...")
	}
	dec := json.NewDecoder(strings.NewReader(ts.ReadFile(args[0])))
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		ts.Fatalf("%s: not a JSON object: %v", args[0], err)
	}
	if dec.More() {
		ts.Fatalf("%s: more than one JSON value", args[0])
	}
	for _, path := range args[1:] {
		var v any = obj
		found := true
		for _, key := range strings.Split(path, ".") {
			m, ok := v.(map[string]any)
			if v, found = m[key]; !ok || !found {
				found = false
				break
			}
		}
		if found == neg {
			ts.Fatalf("%s: field %q present = %v, want %v", args[0], path, found, !neg)
		}
	}
}
