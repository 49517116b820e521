// Package guides has no code: its tests run the user guides. Every
// Markdown file of the repository outside testdata is a guide, and every
// shell block of a guide (a fence whose info string is sh or bash) is run
// as a user would run it: the blocks of one guide in order, each with
// bash -euo pipefail, in one scratch directory that holds a copy of the
// repository's files, with a fedcrypt binary built from the repository
// first in PATH.
// "go run ./cmd/fedcrypt" runs that binary, and "go build -o FILE
// ./cmd/fedcrypt" copies it to FILE.
//
// A guide marks what the tests treat otherwise, in its Markdown source:
//
//   - A block that cannot run in CI (a container engine, a cluster, a
//     benchmark of minutes, the test command itself) follows the comment
//     <!-- not run in CI: REASON -->. With "; CI runs instead:" and
//     commands after the reason, those commands run in the block's
//     place (a --quick form of a long benchmark).
//   - A fence with the info string "text output" right after a shell
//     block is that block's output (stdout and stderr together), checked
//     line by line; "…" in a line stands for any text (a duration).
//
// Every other fence names its language (text, yaml, json, …), and code is
// never indented instead of fenced, so that a command cannot escape the
// tests unmarked. The quick test checks those rules; the run itself is
// skipped under -short and runs from scripts/test-guides.sh.
package guides
