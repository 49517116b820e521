package main

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// TestServePeakRSSInBytes checks the unit of serve's max_rss_bytes on
// Linux against /proc's accounts, in kB: at least half this process's own
// peak (VmHWM, read before: the kernel's two accounts of the peak differ by
// a few percent in a process run on its own), at most the machine's memory
// (MemTotal). A figure in kB would be a thousandth of that.
func TestServePeakRSSInBytes(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("reads Linux's /proc")
	}
	own := procKB(t, "/proc/self/status", "VmHWM:")
	got := maxRSS()
	total := procKB(t, "/proc/meminfo", "MemTotal:")
	if got < own*1024/2 || got > total*1024 {
		t.Errorf("maxRSS() = %d bytes, want between half of VmHWM %d kB and MemTotal %d kB", got, own, total)
	}
}

// procKB returns the value in kB of the line starting with key in the /proc
// file path.
func procKB(t *testing.T, path, key string) int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, key); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("%s %s %q: %v", path, key, rest, err)
			}
			return n
		}
	}
	t.Fatalf("no %s in %s", key, path)
	return 0
}
