package train

import (
	"sync"

	"github.com/mtlsplit/mtlsplit/internal/cores"
)

// parallel splits [0, n) into one contiguous range per CPU and runs f on
// each. The ops here give every index the same work whatever the split, so
// results do not depend on the number of CPUs.
func parallel(n int, f func(lo, hi int)) {
	workers := min(cores.N(), n)
	if workers <= 1 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	for k := range workers {
		lo, hi := k*n/workers, (k+1)*n/workers
		wg.Go(func() { f(lo, hi) })
	}
	wg.Wait()
}
