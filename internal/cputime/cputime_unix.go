//go:build unix

// Package cputime reads the process's CPU time: on a machine shared with
// other jobs, work per CPU-second says more than work per wall second, so
// benchmarks report both.
package cputime

import (
	"syscall"
	"time"
)

// Used is the process's user + system CPU time so far (0 if unknown).
func Used() time.Duration {
	var u syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &u) != nil {
		return 0
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}
