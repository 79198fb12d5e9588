package model

import (
	"fmt"
	"sort"

	"github.com/mtlsplit/mtlsplit/internal/suggest"
)

// HeadHidden is the width of the MTL-Split task head's hidden layer.
const HeadHidden = 256

// backbones maps a zoo name to the function that builds its torchvision
// backbone into b.
var backbones = map[string]func(b *Builder){
	"vgg16":              func(b *Builder) { vgg(b, false) },
	"vgg16_bn":           func(b *Builder) { vgg(b, true) },
	"resnet18":           resnet18,
	"mobilenet_v3_small": mobilenetV3Small,
	"efficientnet_b0":    efficientnetB0,
}

// Zoo lists the models New can build, sorted.
func Zoo() []string {
	names := make([]string, 0, len(backbones))
	for n := range backbones {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// UnknownModelError says a model name is not in the zoo.
type UnknownModelError struct{ Name string }

func (e *UnknownModelError) Error() string {
	return fmt.Sprintf("unknown model %q%s", e.Name, suggest.Hint(e.Name, Zoo()))
}

// New builds zoo model name at a square input of size pixels with one
// MTL-Split head per entry of tasks (its number of classes). Tasks are named
// task1, task2, ...
func New(name string, size int, tasks []int) (*Graph, error) {
	build, ok := backbones[name]
	if !ok {
		return nil, &UnknownModelError{Name: name}
	}
	if size < 1 || size > MaxInputSize {
		return nil, fmt.Errorf("input size %d px: the zoo builds square inputs of 1 to %d px", size, MaxInputSize)
	}
	if err := checkClasses(tasks); err != nil {
		return nil, err
	}
	b := NewBuilder(name, 3, size)
	build(b)
	for i, k := range tasks {
		AddHead(b, fmt.Sprintf("task%d", i+1), k)
	}
	return b.Build()
}

// checkClasses requires 1 to MaxClasses classes per task.
func checkClasses(tasks []int) error {
	for i, k := range tasks {
		if k < 1 || k > MaxClasses {
			return fmt.Errorf("task %d has %d classes; a head has 1 to %d", i+1, k, MaxClasses)
		}
	}
	return nil
}

// AddHead appends the MTL-Split task head, Linear(C·h·w → 256) → Dropout(0.1)
// → ReLU → Linear(256 → classes), on the flattened backbone output.
func AddHead(b *Builder, task string, classes int) {
	if b.err != nil {
		return
	}
	b.closeBlock()
	if len(b.g.Blocks) == 0 {
		b.fail(fmt.Errorf("head %q needs a backbone", task))
		return
	}
	backbone := b.g.Blocks[len(b.g.Blocks)-1].Output
	b.Head(task, classes)
	x := b.Flatten(task+".flatten", backbone)
	x = b.Linear(task+".0", x, HeadHidden, true)
	x = b.Identity(task+".1", OpDropout, x)
	x = b.Activation(task+".2", OpReLU, x)
	b.Linear(task+".3", x, classes, true)
}

// convNormAct is torchvision's Conv2dNormActivation: conv (no bias), batch
// norm, optional activation, with "same" padding, named prefix.0/.1/.2.
func convNormAct(b *Builder, prefix string, in, out, kernel, stride, groups int, act Op, eps float64) int {
	x := b.Conv2d(prefix+".0", in, Conv{OutChannels: out, Kernel: kernel, Stride: stride, Padding: (kernel - 1) / 2, Groups: groups})
	x = b.BatchNorm2d(prefix+".1", x, eps)
	if act != "" {
		x = b.Activation(prefix+".2", act, x)
	}
	return x
}

// squeezeExcitation is torchvision's SqueezeExcitation: global pool, two 1×1
// convs, then the input scaled channel-wise.
func squeezeExcitation(b *Builder, prefix string, in, squeeze int, act, scaleAct Op) int {
	channels := b.shape(in)
	if channels == nil {
		return -1
	}
	s := b.AdaptiveAvgPool2d(prefix+".avgpool", in, 1)
	s = b.Conv2d(prefix+".fc1", s, Conv{OutChannels: squeeze, Kernel: 1, Stride: 1, Bias: true})
	s = b.Activation(prefix+".activation", act, s)
	s = b.Conv2d(prefix+".fc2", s, Conv{OutChannels: channels[0], Kernel: 1, Stride: 1, Bias: true})
	s = b.Activation(prefix+".scale_activation", scaleAct, s)
	return b.Mul(prefix+".mul", in, s)
}

// makeDivisible rounds channels as torchvision's _make_divisible does.
func makeDivisible(v float64, divisor int) int {
	n := max(divisor, int(v+float64(divisor)/2)/divisor*divisor)
	if float64(n) < 0.9*v {
		n += divisor
	}
	return n
}

// WithHeads returns a copy of g with one MTL-Split head per entry of tasks
// on its backbone output (for graphs imported from elsewhere).
func WithHeads(g *Graph, tasks []int) (*Graph, error) {
	if len(g.Heads) > 0 {
		return nil, fmt.Errorf("%s already has task heads", g.Name)
	}
	c := *g
	c.Nodes = append([]Node(nil), g.Nodes...)
	c.Blocks = append([]Block(nil), g.Blocks...)
	if err := checkClasses(tasks); err != nil {
		return nil, err
	}
	b := resume(c)
	for i, k := range tasks {
		AddHead(b, fmt.Sprintf("task%d", i+1), k)
	}
	return b.Build()
}
