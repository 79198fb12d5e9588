package engine

import "syscall"

// osYield gives the CPU to another runnable thread if there is one, and
// returns at once if not: a spinning pool thread then costs other
// processes (and, with autogroup scheduling, the engine's own caller)
// little of a busy core's time.
func osYield() { syscall.Syscall(syscall.SYS_SCHED_YIELD, 0, 0, 0) }
