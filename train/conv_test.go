package train

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"

	"github.com/mtlsplit/mtlsplit/model"
)

// TestConvMatchesDirect: the im2col + GEMM convolution (its output with a
// bias, and its three gradients) equals the direct-loop grouped convolution with one group,
// for kernels, strides, paddings and dilations that leave taps in the
// padding on every side, and sizes that make sgemm split its products.
func TestConvMatchesDirect(t *testing.T) {
	cases := []struct{ cin, cout, size, k, stride, pad, dil int }{
		{3, 8, 9, 3, 1, 1, 1},
		{4, 6, 11, 7, 2, 3, 1},
		{5, 4, 8, 1, 1, 0, 1},
		{2, 3, 10, 5, 2, 2, 1},
		{3, 5, 9, 3, 1, 2, 2},
		{2, 4, 7, 3, 3, 0, 1},
		// Large enough for sgemm to split the GEMMs: by columns, by rows
		// of the weight gradient, by rows of a transposed A.
		{2, 130, 16, 3, 1, 1, 1},
		{32, 8, 4, 3, 1, 1, 1},
		// 34×34 outputs: one sample per GEMM, straight into NCHW.
		{3, 4, 34, 3, 1, 1, 1},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("c%d_o%d_s%d_k%d_st%d_p%d_d%d", c.cin, c.cout, c.size, c.k, c.stride, c.pad, c.dil), func(t *testing.T) {
			conv := model.Conv{InChannels: c.cin, OutChannels: c.cout, Kernel: c.k, Stride: c.stride, Padding: c.pad, Dilation: c.dil, Groups: 1}
			const n = 3
			out := (c.size+2*c.pad-c.dil*(c.k-1)-1)/c.stride + 1
			xs := tensor.Shape{n, c.cin, c.size, c.size}
			ys := tensor.Shape{n, c.cout, out, out}
			rng := rand.New(rand.NewPCG(1, 2))
			fill := func(k int) []float32 {
				v := make([]float32, k)
				for i := range v {
					v[i] = float32(rng.NormFloat64())
				}
				return v
			}
			x, w, dy := fill(xs.TotalSize()), fill(c.cout*c.cin*c.k*c.k), fill(ys.TotalSize())
			bias := fill(c.cout)
			gemm := &convOp{c: conv, in: xs, out: ys, scratch: &convScratch{}, bias: true}
			direct := &groupConvOp{c: conv, out: ys}
			yv, err := gemm.Do(dense(x, xs), dense(w, tensor.Shape{c.cout, c.cin, c.k, c.k}), dense(bias, tensor.Shape{c.cout}))
			if err != nil {
				t.Fatal(err)
			}
			want := make([]float32, ys.TotalSize())
			direct.run(forward, x, w, want, xs)
			hw := out * out
			wantDB := make([]float32, c.cout)
			for i := range want {
				want[i] += bias[i/hw%c.cout]
				wantDB[i/hw%c.cout] += dy[i]
			}
			db := make([]float32, c.cout)
			biasGrad(dy, db, n)
			if e := relErr(db, wantDB); e > 1e-5 {
				t.Errorf("bias gradient: relative error %.3g", e)
			}
			if e := relErr(yv.Data().([]float32), want); e > 1e-5 {
				t.Errorf("output: relative error %.3g", e)
			}
			for _, dir := range []int{gradInput, gradWeight} {
				size := len(x)
				if dir == gradWeight {
					size = len(w)
				}
				got, exp := make([]float32, size), make([]float32, size)
				gemm.grad(dir, x, w, dy, got, xs)
				direct.grad(dir, x, w, dy, exp, xs)
				if e := relErr(got, exp); e > 1e-5 {
					t.Errorf("gradient %d: relative error %.3g", dir, e)
				}
			}
		})
	}
}

// TestFusedReLUs: every ReLU that only follows a batch norm is applied by
// it (resnet18: the 9 of its stem and first convolutions of each basic
// block; the ReLU after each residual Add stays), and no other.
func TestFusedReLUs(t *testing.T) {
	cases := []struct {
		model string
		want  int
	}{{"resnet18", 9}, {"vgg16_bn", 13}, {"vgg16", 0}, {"mobilenet_v3_small", 5}, {"efficientnet_b0", 0}}
	for _, c := range cases {
		t.Run(c.model, func(t *testing.T) {
			g, err := model.New(c.model, 32, []int{4})
			if err != nil {
				t.Fatal(err)
			}
			fused := fusedReLUs(g)
			for i := range fused {
				if g.Nodes[i].Op != model.OpReLU || g.Nodes[i-1].Op != model.OpBatchNorm2d {
					t.Errorf("fused %s %q after %s", g.Nodes[i].Op, g.Nodes[i].Name, g.Nodes[i-1].Op)
				}
			}
			if len(fused) != c.want {
				t.Errorf("%d fused ReLUs, want %d", len(fused), c.want)
			}
		})
	}
}
