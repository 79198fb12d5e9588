package model

import (
	"fmt"
	"sort"

	"github.com/mtlsplit/mtlsplit/internal/suggest"
)

// ImageNetClasses is the width of a published classifier's last layer.
const ImageNetClasses = 1000

// classifiers maps a name to the function that builds the whole ImageNet
// classifier (features, pooling, fully connected layers) into b. Published
// latency tables time these networks end to end; the zoo builds only their
// features, which is what a split runs.
var classifiers = map[string]func(b *Builder){
	"resnet18": func(b *Builder) { resnet18(b); fcTail(b, "fc", 0) },
	"resnet50": func(b *Builder) { resnet50(b); fcTail(b, "fc", 0) },
	"vgg16":    vgg16Classifier,
	"mobilenet_v1": func(b *Builder) {
		mobilenetV1(b)
		fcTail(b, "fc", 0)
	},
	"mobilenet_v2": func(b *Builder) { mobilenetV2(b); fcTail(b, "classifier", 0) },
	"mobilenet_v3_small": func(b *Builder) {
		mobilenetV3Small(b)
		fcTail(b, "classifier", 1024)
	},
	"mobilenet_v3_large": func(b *Builder) { mobilenetV3Large(b); fcTail(b, "classifier", 1280) },
	"efficientnet_b0":    func(b *Builder) { efficientnetB0(b); fcTail(b, "classifier", 0) },
	"efficientnet_lite0": func(b *Builder) { efficientnetLite0(b); fcTail(b, "classifier", 0) },
}

