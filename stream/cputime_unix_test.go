//go:build unix

package stream

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user and system) of the whole process so far,
// GC workers included.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
