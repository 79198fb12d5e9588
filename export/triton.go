package export

import (
	"fmt"
	"strings"
)

// TritonMaxBatch is the largest batch the Triton configuration lets the
// server batch dynamically: the files take any batch.
const TritonMaxBatch = 8

// tritonConfig is the config.pbtxt of model name served by ONNX Runtime
// from file f: the batch dimension left to Triton (max_batch_size), every
// input and output with its data type and per-sample dims.
func tritonConfig(name string, f File) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "name: %q\nplatform: \"onnxruntime_onnx\"\nbackend: \"onnxruntime\"\nmax_batch_size: %d\n", name, TritonMaxBatch)
	section := func(kind string, ts []Tensor) {
		fmt.Fprintf(&b, "%s [\n", kind)
		for i, t := range ts {
			dims := make([]string, len(t.Shape)-1)
			for j, d := range t.Shape[1:] {
				dims[j] = fmt.Sprint(d)
			}
			sep := ","
			if i == len(ts)-1 {
				sep = ""
			}
			fmt.Fprintf(&b, "  {\n    name: %q\n    data_type: TYPE_FP32\n    dims: [ %s ]\n  }%s\n", t.Name, strings.Join(dims, ", "), sep)
		}
		b.WriteString("]\n")
	}
	section("input", f.Inputs)
	section("output", f.Outputs)
	b.WriteString("dynamic_batching { }\n")
	return []byte(b.String())
}
