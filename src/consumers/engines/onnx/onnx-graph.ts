import onnxProto from 'onnx-proto';

/**
 * A few helpers over the onnx-proto message definitions, enough to write small graphs by hand.
 * Serialisation is deterministic (fixed field order, raw little-endian tensor data, no timestamps),
 * so regenerating a model gives the same bytes and the committed files can be checked in CI.
 */
const { onnx } = onnxProto;
export type NodeProto = InstanceType<typeof onnx.NodeProto>;
export type TensorProto = InstanceType<typeof onnx.TensorProto>;
export type ValueInfoProto = InstanceType<typeof onnx.ValueInfoProto>;

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;

/** A dimension is a fixed size or a symbolic name (dynamic at run time). */
export type Dim = number | string;

export function floatInput(name: string, dims: Dim[]): ValueInfoProto {
  return onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({
        elemType: FLOAT,
        shape: onnx.TensorShapeProto.create({
          dim: dims.map((d) => (typeof d === 'number' ? onnx.TensorShapeProto.Dimension.create({ dimValue: d }) : onnx.TensorShapeProto.Dimension.create({ dimParam: d }))),
        }),
      }),
    }),
  });
}

export function floatTensor(name: string, dims: number[], values: number[]): TensorProto {
  const data = new Float32Array(values);
  if (data.length !== dims.reduce((a, b) => a * b, 1)) throw new Error(`tensor ${name}: ${values.length} values do not fill dims ${dims.join('x')}`);
  return onnx.TensorProto.create({ name, dims, dataType: FLOAT, rawData: littleEndian(data.buffer) });
}

export function int64Tensor(name: string, dims: number[], values: number[]): TensorProto {
  const data = new BigInt64Array(values.map((v) => BigInt(v)));
  return onnx.TensorProto.create({ name, dims, dataType: INT64, rawData: littleEndian(data.buffer) });
}

type AttrValue = number | string | number[] | { floats: number[] } | { tensor: TensorProto };

export function node(opType: string, inputs: string[], outputs: string[], attrs: Record<string, AttrValue> = {}): NodeProto {
  const AT = onnx.AttributeProto.AttributeType;
  const attribute = Object.entries(attrs).map(([name, v]) => {
    if (typeof v === 'number') {
      return Number.isInteger(v) ? onnx.AttributeProto.create({ name, type: AT.INT, i: v }) : onnx.AttributeProto.create({ name, type: AT.FLOAT, f: v });
    }
    if (typeof v === 'string') return onnx.AttributeProto.create({ name, type: AT.STRING, s: new TextEncoder().encode(v) });
    if (Array.isArray(v)) return onnx.AttributeProto.create({ name, type: AT.INTS, ints: v });
    if ('floats' in v) return onnx.AttributeProto.create({ name, type: AT.FLOATS, floats: v.floats });
    return onnx.AttributeProto.create({ name, type: AT.TENSOR, t: v.tensor });
  });
  return onnx.NodeProto.create({ opType, input: inputs, output: outputs, name: outputs[0], attribute });
}

export interface GraphSpec {
  name: string;
  doc: string;
  inputs: ValueInfoProto[];
  outputs: ValueInfoProto[];
  initializers: TensorProto[];
  nodes: NodeProto[];
  opset: number;
}

export function encodeModel(g: GraphSpec): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'smq',
    producerVersion: '1',
    docString: g.doc,
    opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: g.opset })],
    graph: onnx.GraphProto.create({ name: g.name, input: g.inputs, output: g.outputs, initializer: g.initializers, node: g.nodes }),
  });
  return onnx.ModelProto.encode(model).finish();
}

function littleEndian(buf: ArrayBufferLike): Uint8Array {
  // Typed arrays use the host's byte order; ONNX raw_data is little-endian (every supported host is).
  return new Uint8Array(buf.slice(0));
}
