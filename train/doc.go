// Package train trains a model.Graph (backbone + MTL-Split task heads) on
// the CPU with gorgonia's automatic differentiation, MTL-Split's way: the
// loss is the sum of the tasks' cross-entropies, the optimizer AdamW (or SGD
// with momentum) with a StepLR schedule.
//
// A Trainer owns every parameter as a float32 slice in PyTorch's layout and
// builds two gorgonia graphs over the same slices: one in training mode
// (batch norm on batch statistics, updating its running statistics with
// momentum 0.1; dropout from a seeded mask) and one in eval mode (running
// statistics, no dropout). Weights returns an engine.Weights with PyTorch's
// state_dict names, so the engine runs a trained network directly.
//
// Initialisation follows PyTorch's defaults, drawn from a seeded generator
// (the distribution of PyTorch, not its random stream): conv and linear
// weights kaiming_uniform(a=√5), i.e. uniform in ±1/√fan_in, their biases
// uniform in ±1/√fan_in, batch norm weight 1 and bias 0, running mean 0 and
// variance 1. torchvision's own constructors re-initialise some models
// (kaiming_normal for resnet and vgg convs); MTL-Split trains from PyTorch's
// module defaults as far as the heads go, and we use them everywhere.
//
// Ops: Conv2d (grouped and depthwise ones by a direct-loop op of this
// package), BatchNorm2d (this package's op: gorgonia's normalizes a stale
// buffer when rerun), ReLU, ReLU6, Hardswish, Hardsigmoid, SiLU, Sigmoid,
// MaxPool2d, global AdaptiveAvgPool2d, Add, the squeeze-excitation Mul,
// Flatten, Linear, Dropout, StochasticDepth (torchvision's, mode "row",
// drop probability rising to 0.2 over efficientnet's blocks; depthProbs) —
// every zoo model trains (vgg16, vgg16_bn, resnet18, mobilenet_v3_small,
// efficientnet_b0).
//
// AvgPool2d, adaptive pooling to more than 1×1 and Concat are reported as
// unsupported when a graph is built.
//
// Data is rendered Scenes or a Labelled folder (dataset.Open); a Run goes
// over epochs in a seeded order and its Checkpoint holds everything a
// Resume needs to continue bit for bit.
//
// Where the time goes (pprof of BenchmarkStep) decided the ops' shape.
// Convolutions with groups 1 are im2col + GEMM on the engine's GEMM
// (engine.Level3: OpenBLAS, single-threaded) split over the CPUs by sgemm,
// one sample per GEMM straight into NCHW once outputs reach 1024 pixels;
// batch norm (with its weight and bias), a convolution's bias, Linear and
// the squeeze-excitation product are single ops, not gorgonia broadcasts;
// activations run on the engine's vectorized kernels (engine.Activate);
// grouped and depthwise convolutions, im2col and col2im loop over
// precomputed valid ranges. Loops are split over the CPUs so that each
// output gets the same work whatever the split, and a GEMM into blocks of
// its result. Throughput against PyTorch 1.13 on
// the same cores: the README's training-speed table (make bench-train).
//
// The package never plans, profiles or writes ONNX; it never calls
// gorgonia's Use (choosing a BLAS is for main and tests).
package train
