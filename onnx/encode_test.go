package onnx

import (
	"google.golang.org/protobuf/encoding/protowire"
)

// Synthetic models for tests, built with the writer's encoders
// (protoenc.go); intsAttr writes its integers packed, the form Export does
// not, so the reader's packed path is tested too.

func pbBytes(num protowire.Number, v []byte) []byte { return message(nil).bytes(num, v) }

func pbString(num protowire.Number, s string) []byte { return message(nil).str(num, s) }

func pbVarint(num protowire.Number, v int64) []byte { return message(nil).varint(num, v) }

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// floatTensor is a float32 TensorProto with raw data.
func floatTensor(name string, dims []int64, data []float32) []byte {
	return floatTensorProto(name, dims, data)
}

// intTensor is an int64 TensorProto with packed int64_data.
func intTensor(name string, data ...int64) []byte {
	var packed []byte
	for _, v := range data {
		packed = protowire.AppendVarint(packed, uint64(v))
	}
	return cat(pbVarint(tensorDims, int64(len(data))), pbVarint(tensorDataType, dtInt64),
		pbString(tensorName, name), pbBytes(tensorInt64Data, packed))
}

// seq is a deterministic float sequence of n values.
func seq(n int, scale float32) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = scale * float32(i%7-3)
	}
	return out
}

func intsAttr(name string, v ...int64) []byte {
	var packed []byte
	for _, x := range v {
		packed = protowire.AppendVarint(packed, uint64(x))
	}
	return cat(pbString(attrName, name), pbVarint(attrType, 7), pbBytes(attrInts, packed))
}

func attrInt(name string, v int64) []byte { return intAttribute(name, v) }

func attrFloat(name string, v float32) []byte { return floatAttribute(name, v) }

func attrTensor(name string, t []byte) []byte {
	return cat(pbString(attrName, name), pbVarint(attrType, 4), pbBytes(attrT, t))
}

// node is a NodeProto; attributes come from the attr* helpers.
func node(name, op string, ins, outs []string, attributes ...[]byte) []byte {
	ms := make([]message, len(attributes))
	for i, a := range attributes {
		ms[i] = a
	}
	return nodeMessage(name, op, ins, outs, ms...)
}

// valueInfoProto declares a float tensor; a negative dim is symbolic.
func valueInfoProto(name string, dims ...int64) []byte {
	params := map[int]string{}
	for i, d := range dims {
		if d < 0 {
			params[i] = "batch_size"
		}
	}
	return valueInfoMessage(name, dims, params)
}

// testModel is a synthetic model: nodes, initializers, one input declared
// [N C H W], one output.
type testModel struct {
	opset  int64
	nodes  [][]byte
	inits  [][]byte
	input  []int64 // NCHW; default [1 3 8 8]
	output string
	more   []string // further graph outputs, after output
}

func (m testModel) encode() []byte {
	opset := m.opset
	if opset == 0 {
		opset = 13
	}
	input := m.input
	if input == nil {
		input = []int64{1, 3, 8, 8}
	}
	var g []byte
	for _, n := range m.nodes {
		g = append(g, pbBytes(graphNode, n)...)
	}
	g = append(g, pbString(graphName, "synthetic")...)
	for _, t := range m.inits {
		g = append(g, pbBytes(graphInitializer, t)...)
	}
	g = append(g, pbBytes(graphInput, valueInfoProto("x", input...))...)
	for _, o := range append([]string{m.output}, m.more...) {
		g = append(g, pbBytes(graphOutput, valueInfoProto(o))...)
	}
	return cat(pbVarint(modelIRVersion, 8), pbString(modelProducer, "mtlsplit-test"),
		pbBytes(modelOpset, cat(pbString(opsetDomain, ""), pbVarint(opsetVersion, opset))),
		pbBytes(modelGraph, g))
}
