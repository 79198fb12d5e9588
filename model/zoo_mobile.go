package model

import "fmt"

// mv3Bneck is one row of torchvision's MobileNetV3 inverted-residual table.
type mv3Bneck struct {
	in, kernel, expanded, out int
	se                        bool
	act                       Op
	stride                    int
}

// mobilenetV3Small builds torchvision's mobilenet_v3_small().features.
func mobilenetV3Small(b *Builder) {
	re, hs := OpReLU, OpHardswish
	mobilenetV3(b, []mv3Bneck{
		{16, 3, 16, 16, true, re, 2},
		{16, 3, 72, 24, false, re, 2},
		{24, 3, 88, 24, false, re, 1},
		{24, 5, 96, 40, true, hs, 2},
		{40, 5, 240, 40, true, hs, 1},
		{40, 5, 240, 40, true, hs, 1},
		{40, 5, 120, 48, true, hs, 1},
		{48, 5, 144, 48, true, hs, 1},
		{48, 5, 288, 96, true, hs, 2},
		{96, 5, 576, 96, true, hs, 1},
		{96, 5, 576, 96, true, hs, 1},
	})
}

// mobilenetV3 builds the features of a MobileNetV3 from its table: a
// stride-2 stem, the inverted residuals, and a 1×1 conv to 6× the last width.
func mobilenetV3(b *Builder, settings []mv3Bneck) {
	const eps = 0.001
	b.Block("features.0", "Conv2dNormActivation")
	x := convNormAct(b, "features.0", b.Input(), 16, 3, 2, 1, OpHardswish, eps)
	for i, s := range settings {
		name := fmt.Sprintf("features.%d", i+1)
		b.Block(name, "InvertedResidual")
		in, j := x, 0
		part := func() string { p := fmt.Sprintf("%s.block.%d", name, j); j++; return p }
		if s.expanded != s.in {
			x = convNormAct(b, part(), x, s.expanded, 1, 1, 1, s.act, eps)
		}
		x = convNormAct(b, part(), x, s.expanded, s.kernel, s.stride, s.expanded, s.act, eps)
		if s.se {
			x = squeezeExcitation(b, part(), x, makeDivisible(float64(s.expanded/4), 8), OpReLU, OpHardsigmoid)
		}
		x = convNormAct(b, part(), x, s.out, 1, 1, 1, "", eps)
		if s.stride == 1 && s.in == s.out {
			x = b.Add(name+".add", x, in)
		}
	}
	last := len(settings) + 1
	b.Block(fmt.Sprintf("features.%d", last), "Conv2dNormActivation")
	convNormAct(b, fmt.Sprintf("features.%d", last), x, 6*settings[len(settings)-1].out, 1, 1, 1, OpHardswish, eps)
}

// efficientnetB0 builds torchvision's efficientnet_b0().features.
func efficientnetB0(b *Builder) {
	const eps = 1e-5
	type stage struct{ expand, kernel, stride, in, out, layers int }
	stages := []stage{
		{1, 3, 1, 32, 16, 1},
		{6, 3, 2, 16, 24, 2},
		{6, 5, 2, 24, 40, 2},
		{6, 3, 2, 40, 80, 3},
		{6, 5, 1, 80, 112, 3},
		{6, 5, 2, 112, 192, 4},
		{6, 3, 1, 192, 320, 1},
	}
	b.Block("features.0", "Conv2dNormActivation")
	x := convNormAct(b, "features.0", b.Input(), 32, 3, 2, 1, OpSiLU, eps)
	for si, st := range stages {
		name := fmt.Sprintf("features.%d", si+1)
		b.Block(name, "Sequential")
		for l := range st.layers {
			in, stride := st.in, st.stride
			if l > 0 {
				in, stride = st.out, 1
			}
			x = mbConv(b, fmt.Sprintf("%s.%d", name, l), x, in, st.out, st.expand, st.kernel, stride)
		}
	}
	b.Block("features.8", "Conv2dNormActivation")
	convNormAct(b, "features.8", x, 1280, 1, 1, 1, OpSiLU, eps)
}

// mbConv is torchvision's MBConv; stochastic depth runs (as an identity at
// inference) only on residual blocks.
func mbConv(b *Builder, p string, x, in, out, expand, kernel, stride int) int {
	const eps = 1e-5
	input, j := x, 0
	part := func() string { s := fmt.Sprintf("%s.block.%d", p, j); j++; return s }
	expanded := makeDivisible(float64(in*expand), 8)
	if expanded != in {
		x = convNormAct(b, part(), x, expanded, 1, 1, 1, OpSiLU, eps)
	}
	x = convNormAct(b, part(), x, expanded, kernel, stride, expanded, OpSiLU, eps)
	x = squeezeExcitation(b, part(), x, max(1, in/4), OpSiLU, OpSigmoid)
	x = convNormAct(b, part(), x, out, 1, 1, 1, "", eps)
	if stride == 1 && in == out {
		x = b.Identity(p+".stochastic_depth", OpStochasticDepth, x)
		x = b.Add(p+".add", x, input)
	}
	return x
}
