package export

import (
	"encoding/binary"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// The ONNX protobuf messages this package writes, encoded by hand with
// protowire: fedcrypt does not vendor ONNX's generated Go code for the five
// messages it needs. Field numbers are those of onnx/onnx.proto (ONNX
// repository, commit f7546912001bc31e92a238b17068a21b373d882e); each
// constant names its message and field.
const (
	// ModelProto
	modelIRVersion     protowire.Number = 1  // int64 ir_version
	modelProducerName  protowire.Number = 2  // string producer_name
	modelProducerVers  protowire.Number = 3  // string producer_version
	modelDomain        protowire.Number = 4  // string domain
	modelDocString     protowire.Number = 6  // string doc_string
	modelGraph         protowire.Number = 7  // GraphProto graph
	modelOpsetImport   protowire.Number = 8  // repeated OperatorSetIdProto opset_import
	modelMetadataProps protowire.Number = 14 // repeated StringStringEntryProto metadata_props

	// OperatorSetIdProto
	opsetDomain  protowire.Number = 1 // string domain ("" = ai.onnx)
	opsetVersion protowire.Number = 2 // int64 version

	// StringStringEntryProto
	entryKey   protowire.Number = 1
	entryValue protowire.Number = 2

	// GraphProto
	graphNode        protowire.Number = 1  // repeated NodeProto node
	graphName        protowire.Number = 2  // string name
	graphInitializer protowire.Number = 5  // repeated TensorProto initializer
	graphDocString   protowire.Number = 10 // string doc_string
	graphInput       protowire.Number = 11 // repeated ValueInfoProto input
	graphOutput      protowire.Number = 12 // repeated ValueInfoProto output

	// NodeProto
	nodeInput     protowire.Number = 1 // repeated string input
	nodeOutput    protowire.Number = 2 // repeated string output
	nodeName      protowire.Number = 3 // string name
	nodeOpType    protowire.Number = 4 // string op_type
	nodeAttribute protowire.Number = 5 // repeated AttributeProto attribute

	// AttributeProto
	attrName protowire.Number = 1  // string name
	attrI    protowire.Number = 3  // int64 i
	attrType protowire.Number = 20 // AttributeType type (INT = 2)

	// TensorProto
	tensorDims     protowire.Number = 1 // repeated int64 dims
	tensorDataType protowire.Number = 2 // int32 data_type (DataType enum)
	tensorName     protowire.Number = 8 // string name
	tensorRawData  protowire.Number = 9 // bytes raw_data, little-endian

	// ValueInfoProto
	valueName protowire.Number = 1 // string name
	valueType protowire.Number = 2 // TypeProto type
	valueDoc  protowire.Number = 3 // string doc_string

	// TypeProto
	typeTensor protowire.Number = 1 // TypeProto.Tensor tensor_type (oneof value)
	// TypeProto.Tensor
	tensorTypeElem  protowire.Number = 1 // int32 elem_type
	tensorTypeShape protowire.Number = 2 // TensorShapeProto shape
	// TensorShapeProto
	shapeDim protowire.Number = 1 // repeated Dimension dim
	// TensorShapeProto.Dimension (oneof value)
	dimValue protowire.Number = 1 // int64 dim_value
	dimParam protowire.Number = 2 // string dim_param
)

// Enum values of onnx.proto.
const (
	dataTypeDouble = 11 // TensorProto.DataType.DOUBLE
	attrTypeInt    = 2  // AttributeProto.AttributeType.INT
)

// pb is a protobuf message being encoded.
type pb []byte

func (b pb) str(n protowire.Number, s string) pb {
	b = protowire.AppendTag(b, n, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func (b pb) bytes(n protowire.Number, v []byte) pb {
	b = protowire.AppendTag(b, n, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func (b pb) msg(n protowire.Number, m pb) pb { return b.bytes(n, m) }

func (b pb) varint(n protowire.Number, v int64) pb {
	b = protowire.AppendTag(b, n, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(v))
}

// doubleTensor encodes a DOUBLE TensorProto named name with dims and the
// values as raw_data.
func doubleTensor(name string, dims []int, v []float64) pb {
	var t pb
	for _, d := range dims {
		t = t.varint(tensorDims, int64(d))
	}
	t = t.varint(tensorDataType, dataTypeDouble)
	t = t.str(tensorName, name)
	raw := make([]byte, 0, 8*len(v))
	for _, x := range v {
		raw = binary.LittleEndian.AppendUint64(raw, math.Float64bits(x))
	}
	return t.bytes(tensorRawData, raw)
}

// node encodes a NodeProto; attrs are INT attributes, in order.
func node(op, name string, in, out []string, attrs ...intAttr) pb {
	var n pb
	for _, s := range in {
		n = n.str(nodeInput, s)
	}
	for _, s := range out {
		n = n.str(nodeOutput, s)
	}
	n = n.str(nodeName, name).str(nodeOpType, op)
	for _, a := range attrs {
		n = n.msg(nodeAttribute, pb(nil).str(attrName, a.name).varint(attrI, a.v).varint(attrType, attrTypeInt))
	}
	return n
}

type intAttr struct {
	name string
	v    int64
}

// doubleValue encodes a ValueInfoProto of a DOUBLE matrix with a symbolic
// row count (dim_param rows) and a fixed column count (dim_value cols).
func doubleValue(name, doc, rows string, cols int) pb {
	shape := pb(nil).msg(shapeDim, pb(nil).str(dimParam, rows)).msg(shapeDim, pb(nil).varint(dimValue, int64(cols)))
	tt := pb(nil).varint(tensorTypeElem, dataTypeDouble).msg(tensorTypeShape, shape)
	return pb(nil).str(valueName, name).msg(valueType, pb(nil).msg(typeTensor, tt)).str(valueDoc, doc)
}

// entry encodes a StringStringEntryProto.
func entry(k, v string) pb { return pb(nil).str(entryKey, k).str(entryValue, v) }
