// Package engine runs a model.Graph on the CPU: a float32 forward pass that
// is fast enough to measure real layers and to serve both halves of a split.
//
// Compile turns a graph and its Weights into a Program once: batch norm is
// folded into the convolution before it, activations are fused into the op
// that produces their input, every tensor gets a buffer chosen by liveness
// (elementwise ops work in place), and every layer is bound to its kernel.
// Running a Program allocates nothing per layer: only the returned slices.
// Convolutions are im2col + GEMM through gonum's BLAS interface (pure Go, or
// OpenBLAS through cgo when the build has it); 1×1 stride-1 convolutions
// multiply the input directly, depthwise ones run a direct kernel, and 3×3
// stride-1 ones with 64 or more channels and an output of 14×14 or more run
// as Winograd F(2×2, 3×3) on the same GEMM (winograd.go). The
// engine's own kernels, and GEMMs on the single-threaded OpenBLAS, are split
// over Options.Threads goroutines; with two or more, Compile raises
// GOMAXPROCS to one above them (spareP: an idle P keeps Go's sysmon from
// taking each long cgo call's P).
//
// Builds with cgo add native kernels (native.h), chosen at run time by what
// the CPU supports: activations, depthwise 3×3/5×5, max pooling, standalone
// batch norm and global average pooling in AVX2 or AVX-512 (native.c), or
// NEON on arm64 (native_arm64.c); and, with BackendOpenBLAS or
// BackendNative on an AVX-512 or arm64 CPU, the engine's own GEMM for
// convolutions: weights packed once at Compile, image patches packed
// straight into the GEMM's panels (no im2col matrix), bias and activation
// applied as each tile is stored. Without AVX2 (or without cgo) the Go
// kernels run. The arm64 path is tested under qemu (TestARM64UnderQEMU).
// Every native kernel treats each element the same wherever a thread's
// range starts, so split and batched runs stay bit for bit equal to whole
// ones.
//
// Measured on a 2-core AMD EPYC (Zen 5, KVM), batch 1, 224×224, 2 threads,
// BackendOpenBLAS, engine and PyTorch 1.13 (oneDNN) interleaved in one run;
// the machine is shared and noisy, so these are typical values, in ms:
//
//	model               before  after  PyTorch  after/PyTorch
//	resnet18              30.7   14.5     13.4   1.1
//	mobilenet_v3_small     4.7    1.6      2.6   0.6
//	efficientnet_b0       33.4    7.2     10.4   0.7
//
// Compile first adds up what the Program will hold (MemoryPlan: the weights
// it is given, its own copy — packed only, where the native GEMM runs —,
// the activation buffers, the scratch every step shares) and refuses, with
// a MemoryError, a plan over Options.MaxMemoryMB; PlanMemory and
// CheckMemory give the same answer before the weights exist. Buffers are
// planned by liveness (a tensor's buffer is free once its last reader has
// run; the smallest free buffer that fits is taken), so activations need
// the largest set alive at once; head outputs live to the end of a run.
// With Options.ReleaseWeights the caller's tensors are dropped as they are
// compiled. `make bench-memory` measures the peak against ONNX Runtime.
//
// A Program runs the whole backbone (Run), the backbone and every task head
// (RunAll), one head (RunHead), or the blocks between two cuts (RunRange): cut
// k is the tensor after k top-level blocks. A run that ends at a cut
// writes the tensor there as the block computed it; one that goes past it
// may fuse the activation opening the next block into the step before
// (fuse.go), which computes the same values in one pass. So running 0→k
// on one Program and k→end on another gives bit for bit what a whole run
// gives. Encode and Decode put a cut tensor on the wire as fp32,
// fp16, int8 or int4 (the codec package names them and gives their sizes).
//
// The engine never decides or plans anything: it does not choose cuts,
// encodings or devices, and never reads a plan or a profile. It runs the
// graph it is given, the way it is told to, and reports errors as values —
// never a panic on a bad graph, bad weights or a bad input.
package engine
