package onnx

import (
	"encoding/binary"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// A tiny ONNX writer for tests: enough of onnx.proto to build synthetic
// models with the field numbers proto.go reads.

func pbBytes(num protowire.Number, v []byte) []byte {
	b := protowire.AppendTag(nil, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func pbString(num protowire.Number, s string) []byte { return pbBytes(num, []byte(s)) }

func pbVarint(num protowire.Number, v int64) []byte {
	b := protowire.AppendTag(nil, num, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(v))
}

func pbFloat(num protowire.Number, v float32) []byte {
	b := protowire.AppendTag(nil, num, protowire.Fixed32Type)
	return protowire.AppendFixed32(b, math.Float32bits(v))
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// floatTensor is a float32 TensorProto with raw data.
func floatTensor(name string, dims []int64, data []float32) []byte {
	raw := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	var b []byte
	for _, d := range dims {
		b = append(b, pbVarint(tensorDims, d)...)
	}
	return cat(b, pbVarint(tensorDataType, dtFloat), pbString(tensorName, name), pbBytes(tensorRawData, raw))
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

func attrInt(name string, v int64) []byte {
	return cat(pbString(attrName, name), pbVarint(attrType, 2), pbVarint(attrI, v))
}

func attrFloat(name string, v float32) []byte {
	return cat(pbString(attrName, name), pbVarint(attrType, 1), pbFloat(attrF, v))
}

func attrTensor(name string, t []byte) []byte {
	return cat(pbString(attrName, name), pbVarint(attrType, 4), pbBytes(attrT, t))
}

// node is a NodeProto; attributes come from the attr* helpers.
func node(name, op string, ins, outs []string, attributes ...[]byte) []byte {
	var b []byte
	for _, in := range ins {
		b = append(b, pbString(nodeInput, in)...)
	}
	for _, o := range outs {
		b = append(b, pbString(nodeOutput, o)...)
	}
	b = append(b, pbString(nodeName, name)...)
	b = append(b, pbString(nodeOpType, op)...)
	for _, a := range attributes {
		b = append(b, pbBytes(nodeAttribute, a)...)
	}
	return b
}

// valueInfoProto declares a float tensor; a negative dim is symbolic.
func valueInfoProto(name string, dims ...int64) []byte {
	var shape []byte
	for _, d := range dims {
		var dm []byte
		if d < 0 {
			dm = pbString(dimParam, "batch_size")
		} else {
			dm = pbVarint(dimValue, d)
		}
		shape = append(shape, pbBytes(shapeDim, dm)...)
	}
	tt := cat(pbVarint(tensorElemType, dtFloat), pbBytes(tensorShape, shape))
	return cat(pbString(valueName, name), pbBytes(valueType, pbBytes(typeTensor, tt)))
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
