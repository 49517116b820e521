//go:build linux || (darwin && !ios) || freebsd || netbsd || openbsd || dragonfly

package main

import (
	"runtime"
	"syscall"
)

// maxRSS returns the process's peak resident memory in bytes, from
// getrusage's ru_maxrss: bytes on macOS, KiB on Linux and the BSDs. It
// returns 0 if the call fails. On Linux the figure carries over from the
// parent across fork and exec: it is at least what the parent held resident
// when it started this process.
func maxRSS() int64 {
	var u syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &u) != nil {
		return 0
	}
	if runtime.GOOS == "darwin" {
		return int64(u.Maxrss)
	}
	return int64(u.Maxrss) * 1024
}
