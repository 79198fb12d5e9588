package export

import (
	"fmt"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/model"
	"github.com/mtlsplit/mtlsplit/onnx"
	"github.com/mtlsplit/mtlsplit/splitrun"
)

// ManifestVersion is the manifest schema's version.
const ManifestVersion = 1

// Manifest describes an exported split for whoever deploys it: which plan
// and model it comes from, every file with its tensors, what crosses each
// hop and how it is encoded there, and the Triton models.
type Manifest struct {
	Version int        `yaml:"version" json:"version"`
	Plan    PlanInfo   `yaml:"plan" json:"plan"`
	Source  SourceInfo `yaml:"source" json:"source"`
	// Opset is the ai.onnx opset of every file.
	Opset int    `yaml:"opset" json:"opset"`
	Files []File `yaml:"files" json:"files"`
	// Wire lists, per hop, the tensors it carries in wire order.
	Wire   []Hop         `yaml:"wire" json:"wire"`
	Triton []TritonModel `yaml:"triton,omitempty" json:"triton,omitempty"`
	// Check is filled by Check: the largest differences measured.
	Check *CheckReport `yaml:"check,omitempty" json:"check,omitempty"`
}

// PlanInfo is the plan's identity.
type PlanInfo struct {
	File      string `yaml:"file" json:"file"`
	SHA256    string `yaml:"sha256" json:"sha256"`
	CreatedAt string `yaml:"created_at" json:"created_at"`
	// ModelHash is the graph's structural hash the plan records.
	ModelHash string   `yaml:"model_hash" json:"model_hash"`
	Choice    string   `yaml:"choice" json:"choice"`
	Tiers     []string `yaml:"tiers,flow" json:"tiers"`
}

// SourceInfo is the network the files were cut from.
type SourceInfo struct {
	Kind      string `yaml:"kind" json:"kind"` // onnx or zoo
	Model     string `yaml:"model" json:"model"`
	InputSize int    `yaml:"input_size" json:"input_size"`
	SHA256    string `yaml:"sha256,omitempty" json:"sha256,omitempty"`
	// Seed is the seed of the random weights (a zoo model's, or the heads
	// a plan added to a one-output file).
	Seed uint64 `yaml:"seed" json:"seed"`
	// Preprocess is how the plan's accuracies were measured to prepare
	// inputs: feed edge.onnx inputs prepared the same way.
	Preprocess string `yaml:"preprocess,omitempty" json:"preprocess,omitempty"`
}

// File is one ONNX file of the split.
type File struct {
	Name   string `yaml:"name" json:"name"`
	Tier   int    `yaml:"tier" json:"tier"`
	Device string `yaml:"device" json:"device"`
	SHA256 string `yaml:"sha256" json:"sha256"`
	Bytes  int    `yaml:"bytes" json:"bytes"`
	// Nodes counts the graph nodes the file computes.
	Nodes   int      `yaml:"nodes" json:"nodes"`
	Inputs  []Tensor `yaml:"inputs" json:"inputs"`
	Outputs []Tensor `yaml:"outputs" json:"outputs"`
	// Heads are the tasks whose results this file gives.
	Heads []string `yaml:"heads,flow" json:"heads"`
}

// Tensor is a graph input or output of a file. Shape has the batch first,
// "batch" in the file (any batch runs; Triton batches up to
// max_batch_size).
type Tensor struct {
	Name  string `yaml:"name" json:"name"`
	Shape []int  `yaml:"shape,flow" json:"shape"`
	DType string `yaml:"dtype" json:"dtype"`
	// Node is the graph node whose output it is; Task the task whose
	// result it is, for a head's output.
	Node string `yaml:"node,omitempty" json:"node,omitempty"`
	Task string `yaml:"task,omitempty" json:"task,omitempty"`
}

// Hop is what crosses from one tier to the next.
type Hop struct {
	Hop     int          `yaml:"hop" json:"hop"`
	From    string       `yaml:"from" json:"from"`
	To      string       `yaml:"to" json:"to"`
	Tensors []WireTensor `yaml:"tensors" json:"tensors"`
}

// WireTensor is one tensor on the wire: the fp32 output of the sending
// file, encoded, then decoded to fp32 for the receiving file's input of
// the same name.
type WireTensor struct {
	Name     string `yaml:"name" json:"name"`
	Shape    []int  `yaml:"shape,flow" json:"shape"`
	Encoding string `yaml:"encoding" json:"encoding"`
	// Bytes is one sample's size on the wire (before a lossless stage).
	Bytes int64 `yaml:"bytes" json:"bytes"`
	// Layout is the byte layout of one sample; Decode how to get the
	// float32 values back.
	Layout string `yaml:"layout" json:"layout"`
	Decode string `yaml:"decode" json:"decode"`
	// Quantization is the layout of a quantized encoding, for programs.
	Quantization *QuantLayout `yaml:"quantization,omitempty" json:"quantization,omitempty"`
}

// QuantLayout is where a per-tensor affine quantized sample keeps its
// parameters and codes (engine/encode.go): x = (q − zero_point)·scale.
type QuantLayout struct {
	// Granularity is "per-tensor": one scale and zero point per sample.
	Granularity string `yaml:"granularity" json:"granularity"`
	// ScaleOffset holds a little-endian float32, ZeroPointOffset a
	// little-endian int32, CodesOffset the first code's byte.
	ScaleOffset     int `yaml:"scale_offset" json:"scale_offset"`
	ZeroPointOffset int `yaml:"zero_point_offset" json:"zero_point_offset"`
	CodesOffset     int `yaml:"codes_offset" json:"codes_offset"`
	// CodeBits is 8 (a byte a code) or 4 (two a byte, the even-indexed
	// value in the low nibble); codes are unsigned, 0 to 2^CodeBits − 1.
	CodeBits int `yaml:"code_bits" json:"code_bits"`
}

