//go:build !(linux || (darwin && !ios) || freebsd || netbsd || openbsd || dragonfly)

package main

// maxRSS returns 0: the process's peak resident memory is not measured
// here. Windows has no getrusage, and the other systems' ru_maxrss is in
// units of their own (pages on Solaris and illumos).
func maxRSS() int64 { return 0 }
