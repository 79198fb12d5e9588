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
	byCols := n >= m
	size := max(m, n)
	if size < 2*minSplit {
		bl.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	parts := size / minSplit
	parallel(parts, func(p0, p1 int) {
		lo, hi := p0*minSplit, p1*minSplit
		if p1 == parts {
			hi = size
		}
		if byCols {
			// Columns lo..hi of op(B) and of C.
			bl.Sgemm(tA, tB, m, hi-lo, k, alpha, a, lda, offset(b, lo, ldb, tB == blas.Trans), ldb, beta, c[lo:], ldc)
			return
		}
		// Rows lo..hi of op(A) and of C.
		bl.Sgemm(tA, tB, hi-lo, n, k, alpha, offset(a, lo, lda, tA == blas.NoTrans), lda, b, ldb, beta, c[lo*ldc:], ldc)
	})
}

// offset is the matrix m from its row i (byRow) or its column i, with
// leading dimension ld.
func offset(m []float32, i, ld int, byRow bool) []float32 {
	if byRow {
		return m[i*ld:]
	}
	return m[i:]
}
