import { describe, expect, it } from 'vitest';
import { encodeModel, OnnxDataType, rawTensorData } from '../../src/export/onnx-proto.js';

type Field = { field: number; wire: number; value: number | Uint8Array };

/** A protobuf wire-format reader (varint, 32-bit and length-delimited fields), independent of the encoder. */
function fields(b: Uint8Array): Field[] {
  const out: Field[] = [];
  let i = 0;
  const varint = () => {
    let v = 0, mul = 1, byte;
    do {
      byte = b[i++];
      v += (byte & 0x7f) * mul;
      mul *= 128;
    } while (byte & 0x80);
    return v;
  };
  while (i < b.length) {
    const key = varint();
    const field = Math.floor(key / 8), wire = key % 8;
    if (wire === 0) out.push({ field, wire, value: varint() });
    else if (wire === 5) {
      out.push({ field, wire, value: new DataView(b.buffer, b.byteOffset + i, 4).getFloat32(0, true) });
      i += 4;
    } else if (wire === 2) {
      const n = varint();
      out.push({ field, wire, value: b.subarray(i, i + n) });
      i += n;
    } else throw new Error(`unexpected wire type ${wire}`);
  }
  expect(i).toBe(b.length);
  return out;
}
const text = (v: Field['value']) => new TextDecoder().decode(v as Uint8Array);
const one = (fs: Field[], n: number) => fs.filter((f) => f.field === n);

describe('ONNX protobuf encoder', () => {
  const bytes = encodeModel({
    irVersion: 7,
    opset: 13,
    producerName: 'tsnn',
    metadata: { weightsHash: 'abc' },
    graph: {
      name: 'g',
      nodes: [{ opType: 'LeakyRelu', inputs: ['x'], outputs: ['y'], name: 'n', attributes: { alpha: { float: 0.25 } } }],
      initializers: [{ name: 'w', dataType: OnnxDataType.FLOAT, dims: [2, 300], raw: rawTensorData([1.5, -2], OnnxDataType.FLOAT) }],
      inputs: [{ name: 'x', elemType: OnnxDataType.FLOAT, shape: ['N', 3] }],
      outputs: [{ name: 'y', elemType: OnnxDataType.FLOAT, shape: ['N', 3] }],
    },
  });

  it('starts with ir_version as a varint (field 1) and the producer name (field 2)', () => {
    expect(Array.from(bytes.subarray(0, 8))).toEqual([0x08, 7, 0x12, 4, ...new TextEncoder().encode('tsnn')]);
  });

  it('writes the model, graph, node, attribute, tensor and value-info fields ONNX numbers them with', () => {
    const model = fields(bytes);
    const opset = fields(one(model, 8)[0].value as Uint8Array);
    expect(opset).toEqual([{ field: 1, wire: 2, value: new Uint8Array() }, { field: 2, wire: 0, value: 13 }]);
    const meta = fields(one(model, 14)[0].value as Uint8Array);
    expect([text(meta[0].value), text(meta[1].value)]).toEqual(['weightsHash', 'abc']);

    const graph = fields(one(model, 7)[0].value as Uint8Array);
    expect(text(one(graph, 2)[0].value)).toBe('g');
    const node = fields(one(graph, 1)[0].value as Uint8Array);
    expect([1, 2, 3, 4].map((n) => text(one(node, n)[0].value))).toEqual(['x', 'y', 'n', 'LeakyRelu']);
    const attr = fields(one(node, 5)[0].value as Uint8Array);
    expect(text(one(attr, 1)[0].value)).toBe('alpha');
    expect(one(attr, 2)[0]).toEqual({ field: 2, wire: 5, value: 0.25 });
    expect(one(attr, 20)[0].value).toBe(1); // AttributeType.FLOAT

    const tensor = fields(one(graph, 5)[0].value as Uint8Array);
    expect(one(tensor, 1).map((f) => f.value)).toEqual([2, 300]); // 300 needs a two-byte varint
    expect(one(tensor, 2)[0].value).toBe(OnnxDataType.FLOAT);
    expect(text(one(tensor, 8)[0].value)).toBe('w');
    const raw = one(tensor, 9)[0].value as Uint8Array;
    expect(Array.from(new Float32Array(raw.slice().buffer))).toEqual([1.5, -2]);

    const input = fields(one(graph, 11)[0].value as Uint8Array);
    expect(text(one(input, 1)[0].value)).toBe('x');
    const tensorType = fields(one(fields(one(input, 2)[0].value as Uint8Array), 1)[0].value as Uint8Array);
    expect(one(tensorType, 1)[0].value).toBe(OnnxDataType.FLOAT);
    const dims = one(fields(one(tensorType, 2)[0].value as Uint8Array), 1).map((d) => fields(d.value as Uint8Array)[0]);
    expect(dims).toEqual([{ field: 2, wire: 2, value: new TextEncoder().encode('N') }, { field: 1, wire: 0, value: 3 }]);
  });

  it('encodes float64 raw data little-endian and refuses negative varints', () => {
    expect(Array.from(rawTensorData([1], OnnxDataType.DOUBLE))).toEqual([0, 0, 0, 0, 0, 0, 0xf0, 0x3f]);
    expect(() => encodeModel({ irVersion: -1, opset: 13, producerName: 'x', graph: { name: 'g', nodes: [], initializers: [], inputs: [], outputs: [] } })).toThrow(RangeError);
  });
});
