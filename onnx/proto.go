package onnx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// This file decodes the few ONNX protobuf messages the importer reads, with
// protowire instead of generated code: the field numbers below are those of
// onnx.proto (ONNX 1.x), and every other field is skipped. Generated types
// from an ONNX runtime would pull a tensor library into every binary.

// Field numbers of onnx.proto.
const (
	modelIRVersion = 1
	modelOpset     = 8
	modelProducer  = 2
	modelProdVer   = 3
	modelGraph     = 7

	opsetDomain  = 1
	opsetVersion = 2

	graphNode        = 1
	graphName        = 2
	graphInitializer = 5
	graphInput       = 11
	graphOutput      = 12

	nodeInput     = 1
	nodeOutput    = 2
	nodeName      = 3
	nodeOpType    = 4
	nodeAttribute = 5
	nodeDomain    = 7

	attrName   = 1
	attrF      = 2
	attrI      = 3
	attrS      = 4
	attrT      = 5
	attrFloats = 7
	attrInts   = 8
	attrType   = 20

	tensorDims       = 1
	tensorDataType   = 2
	tensorFloatData  = 4
	tensorInt32Data  = 5
	tensorInt64Data  = 7
	tensorName       = 8
	tensorRawData    = 9
	tensorDoubleData = 10
	tensorLocation   = 14

	valueName = 1
	valueType = 2

	typeTensor      = 1
	tensorElemType  = 1
	tensorShape     = 2
	shapeDim        = 1
	dimValue        = 1
	dimParam        = 2
	locationDefault = 0
)

// TensorProto.DataType values the importer reads.
const (
	dtFloat  = 1
	dtInt32  = 6
	dtInt64  = 7
	dtDouble = 11
)

var errTruncated = errors.New("truncated or malformed protobuf")

type modelProto struct {
	irVersion       int64
	producer        string
	producerVersion string
	opsets          map[string]int64 // domain ("" is ai.onnx) → version
	graph           *graphProto
}

type graphProto struct {
	name         string
	nodes        []nodeProto
	initializers []tensorProto
	inputs       []valueInfo
	outputs      []valueInfo
}

type nodeProto struct {
	name, opType, domain string
	inputs, outputs      []string
	attrs                []attribute
}

type attribute struct {
	name   string
	typ    int64
	f      float32
	i      int64
	s      []byte
	t      *tensorProto
	floats []float32
	ints   []int64
}

type tensorProto struct {
	name     string
	dims     []int64
	dataType int64
	external bool
	raw      []byte
	floats   []float32
	int32s   []int64 // int32_data, widened
	int64s   []int64
	doubles  []float64
}

type valueInfo struct {
	name     string
	elemType int64
	hasShape bool
	dims     []dim
}

// dim is one dimension of a declared shape: a value, or a symbolic name
// such as "batch_size".
type dim struct {
	value int64
	param string
}

// fields walks the top-level fields of one message, calling f with each
// field's number, wire type and raw value (the bytes of a length-delimited
// field, or the encoded varint/fixed value otherwise).
func fields(b []byte, f func(num protowire.Number, typ protowire.Type, v []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errTruncated
		}
		b = b[n:]
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return errTruncated
		}
		v := b[:m]
		if typ == protowire.BytesType {
			var k int
			v, k = protowire.ConsumeBytes(b)
			if k < 0 {
				return errTruncated
			}
		}
		if err := f(num, typ, v); err != nil {
			return err
		}
		b = b[m:]
	}
	return nil
}

func varint(typ protowire.Type, v []byte) (int64, error) {
	if typ != protowire.VarintType {
		return 0, errTruncated
	}
	x, n := protowire.ConsumeVarint(v)
	if n < 0 {
		return 0, errTruncated
	}
	return int64(x), nil
}

// varints reads a repeated integer field, packed or not.
func varints(dst []int64, typ protowire.Type, v []byte) ([]int64, error) {
	if typ == protowire.VarintType {
		x, err := varint(typ, v)
		return append(dst, x), err
	}
	if typ != protowire.BytesType {
		return dst, errTruncated
	}
	for len(v) > 0 {
		x, n := protowire.ConsumeVarint(v)
		if n < 0 {
			return dst, errTruncated
		}
		dst = append(dst, int64(x))
		v = v[n:]
	}
	return dst, nil
}

// float32s reads a repeated float field, packed or not.
func float32s(dst []float32, typ protowire.Type, v []byte) ([]float32, error) {
	switch {
	case typ == protowire.Fixed32Type:
		return append(dst, math.Float32frombits(binary.LittleEndian.Uint32(v))), nil
	case typ != protowire.BytesType || len(v)%4 != 0:
		return dst, errTruncated
	}
	for i := 0; i < len(v); i += 4 {
		dst = append(dst, math.Float32frombits(binary.LittleEndian.Uint32(v[i:])))
	}
	return dst, nil
}

