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
// A file with several outputs is a multi-task model: each output is a task
// named after it, the layers that feed only that output are its head (any
// sub-graph that branches from the backbone's output), and the layers that
// feed several outputs are the shared backbone. A graph that is not so
// shaped (an output made inside the backbone, a head reading the backbone
// anywhere but at its output, outputs sharing nothing) is an error saying
// which.
//
// Shapes, params and MACs are computed by model.Builder with the same rules
// as the zoo. The backbone's cut candidates come from its structure: every
// point where a single tensor is live (Imported.Cuts), and the DAG itself
// for layer-level cuts. Blocks are the segments between single-tensor cut
// points, grouped into the top-level modules named by torch's node scopes
// ("/features/features.3/…" → "features.3") when the file carries them;
// a module holding every weight of the backbone (self.backbone) is a
// wrapper, so its children are the blocks.
//
// The input is one float32 [N C H W] image, batch 1 or symbolic, square; a
// dynamic height and width take the size the caller gives (LoadAt).
//
// Export writes the other way: a model.Graph with its weights as an
// opset-13 file with one output per task head, named after the task, and
// initializers named by their state_dict keys — what training hands the
// planner, the engine and PyTorch. It writes only what this importer reads
// back into the same graph (dropout and stochastic depth left out, as
// torch.onnx leaves them out).
//
// With ExportOptions.Part it writes one side of a split instead: the nodes
// that side computes, the tensors it receives as graph inputs and those it
// sends or gives as outputs, each under a chosen name. Join reads such
// files back as the one model they make together (each file's inputs are
// an earlier file's outputs of the same name), saying which file computes
// each node, so that the engine can run exactly what the files hold.
//
// The package never runs a network (that is engine's job), and it takes
// weights through a one-method interface so that it never links the
// engine.
package onnx
