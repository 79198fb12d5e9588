// Package cores says how many cores the process may use.
package cores

import "runtime"

// N is the cores to spread work over: GOMAXPROCS, but no more than the
// CPUs. The engine raises GOMAXPROCS one above its thread count (a spare P
// for its cgo calls; engine.spareP), which is not one more core.
func N() int { return min(runtime.GOMAXPROCS(0), runtime.NumCPU()) }