// float64s reads a repeated double field, packed or not.
func float64s(dst []float64, typ protowire.Type, v []byte) ([]float64, error) {
	switch {
	case typ == protowire.Fixed64Type:
		return append(dst, math.Float64frombits(binary.LittleEndian.Uint64(v))), nil
	case typ != protowire.BytesType || len(v)%8 != 0:
		return dst, errTruncated
	}
	for i := 0; i < len(v); i += 8 {
		dst = append(dst, math.Float64frombits(binary.LittleEndian.Uint64(v[i:])))
	}
	return dst, nil
}

func bytesField(typ protowire.Type, v []byte) ([]byte, error) {
	if typ != protowire.BytesType {
		return nil, errTruncated
	}
	return v, nil
}

func stringField(typ protowire.Type, v []byte) (string, error) {
	b, err := bytesField(typ, v)
	return string(b), err
}

func decodeModel(b []byte) (*modelProto, error) {
	m := &modelProto{opsets: map[string]int64{}}
	err := fields(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
		var err error
		switch num {
		case modelIRVersion:
			m.irVersion, err = varint(typ, v)
		case modelProducer:
			m.producer, err = stringField(typ, v)
		case modelProdVer:
			m.producerVersion, err = stringField(typ, v)
		case modelOpset:
			var domain string
			var version int64
			if v, err = bytesField(typ, v); err != nil {
				return err
			}
			err = fields(v, func(num protowire.Number, typ protowire.Type, v []byte) error {
				var err error
				switch num {
				case opsetDomain:
					domain, err = stringField(typ, v)
				case opsetVersion:
					version, err = varint(typ, v)
				}
				return err
			})
			m.opsets[domain] = version
		case modelGraph:
			if v, err = bytesField(typ, v); err != nil {
				return err
			}
			// A message field given twice merges, as protobuf says.
			if m.graph == nil {
				m.graph = &graphProto{}
			}
			err = decodeGraph(m.graph, v)
		}
		return err
	})
	return m, err
}

func decodeGraph(g *graphProto, b []byte) error {
	return fields(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
		var err error
		if num == graphName {
			g.name, err = stringField(typ, v)
			return err
		}
		if num != graphNode && num != graphInitializer && num != graphInput && num != graphOutput {
			return nil
		}
		if v, err = bytesField(typ, v); err != nil {
			return err
		}
		switch num {
		case graphNode:
			var n nodeProto
			n, err = decodeNode(v)
			g.nodes = append(g.nodes, n)
		case graphInitializer:
			var t *tensorProto
			t, err = decodeTensor(v)
			if t != nil {
				g.initializers = append(g.initializers, *t)
			}
		case graphInput, graphOutput:
			var vi valueInfo
			vi, err = decodeValueInfo(v)
			if num == graphInput {
				g.inputs = append(g.inputs, vi)
			} else {
				g.outputs = append(g.outputs, vi)
			}
		}
		return err
	})
}

func decodeNode(b []byte) (nodeProto, error) {
	var n nodeProto
	err := fields(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
		var err error
		var s string
		switch num {
		case nodeInput:
			s, err = stringField(typ, v)
			n.inputs = append(n.inputs, s)
		case nodeOutput:
			s, err = stringField(typ, v)
			n.outputs = append(n.outputs, s)
		case nodeName:
			n.name, err = stringField(typ, v)
		case nodeOpType:
			n.opType, err = stringField(typ, v)
		case nodeDomain:
			n.domain, err = stringField(typ, v)
		case nodeAttribute:
			if v, err = bytesField(typ, v); err != nil {
				return err
			}
			var a attribute
			a, err = decodeAttribute(v)
			n.attrs = append(n.attrs, a)
		}
		return err
	})
	return n, err
}

func decodeAttribute(b []byte) (attribute, error) {
	var a attribute
	err := fields(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
		var err error
		switch num {
		case attrName:
			a.name, err = stringField(typ, v)
		case attrType:
			a.typ, err = varint(typ, v)
		case attrF:
			var fs []float32
			if fs, err = float32s(nil, typ, v); err == nil && len(fs) == 1 {
				a.f = fs[0]
			}
		case attrI:
			a.i, err = varint(typ, v)
		case attrS:
			a.s, err = bytesField(typ, v)
		case attrT:
			if v, err = bytesField(typ, v); err != nil {
				return err
			}
			a.t, err = decodeTensor(v)
		case attrFloats:
			a.floats, err = float32s(a.floats, typ, v)
		case attrInts:
			a.ints, err = varints(a.ints, typ, v)
		}
		return err
	})
	return a, err
}

func decodeTensor(b []byte) (*tensorProto, error) {
	t := &tensorProto{}
	err := fields(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
		var err error
		switch num {
		case tensorDims:
			t.dims, err = varints(t.dims, typ, v)
		case tensorDataType:
			t.dataType, err = varint(typ, v)
		case tensorFloatData:
			t.floats, err = float32s(t.floats, typ, v)
		case tensorInt32Data:
			t.int32s, err = varints(t.int32s, typ, v)
		case tensorInt64Data:
			t.int64s, err = varints(t.int64s, typ, v)
		case tensorDoubleData:
			t.doubles, err = float64s(t.doubles, typ, v)
		case tensorName:
			t.name, err = stringField(typ, v)
		case tensorRawData:
			t.raw, err = bytesField(typ, v)
		case tensorLocation:
			var loc int64
			loc, err = varint(typ, v)
			t.external = loc != locationDefault
		}
		return err
	})
	return t, err
}

