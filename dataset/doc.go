// Package dataset brings labelled data in: a directory of images (or raw
// float32 tensors) with a labels.csv, checked row by row, turned into the
// model's input tensors by a preprocessing that is explicit and recorded,
// and streamed batch by batch. measure/ uses it for per-task accuracy at
// every cut and encoding; train/ for training; the shapes3d renderer writes
// sets with Writer.
//
// It never runs a network and never loads a whole set into memory: Open
// reads labels.csv and file headers only, Batch and Iter decode what is
// asked for.
//
// # Layout
//
//	DIR/labels.csv     file,shape,color      header: "file", then one column per task
//	                   img/0001.png,2,0      one row per item: path relative to DIR, one
//	                   img/0002.jpg,0,3      integer class ≥ 0 per task
//	DIR/img/0001.png ...
//
// Paths use '/', may go into subfolders and must stay inside DIR (no
// leading '/', no '..', no symbolic link out of DIR). Images are PNG or
// JPEG of any size and colour model (grey, RGB, RGBA, paletted, 8 or 16
// bits), all read as RGB. A set of raw tensors lists .f32 files instead:
// little-endian float32 in C order, all of one shape given by
// Preprocess.Shape (the --shape flag), used as they are. A set is all
// images or all .f32 files. Task names use letters, digits, '_', '-', '.'.
// With Options.Unlabelled, a directory without labels.csv is a set of
// inputs with no tasks: every .png, .jpg, .jpeg and .f32 file under it
// (hidden ones left out), in path order.
//
// # Bad input
//
// A missing labels.csv, a bad header or broken CSV quoting fail Open. A bad
// row — wrong column count, a label that is not an integer or is negative
// (or not below a declared class count), a path outside DIR, a file listed
// twice, a file that does not exist, is not a PNG/JPEG (judged from its
// header) or, with resize none, is not the input size, a .f32 file of the
// wrong size — is a Problem "labels.csv:17: img/x.png: reason". With OnBad
// Refuse (the default) Open returns a *BadError with all of them; with Skip
// the rows are left out and Set.Skipped lists them for the caller to report.
// A file whose body is corrupt past a good header fails the Batch that
// decodes it, with the same line and file.
//
// # Preprocessing
//
// Decode → RGB in [0,1] (8-bit ÷ 255, 16-bit ÷ 65535) → resize → (x − mean)
// / std per channel → NCHW float32. Resize is none (the image must already
// have the input size), exact (to H×W) or shorter (shorter side to S, then
// centre crop to H×W, torchvision's Resize(S) + CenterCrop sizes and
// offsets). Two interpolations, each equal bit for bit to torchvision 0.14
// on a fixture (testdata/gen_fixture.py):
//
//   - bilinear: PyTorch's, antialias off, on the float tensor (torchvision's
//     Resize after ToTensor; see InterpBilinear);
//   - bilinear-pil: Pillow's, antialiased, in 8 bits, on the image
//     (torchvision's Resize before ToTensor, the usual ImageNet evaluation
//     pipeline; see InterpBilinearPIL).
//
// JPEG decoding is Go's: it does not smooth chroma upsampling as libjpeg
// does, so pixels of a subsampled JPEG may differ from PIL's by a few
// levels. PNG is exact. Set.Preprocess is the completed value to write into
// a plan; its String is a one-line account.
//
// # CLI flags → API
//
//	--data DIR                  Open(DIR, opts)
//	--shape 3,64,64             opts.Preprocess.Shape (default: the model's input,
//	                            [C, H, W]; a .f32 set must match it)
//	--resize none|exact|S       ParseResize → opts.Preprocess.Resize, .ShorterPx
//	                            (S: shorter side to S px, centre crop to the input)
//	--interp bilinear|bilinear-pil  opts.Preprocess.Interpolation (default bilinear)
//	--mean 0.485,0.456,0.406    opts.Preprocess.Mean (one per channel, finite)
//	--std 0.229,0.224,0.225     opts.Preprocess.Std (one per channel, > 0)
//	--classes 3,4               opts.Classes (default: max label + 1 per task)
//	--on-bad refuse|skip        ParsePolicy → opts.OnBad; with skip, print
//	                            len(set.Skipped()) and each Problem on stderr
//	--workers N                 opts.Workers (default: every CPU)
//
// then set.Iter(batch, progress) for a pass in order (progress drives the
// terminal bar), or set.Batch(i, n, dst) for any range (shuffled training).
// Open's errors are bad input (exit 2).
package dataset