// TritonModel is one model of the Triton repository.
type TritonModel struct {
	Name   string `yaml:"name" json:"name"`
	Tier   int    `yaml:"tier" json:"tier"`
	Config string `yaml:"config" json:"config"`
}

func newManifest(d *splitrun.Deployment, seed uint64, id Identity) Manifest {
	p := d.Plan
	m := Manifest{Version: ManifestVersion, Opset: onnx.ExportOpset,
		Plan:   PlanInfo{File: id.PlanFile, SHA256: id.PlanSHA256, CreatedAt: p.CreatedAt, ModelHash: p.Model.Hash, Choice: choiceLabel(d)},
		Source: SourceInfo{Kind: "zoo", Model: p.Model.Name, InputSize: p.Model.InputSize, Seed: seed}}
	if src := p.Model.Source; src != nil {
		m.Source.Preprocess = src.Preprocess
	}
	if id.ModelSHA256 != "" {
		m.Source.Kind, m.Source.SHA256 = "onnx", id.ModelSHA256
	}
	for _, t := range p.Tiers {
		m.Plan.Tiers = append(m.Plan.Tiers, t.Device)
	}
	return m
}

// choiceLabel says what the plan sends, for people.
func choiceLabel(d *splitrun.Deployment) string {
	if !d.Sends() {
		return "all on the device"
	}
	s := ""
	for _, t := range d.Hops[0] {
		if s != "" {
			s += ", "
		}
		s += fmt.Sprintf("%s as %s", d.Graph.Nodes[t.Node].Name, t.Encoding)
	}
	return "send " + s
}

func (m *Manifest) file(d *splitrun.Deployment, k int, name string, p *onnx.Part, data []byte) File {
	g := d.Graph
	f := File{Name: name, Tier: k, Device: d.Plan.Tiers[k].Device, SHA256: SHA256(data), Bytes: len(data)}
	for _, in := range p.Nodes {
		if in {
			f.Nodes++
		}
	}
	tensor := func(port onnx.Port) Tensor {
		t := Tensor{Name: port.Name, Shape: batchShape(g.Nodes[port.Node].OutShape), DType: "float32", Node: g.Nodes[port.Node].Name}
		for i, h := range g.Heads {
			if h.Output == port.Node && d.Plan.Model.Tasks[i].Name == port.Name {
				t.Task, t.Node = port.Name, ""
				f.Heads = append(f.Heads, port.Name)
			}
		}
		return t
	}
	for _, in := range p.Inputs {
		f.Inputs = append(f.Inputs, tensor(in))
	}
	for _, o := range p.Outputs {
		f.Outputs = append(f.Outputs, tensor(o))
	}
	return f
}

// batchShape is a per-sample shape with the batch (-1: any) in front.
func batchShape(s model.Shape) []int { return append([]int{-1}, s...) }

func (m *Manifest) hop(d *splitrun.Deployment, h int, hop []splitrun.Tensor, names map[int]string) Hop {
	out := Hop{Hop: h, From: partFile(d, h-1), To: partFile(d, h)}
	for _, t := range hop {
		out.Tensors = append(out.Tensors, wireTensor(names[t.Node], d.Graph.Nodes[t.Node].OutShape, t.Encoding))
	}
	return out
}

// wireTensor describes a tensor of shape sent in encoding e.
func wireTensor(name string, shape model.Shape, e codec.Encoding) WireTensor {
	layout, decode := encodingLayout(e)
	w := WireTensor{Name: name, Shape: batchShape(shape), Encoding: string(e), Bytes: e.Bytes(shape.Elems()), Layout: layout, Decode: decode}
	if bits := map[codec.Encoding]int{codec.Int8: 8, codec.Int4: 4}[e.Base()]; bits > 0 {
		w.Quantization = &QuantLayout{Granularity: "per-tensor", ScaleOffset: 0, ZeroPointOffset: 4, CodesOffset: codec.QuantHeaderBytes, CodeBits: bits}
	}
	return w
}

// encodingLayout describes encoding e's bytes (engine/encode.go writes
// them) and how to decode them, per sample, values in C (NCHW) order.
func encodingLayout(e codec.Encoding) (layout, decode string) {
	switch e.Base() {
	case codec.FP32:
		layout, decode = "float32 little-endian, 4 bytes a value", "x = value"
	case codec.FP16:
		layout, decode = "IEEE half little-endian, 2 bytes a value (rounded to nearest even)", "x = float32(half)"
	case codec.Int8:
		layout = "8-byte header: scale float32 LE, zero_point int32 LE (one per tensor, per sample); then one uint8 code a value"
		decode = "x = (q - zero_point) * scale"
	case codec.Int4:
		layout = "8-byte header: scale float32 LE, zero_point int32 LE (one per tensor, per sample); then two 4-bit codes a byte, value 2i in the low nibble of byte i, 2i+1 in the high"
		decode = "x = (q - zero_point) * scale"
	}
	if e.Compressed() {
		layout = "one zstd frame of: " + layout
		decode = "zstd-decompress, then " + decode
	}
	return layout, decode
}

func names(ts []Tensor) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Name
	}
	return out
}
