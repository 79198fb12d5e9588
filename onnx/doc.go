// Package onnx reads .onnx files into the project's model.Graph and their
// float32 weights, so that a user's own network can be planned like a zoo
// model.
//
// Only what a CNN exported by torch.onnx needs is supported (written for
// opsets 9–17, tested at 13): Conv, BatchNormalization, Relu, Clip (as
// ReLU/ReLU6), HardSigmoid, HardSwish, Sigmoid, Mul (squeeze-excitation
// scaling), Add (residual), MaxPool, AveragePool, GlobalAveragePool,
// Flatten, Reshape to flat, Gemm, MatMul, Concat, Identity, Dropout,
// Constant, and a zero Pad before a Conv or AveragePool. torch's opset-13
// decompositions x·HardSigmoid(x) and x·Sigmoid(x) become Hardswish and
// SiLU. Anything else is an error naming the op and the node, never a
// panic.
//
// Shapes, params and MACs are computed by model.Builder with the same rules
// as the zoo. Blocks are the segments between single-tensor cut points,
// grouped into the top-level modules named by torch's node scopes
// ("/features/features.3/…" → "features.3") when the file carries them.
//
// The package only reads: it never runs a network (that is engine's job) and
// never writes ONNX.
package onnx
