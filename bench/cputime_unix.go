//go:build unix

package bench

import "syscall"

// processCPUSeconds is the CPU time (user and system) this process has
// used so far, 0 where it cannot be read.
func processCPUSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
