//go:build !linux

package engine

import "runtime"

// osYield lets other goroutines run; elsewhere than Linux the pool's spin
// does not give the OS thread away.
func osYield() { runtime.Gosched() }
