package model

import "fmt"

// vgg builds torchvision's vgg16(...).features (configuration "D"), with
// batch norm after every conv when bn is set.
func vgg(b *Builder, bn bool) {
	cfg := []int{64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0}
	x, i := b.Input(), 0
	next := func(typ string) string {
		name := fmt.Sprintf("features.%d", i)
		b.Block(name, typ)
		i++
		return name
	}
	for _, c := range cfg {
		if c == 0 {
			x = b.MaxPool2d(next("MaxPool2d"), x, 2, 2, 0)
			continue
		}
		x = b.Conv2d(next("Conv2d"), x, Conv{OutChannels: c, Kernel: 3, Stride: 1, Padding: 1, Bias: true})
		if bn {
			x = b.BatchNorm2d(next("BatchNorm2d"), x, 1e-5)
		}
		x = b.Activation(next("ReLU"), OpReLU, x)
	}
}

// resnet18 builds torchvision's resnet18 without avgpool and fc.
func resnet18(b *Builder) {
	b.Block("conv1", "Conv2d")
	x := b.Conv2d("conv1", b.Input(), Conv{OutChannels: 64, Kernel: 7, Stride: 2, Padding: 3})
	b.Block("bn1", "BatchNorm2d")
	x = b.BatchNorm2d("bn1", x, 1e-5)
	b.Block("relu", "ReLU")
	x = b.Activation("relu", OpReLU, x)
	b.Block("maxpool", "MaxPool2d")
	x = b.MaxPool2d("maxpool", x, 3, 2, 1)
	inplanes := 64
	for l, planes := range []int{64, 128, 256, 512} {
		layer := fmt.Sprintf("layer%d", l+1)
		b.Block(layer, "Sequential")
		for i := range 2 {
			stride := 1
			if l > 0 && i == 0 {
				stride = 2
			}
			x = basicBlock(b, fmt.Sprintf("%s.%d", layer, i), x, inplanes, planes, stride)
			inplanes = planes
		}
	}
}

// basicBlock is torchvision's BasicBlock; its ReLU module runs twice.
func basicBlock(b *Builder, p string, in, inplanes, planes, stride int) int {
	x := b.Conv2d(p+".conv1", in, Conv{OutChannels: planes, Kernel: 3, Stride: stride, Padding: 1})
	x = b.BatchNorm2d(p+".bn1", x, 1e-5)
	x = b.Activation(p+".relu", OpReLU, x)
	x = b.Conv2d(p+".conv2", x, Conv{OutChannels: planes, Kernel: 3, Stride: 1, Padding: 1})
	x = b.BatchNorm2d(p+".bn2", x, 1e-5)
	identity := in
	if stride != 1 || inplanes != planes {
		identity = b.Conv2d(p+".downsample.0", in, Conv{OutChannels: planes, Kernel: 1, Stride: stride})
		identity = b.BatchNorm2d(p+".downsample.1", identity, 1e-5)
	}
	x = b.Add(p+".add", x, identity)
	return b.Activation(p+".relu", OpReLU, x)
}
