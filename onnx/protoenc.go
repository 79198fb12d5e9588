package onnx

import (
	"encoding/binary"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// The writer's half of proto.go: the few onnx.proto messages Export
// writes, appended field by field with protowire. onnx.proto is proto2, so
// repeated integers go out unpacked, one field each, as onnx's own
// serializer writes them (every protobuf reader takes both forms).

// Field numbers only the writer uses.
const (
	modelMetadata = 14 // ModelProto.metadata_props
	entryKey      = 1  // StringStringEntryProto
	entryValue    = 2
)

// AttributeProto.AttributeType values.
const (
	attrTypeFloat = 1
	attrTypeInt   = 2
	attrTypeInts  = 7
)

// message is a protobuf message being encoded.
type message []byte

func (m message) bytes(num protowire.Number, v []byte) message {
	m = protowire.AppendTag(m, num, protowire.BytesType)
	return protowire.AppendBytes(m, v)
}

func (m message) str(num protowire.Number, s string) message {
	m = protowire.AppendTag(m, num, protowire.BytesType)
	return protowire.AppendString(m, s)
}

func (m message) varint(num protowire.Number, v int64) message {
	m = protowire.AppendTag(m, num, protowire.VarintType)
	return protowire.AppendVarint(m, uint64(v))
}

func (m message) float(num protowire.Number, v float32) message {
	m = protowire.AppendTag(m, num, protowire.Fixed32Type)
	return protowire.AppendFixed32(m, math.Float32bits(v))
}

// varints writes a repeated integer field unpacked.
func (m message) varints(num protowire.Number, vs []int64) message {
	for _, v := range vs {
		m = m.varint(num, v)
	}
	return m
}

// floatTensorProto is a float32 TensorProto holding data as raw
// little-endian bytes, as torch.onnx writes initializers.
func floatTensorProto(name string, dims []int64, data []float32) message {
	raw := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	return message(nil).varints(tensorDims, dims).varint(tensorDataType, dtFloat).
		str(tensorName, name).bytes(tensorRawData, raw)
}

func intsAttribute(name string, v ...int64) message {
	return message(nil).str(attrName, name).varint(attrType, attrTypeInts).varints(attrInts, v)
}

func intAttribute(name string, v int64) message {
	return message(nil).str(attrName, name).varint(attrType, attrTypeInt).varint(attrI, v)
}

func floatAttribute(name string, v float32) message {
	return message(nil).str(attrName, name).varint(attrType, attrTypeFloat).float(attrF, v)
}

// nodeMessage is a NodeProto of the default domain.
func nodeMessage(name, op string, ins, outs []string, attributes ...message) message {
	var m message
	for _, in := range ins {
		m = m.str(nodeInput, in)
	}
	for _, o := range outs {
		m = m.str(nodeOutput, o)
	}
	m = m.str(nodeName, name).str(nodeOpType, op)
	for _, a := range attributes {
		m = m.bytes(nodeAttribute, a)
	}
	return m
}

// valueInfoMessage declares a float32 tensor of shape dims; a dimension
// named in params (by index) is symbolic.
func valueInfoMessage(name string, dims []int64, params map[int]string) message {
	var shape message
	for i, d := range dims {
		var dm message
		if p, ok := params[i]; ok {
			dm = dm.str(dimParam, p)
		} else {
			dm = dm.varint(dimValue, d)
		}
		shape = shape.bytes(shapeDim, dm)
	}
	tt := message(nil).varint(tensorElemType, dtFloat).bytes(tensorShape, shape)
	return message(nil).str(valueName, name).bytes(valueType, message(nil).bytes(typeTensor, tt))
}