// Classifiers lists the names Classifier builds, sorted.
func Classifiers() []string {
	names := make([]string, 0, len(classifiers))
	for n := range classifiers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Classifier builds a whole ImageNet classifier (1000 classes) at a square
// input of size pixels, as published benchmarks time it. It has no task
// heads; its last block is the classifier.
func Classifier(name string, size int) (*Graph, error) {
	build, ok := classifiers[name]
	if !ok {
		return nil, fmt.Errorf("unknown classifier %q%s", name, suggest.Hint(name, Classifiers()))
	}
	if size < 32 || size > MaxInputSize {
		return nil, fmt.Errorf("input size %d px: classifiers take 32 to %d px", size, MaxInputSize)
	}
	b := NewBuilder(name, 3, size)
	build(b)
	return b.Build()
}

// fcTail pools the features globally and adds the fully connected
// classifier: one Linear to 1000 classes, or hidden → Hardswish → 1000
// (MobileNetV3) when hidden > 0. Dropout is left out: it costs nothing at
// inference in every stack.
func fcTail(b *Builder, name string, hidden int) {
	last := len(b.g.Nodes) - 1
	b.Block(name, "Classifier")
	x := b.AdaptiveAvgPool2d(name+".avgpool", last, 1)
	x = b.Flatten(name+".flatten", x)
	if hidden > 0 {
		x = b.Linear(name+".0", x, hidden, true)
		x = b.Activation(name+".1", OpHardswish, x)
	}
	b.Linear(name+".fc", x, ImageNetClasses, true)
}

// vgg16Classifier is torchvision's vgg16(): features, a 7×7 average pool and
// three fully connected layers (the first holds 103 M of its 138 M weights).
func vgg16Classifier(b *Builder) {
	vgg(b, false)
	last := len(b.g.Nodes) - 1
	b.Block("classifier", "Classifier")
	x := b.AdaptiveAvgPool2d("avgpool", last, 7)
	x = b.Flatten("flatten", x)
	x = b.Linear("classifier.0", x, 4096, true)
	x = b.Activation("classifier.1", OpReLU, x)
	x = b.Linear("classifier.3", x, 4096, true)
	x = b.Activation("classifier.4", OpReLU, x)
	b.Linear("classifier.6", x, ImageNetClasses, true)
}

// resnet50 builds torchvision's resnet50 (v1.5: the stride sits on the 3×3
// conv of a bottleneck) without avgpool and fc.
func resnet50(b *Builder) {
	b.Block("stem", "Sequential")
	x := b.Conv2d("conv1", b.Input(), Conv{OutChannels: 64, Kernel: 7, Stride: 2, Padding: 3})
	x = b.BatchNorm2d("bn1", x, 1e-5)
	x = b.Activation("relu", OpReLU, x)
	x = b.MaxPool2d("maxpool", x, 3, 2, 1)
	inplanes := 64
	for l, st := range []struct{ planes, blocks int }{{64, 3}, {128, 4}, {256, 6}, {512, 3}} {
		layer := fmt.Sprintf("layer%d", l+1)
		b.Block(layer, "Sequential")
		for i := range st.blocks {
			stride := 1
			if l > 0 && i == 0 {
				stride = 2
			}
			x = bottleneck(b, fmt.Sprintf("%s.%d", layer, i), x, inplanes, st.planes, stride)
			inplanes = 4 * st.planes
		}
	}
}

// bottleneck is torchvision's Bottleneck (expansion 4).
func bottleneck(b *Builder, p string, in, inplanes, planes, stride int) int {
	x := b.Conv2d(p+".conv1", in, Conv{OutChannels: planes, Kernel: 1, Stride: 1})
	x = b.BatchNorm2d(p+".bn1", x, 1e-5)
	x = b.Activation(p+".relu1", OpReLU, x)
	x = b.Conv2d(p+".conv2", x, Conv{OutChannels: planes, Kernel: 3, Stride: stride, Padding: 1})
	x = b.BatchNorm2d(p+".bn2", x, 1e-5)
	x = b.Activation(p+".relu2", OpReLU, x)
	x = b.Conv2d(p+".conv3", x, Conv{OutChannels: 4 * planes, Kernel: 1, Stride: 1})
	x = b.BatchNorm2d(p+".bn3", x, 1e-5)
	identity := in
	if stride != 1 || inplanes != 4*planes {
		identity = b.Conv2d(p+".downsample.0", in, Conv{OutChannels: 4 * planes, Kernel: 1, Stride: stride})
		identity = b.BatchNorm2d(p+".downsample.1", identity, 1e-5)
	}
	x = b.Add(p+".add", x, identity)
	return b.Activation(p+".relu", OpReLU, x)
}

// mobilenetV1 builds MobileNetV1 (width 1.0): a stride-2 stem and 13
// depthwise-separable pairs, ReLU after every batch norm.
func mobilenetV1(b *Builder) {
	b.Block("stem", "Conv2dNormActivation")
	x := convNormAct(b, "stem", b.Input(), 32, 3, 2, 1, OpReLU, 1e-5)
	in := 32
	for i, s := range []struct{ out, stride int }{{64, 1}, {128, 2}, {128, 1}, {256, 2}, {256, 1}, {512, 2},
		{512, 1}, {512, 1}, {512, 1}, {512, 1}, {512, 1}, {1024, 2}, {1024, 1}} {
		name := fmt.Sprintf("features.%d", i+1)
		b.Block(name, "DepthwiseSeparable")
		x = convNormAct(b, name+".dw", x, in, 3, s.stride, in, OpReLU, 1e-5)
		x = convNormAct(b, name+".pw", x, s.out, 1, 1, 1, OpReLU, 1e-5)
		in = s.out
	}
}

// invertedResidual is MobileNetV2's block (and EfficientNet-Lite's MBConv,
// which has no squeeze-excitation): 1×1 expansion unless expand is 1, k×k
// depthwise, 1×1 projection, a residual add when the shape allows.
func invertedResidual(b *Builder, p string, x, in, out, expand, kernel, stride int) int {
	input, j := x, 0
	part := func() string { s := fmt.Sprintf("%s.conv.%d", p, j); j++; return s }
	hidden := in * expand
	if expand != 1 {
		x = convNormAct(b, part(), x, hidden, 1, 1, 1, OpReLU6, 1e-5)
	}
	x = convNormAct(b, part(), x, hidden, kernel, stride, hidden, OpReLU6, 1e-5)
	x = convNormAct(b, part(), x, out, 1, 1, 1, "", 1e-5)
	if stride == 1 && in == out {
		x = b.Add(p+".add", x, input)
	}
	return x
}

// invertedStage is one row of a MobileNetV2-style table: expansion,
// kernel, output channels, repeats, first stride.
type invertedStage struct{ expand, kernel, out, n, stride int }

// invertedNet builds a stem, the inverted-residual stages and a 1×1 conv to
// 1280 channels (MobileNetV2, EfficientNet-Lite0).
func invertedNet(b *Builder, stages []invertedStage) {
	b.Block("features.0", "Conv2dNormActivation")
	x := convNormAct(b, "features.0", b.Input(), 32, 3, 2, 1, OpReLU6, 1e-5)
	in := 32
	for si, st := range stages {
		name := fmt.Sprintf("features.%d", si+1)
		b.Block(name, "Sequential")
		for i := range st.n {
			stride := st.stride
			if i > 0 {
				stride = 1
			}
			x = invertedResidual(b, fmt.Sprintf("%s.%d", name, i), x, in, st.out, st.expand, st.kernel, stride)
			in = st.out
		}
	}
	name := fmt.Sprintf("features.%d", len(stages)+1)
	b.Block(name, "Conv2dNormActivation")
	convNormAct(b, name, x, 1280, 1, 1, 1, OpReLU6, 1e-5)
}

// mobilenetV2 builds torchvision's mobilenet_v2().features.
func mobilenetV2(b *Builder) {
	invertedNet(b, []invertedStage{{1, 3, 16, 1, 1}, {6, 3, 24, 2, 2}, {6, 3, 32, 3, 2}, {6, 3, 64, 4, 2},
		{6, 3, 96, 3, 1}, {6, 3, 160, 3, 2}, {6, 3, 320, 1, 1}})
}

// efficientnetLite0 builds EfficientNet-Lite0 (TensorFlow's edge variant of
// B0: no squeeze-excitation, ReLU6, same stages and widths).
func efficientnetLite0(b *Builder) {
	invertedNet(b, []invertedStage{{1, 3, 16, 1, 1}, {6, 3, 24, 2, 2}, {6, 5, 40, 2, 2}, {6, 3, 80, 3, 2},
		{6, 5, 112, 3, 1}, {6, 5, 192, 4, 2}, {6, 3, 320, 1, 1}})
}

// mobilenetV3Large builds torchvision's mobilenet_v3_large().features.
func mobilenetV3Large(b *Builder) {
	re, hs := OpReLU, OpHardswish
	mobilenetV3(b, []mv3Bneck{
		{16, 3, 16, 16, false, re, 1},
		{16, 3, 64, 24, false, re, 2},
		{24, 3, 72, 24, false, re, 1},
		{24, 5, 72, 40, true, re, 2},
		{40, 5, 120, 40, true, re, 1},
		{40, 5, 120, 40, true, re, 1},
		{40, 3, 240, 80, false, hs, 2},
		{80, 3, 200, 80, false, hs, 1},
		{80, 3, 184, 80, false, hs, 1},
		{80, 3, 184, 80, false, hs, 1},
		{80, 3, 480, 112, true, hs, 1},
		{112, 3, 672, 112, true, hs, 1},
		{112, 5, 672, 160, true, hs, 2},
		{160, 5, 960, 160, true, hs, 1},
		{160, 5, 960, 160, true, hs, 1},
	})
}
