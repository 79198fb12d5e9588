package train

import (
	"sync"

	"gonum.org/v1/gonum/blas"

	"github.com/mtlsplit/mtlsplit/engine"
)

// gemmImpl is the engine's GEMM of its best backend (OpenBLAS when linked,
// single-threaded: sgemm splits each product over the CPUs itself, so no
// OpenBLAS thread spins while Go code runs).
var gemmImpl = sync.OnceValue(func() blas.Float32Level3 {
	g, err := engine.Level3(engine.BestBackend())
	if err != nil {
		g, _ = engine.Level3(engine.BackendGonum)
	}
	return g
})

// minSplit is the fewest columns (or rows) a GEMM part gets: smaller
// products run whole.
const minSplit = 64

// sgemm is C = α·op(A)·op(B) + β·C (row-major, m×n result, inner size k)
// split over the CPUs along the larger of m and n: each part is one
// single-threaded GEMM on its own block of C, so the sums are the same
// whatever the split.
func sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	bl := gemmImpl()
	if n >= m && n >= 2*minSplit {
		parallel(n/minSplit, func(p0, p1 int) {
			j0, j1 := p0*minSplit, p1*minSplit
			if p1 == n/minSplit {
				j1 = n
			}
			var bj []float32
			if tB == blas.Trans {
				bj = b[j0*ldb:]
			} else {
				bj = b[j0:]
			}
			bl.Sgemm(tA, tB, m, j1-j0, k, alpha, a, lda, bj, ldb, beta, c[j0:], ldc)
		})
		return
	}
	if m > n && m >= 2*minSplit {
		parallel(m/minSplit, func(p0, p1 int) {
			i0, i1 := p0*minSplit, p1*minSplit
			if p1 == m/minSplit {
				i1 = m
			}
			var ai []float32
			if tA == blas.Trans {
				ai = a[i0:]
			} else {
				ai = a[i0*lda:]
			}
			bl.Sgemm(tA, tB, i1-i0, n, k, alpha, ai, lda, b, ldb, beta, c[i0*ldc:], ldc)
		})
		return
	}
	bl.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}
