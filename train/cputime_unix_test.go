//go:build unix

package train

import (
	"syscall"
	"time"
)

// cpuTime is the process's user + system time: on a shared machine,
// images per CPU-second say more than images per wall second.
func cpuTime() time.Duration {
	var u syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &u) != nil {
		return 0
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}
