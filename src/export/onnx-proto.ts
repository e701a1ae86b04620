/**
 * A minimal protobuf encoder for the few ONNX messages a dense network needs (field numbers from
 * onnx/onnx.proto3). Writing them by hand keeps a protobuf library out of the service; only
 * encoding is needed, and only these messages.
 */

/** ONNX `TensorProto.DataType` values used here. */
export const OnnxDataType = { FLOAT: 1, INT64: 7, DOUBLE: 11 } as const;
export type OnnxDataType = (typeof OnnxDataType)[keyof typeof OnnxDataType];

/** ONNX `AttributeProto.AttributeType` values used here. */
const AttributeType = { FLOAT: 1, INT: 2, STRING: 3 } as const;

export interface TensorProto {
  name: string;
  dataType: OnnxDataType;
  dims: number[];
  /** Little-endian element bytes (`raw_data`). */
  raw: Uint8Array;
}

export type AttributeValue = { float: number } | { int: number } | { string: string };
export interface NodeProto {
  opType: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  attributes?: Record<string, AttributeValue>;
}

/** A tensor input or output: element type and shape (a string is a symbolic dimension). */
export interface ValueInfoProto {
  name: string;
  elemType: OnnxDataType;
  shape: (number | string)[];
}

export interface GraphProto {
  name: string;
  nodes: NodeProto[];
  initializers: TensorProto[];
  inputs: ValueInfoProto[];
  outputs: ValueInfoProto[];
  docString?: string;
}

export interface ModelProto {
  irVersion: number;
  /** Default-domain opset version. */
  opset: number;
  producerName: string;
  producerVersion?: string;
  docString?: string;
  graph: GraphProto;
  metadata?: Record<string, string>;
}

const WIRE_VARINT = 0;
const WIRE_I32 = 5;
const WIRE_LEN = 2;

/** Growable byte buffer with the protobuf primitives. */
class Writer {
  private buf = new Uint8Array(256);
  private len = 0;

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  /** Unsigned varint of a non-negative safe integer (int64 fields never hold negatives here). */
  varint(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`varint out of range: ${v}`);
    this.ensure(10);
    while (v >= 0x80) {
      this.buf[this.len++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.len++] = v;
  }

  tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  bytes(field: number, b: Uint8Array): void {
    this.tag(field, WIRE_LEN);
    this.varint(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  string(field: number, s: string): void {
    this.bytes(field, new TextEncoder().encode(s));
  }

  int(field: number, v: number): void {
    this.tag(field, WIRE_VARINT);
    this.varint(v);
  }

  float(field: number, v: number): void {
    this.tag(field, WIRE_I32);
    this.ensure(4);
    new DataView(this.buf.buffer).setFloat32(this.len, v, true);
    this.len += 4;
  }

  message(field: number, encode: (w: Writer) => void): void {
    const inner = new Writer();
    encode(inner);
    this.bytes(field, inner.finish());
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

function tensor(w: Writer, t: TensorProto): void {
  for (const d of t.dims) w.int(1, d);
  w.int(2, t.dataType);
  w.string(8, t.name);
  w.bytes(9, t.raw);
}

function attribute(w: Writer, name: string, v: AttributeValue): void {
  w.string(1, name);
  if ('float' in v) {
    w.float(2, v.float);
    w.int(20, AttributeType.FLOAT);
  } else if ('int' in v) {
    w.int(3, v.int);
    w.int(20, AttributeType.INT);
  } else {
    w.string(4, v.string);
    w.int(20, AttributeType.STRING);
  }
}

function node(w: Writer, n: NodeProto): void {
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  if (n.name) w.string(3, n.name);
  w.string(4, n.opType);
  for (const [k, v] of Object.entries(n.attributes ?? {})) w.message(5, (a) => attribute(a, k, v));
}

function valueInfo(w: Writer, v: ValueInfoProto): void {
  w.string(1, v.name);
  // TypeProto.tensor_type (1) → TypeProto.Tensor { elem_type (1), shape (2) → TensorShapeProto { dim (1) } }
  w.message(2, (type) =>
    type.message(1, (tt) => {
      tt.int(1, v.elemType);
      tt.message(2, (shape) => {
        for (const d of v.shape) shape.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d)));
      });
    }),
  );
}

function graph(w: Writer, g: GraphProto): void {
  for (const n of g.nodes) w.message(1, (m) => node(m, n));
  w.string(2, g.name);
  for (const t of g.initializers) w.message(5, (m) => tensor(m, t));
  if (g.docString) w.string(10, g.docString);
  for (const i of g.inputs) w.message(11, (m) => valueInfo(m, i));
  for (const o of g.outputs) w.message(12, (m) => valueInfo(m, o));
}

/** Serializes an ONNX `ModelProto` (the bytes of a `.onnx` file). */
export function encodeModel(m: ModelProto): Uint8Array {
  const w = new Writer();
  w.int(1, m.irVersion);
  w.string(2, m.producerName);
  if (m.producerVersion) w.string(3, m.producerVersion);
  if (m.docString) w.string(6, m.docString);
  w.message(7, (g) => graph(g, m.graph));
  w.message(8, (o) => {
    o.string(1, '');
    o.int(2, m.opset);
  });
  for (const [key, value] of Object.entries(m.metadata ?? {}))
    w.message(14, (p) => {
      p.string(1, key);
      p.string(2, value);
    });
  return w.finish();
}

/** Little-endian bytes of `values` as float32 or float64 (ONNX `raw_data`). */
export function rawTensorData(values: ArrayLike<number>, dataType: typeof OnnxDataType.FLOAT | typeof OnnxDataType.DOUBLE): Uint8Array {
  const size = dataType === OnnxDataType.FLOAT ? 4 : 8;
  const out = new Uint8Array(values.length * size);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) {
    if (size === 4) view.setFloat32(i * 4, values[i], true);
    else view.setFloat64(i * 8, values[i], true);
  }
  return out;
}