func decodeValueInfo(b []byte) (valueInfo, error) {
	var vi valueInfo
	err := fields(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
		var err error
		switch num {
		case valueName:
			vi.name, err = stringField(typ, v)
		case valueType:
			if v, err = bytesField(typ, v); err != nil {
				return err
			}
			err = fields(v, func(num protowire.Number, typ protowire.Type, v []byte) error {
				if num != typeTensor {
					return nil
				}
				v, err := bytesField(typ, v)
				if err != nil {
					return err
				}
				return decodeTensorType(&vi, v)
			})
		}
		return err
	})
	return vi, err
}

func decodeTensorType(vi *valueInfo, b []byte) error {
	return fields(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
		var err error
		switch num {
		case tensorElemType:
			vi.elemType, err = varint(typ, v)
		case tensorShape:
			if v, err = bytesField(typ, v); err != nil {
				return err
			}
			vi.hasShape = true
			err = fields(v, func(num protowire.Number, typ protowire.Type, v []byte) error {
				if num != shapeDim {
					return nil
				}
				v, err := bytesField(typ, v)
				if err != nil {
					return err
				}
				var d dim
				err = fields(v, func(num protowire.Number, typ protowire.Type, v []byte) error {
					var err error
					switch num {
					case dimValue:
						d.value, err = varint(typ, v)
					case dimParam:
						d.param, err = stringField(typ, v)
					}
					return err
				})
				vi.dims = append(vi.dims, d)
				return err
			})
		}
		return err
	})
}

// values returns the tensor's data as float64 (for attributes and small
// constant inputs such as Clip bounds and Reshape shapes).
func (t *tensorProto) values() ([]float64, error) {
	n, err := t.elems()
	if err != nil {
		return nil, err
	}
	var out []float64
	switch t.dataType {
	case dtFloat:
		fs, err := t.float32s()
		if err != nil {
			return nil, err
		}
		out = make([]float64, len(fs))
		for i, f := range fs {
			out[i] = float64(f)
		}
		return out, nil
	case dtDouble:
		out = t.doubles
		if t.raw != nil {
			if int64(len(t.raw)) != 8*n {
				return nil, fmt.Errorf("tensor %q: %d raw bytes for %d doubles", t.name, len(t.raw), n)
			}
			out = make([]float64, n)
			for i := range out {
				out[i] = math.Float64frombits(binary.LittleEndian.Uint64(t.raw[8*i:]))
			}
		}
	case dtInt64, dtInt32:
		ints := t.int64s
		if t.dataType == dtInt32 {
			ints = t.int32s
		}
		size := int64(8)
		if t.dataType == dtInt32 {
			size = 4
		}
		if t.raw != nil {
			if int64(len(t.raw)) != size*n {
				return nil, fmt.Errorf("tensor %q: %d raw bytes for %d values", t.name, len(t.raw), n)
			}
			ints = make([]int64, n)
			for i := range ints {
				if size == 8 {
					ints[i] = int64(binary.LittleEndian.Uint64(t.raw[8*i:]))
				} else {
					ints[i] = int64(int32(binary.LittleEndian.Uint32(t.raw[4*i:])))
				}
			}
		}
		out = make([]float64, len(ints))
		for i, x := range ints {
			out[i] = float64(x)
		}
	default:
		return nil, fmt.Errorf("tensor %q: data type %d is not supported", t.name, t.dataType)
	}
	if int64(len(out)) != n {
		return nil, fmt.Errorf("tensor %q: %d values for dims %v", t.name, len(out), t.dims)
	}
	return out, nil
}

// float32s returns a float tensor's data.
func (t *tensorProto) float32s() ([]float32, error) {
	n, err := t.elems()
	if err != nil {
		return nil, err
	}
	if t.dataType != dtFloat {
		return nil, fmt.Errorf("tensor %q: data type %d, want float32", t.name, t.dataType)
	}
	out := t.floats
	if t.raw != nil {
		if int64(len(t.raw)) != 4*n {
			return nil, fmt.Errorf("tensor %q: %d raw bytes for %d floats", t.name, len(t.raw), n)
		}
		out = make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.raw[4*i:]))
		}
	}
	if int64(len(out)) != n {
		return nil, fmt.Errorf("tensor %q: %d values for dims %v", t.name, len(out), t.dims)
	}
	return out, nil
}

// maxElems bounds a tensor's declared size so that a corrupt file cannot
// overflow the element count or ask for an absurd allocation.
const maxElems = 1 << 34

// elems is the number of values the tensor's dims declare.
func (t *tensorProto) elems() (int64, error) {
	if t.external {
		return 0, fmt.Errorf("tensor %q: external data is not supported", t.name)
	}
	n := int64(1)
	for _, d := range t.dims {
		if d < 0 || (d > 0 && n > maxElems/d) {
			return 0, fmt.Errorf("tensor %q: invalid dims %v", t.name, t.dims)
		}
		n *= d
	}
	return n, nil
}
