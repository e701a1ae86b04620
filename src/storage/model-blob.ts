import type { Model } from '../core/types.js';

/**
 * A trained model as one binary blob: the model JSON without its numbers, then every layer's
 * weights and bias as little-endian floats (float32 when every value survives the round trip,
 * so nothing is lost; else float64), in layer order, weights before bias.
 *
 *   bytes 0..7   magic `TSNNMDL1`
 *   bytes 8..11  uint32 LE: length J of the JSON
 *   byte  12     4 (float32) or 8 (float64)
 *   13..13+J     the JSON (layers with empty `weights` / `bias`)
 *   then zero padding to a multiple of 8, then the values.
 */
const MAGIC = Buffer.from('TSNNMDL1', 'latin1');

function fitsFloat32(a: readonly number[]): boolean {
  for (let i = 0; i < a.length; i++) if (Math.fround(a[i]) !== a[i]) return false;
  return true;
}

export function encodeModel(model: Model): Buffer {
  const width = model.layers.every((l) => fitsFloat32(l.weights) && fitsFloat32(l.bias)) ? 4 : 8;
  const skeleton = { ...model, layers: model.layers.map((l) => ({ ...l, weights: [], bias: [] })) };
  const json = Buffer.from(JSON.stringify(skeleton), 'utf8');
  const head = 13 + json.length;
  const start = Math.ceil(head / 8) * 8;
  const count = model.layers.reduce((n, l) => n + l.weights.length + l.bias.length, 0);
  const out = Buffer.alloc(start + count * width);
  MAGIC.copy(out, 0);
  out.writeUInt32LE(json.length, 8);
  out.writeUInt8(width, 12);
  json.copy(out, 13);
  const values = width === 4 ? new Float32Array(out.buffer, out.byteOffset + start, count) : new Float64Array(out.buffer, out.byteOffset + start, count);
  let at = 0;
  for (const l of model.layers) {
    values.set(l.weights, at);
    at += l.weights.length;
    values.set(l.bias, at);
    at += l.bias.length;
  }
  return out;
}

/** True when `b` starts like {@link encodeModel}'s output. */
export function isModelBlob(b: Uint8Array): boolean {
  return b.length >= 13 && Buffer.from(b.buffer, b.byteOffset, 8).equals(MAGIC);
}

export function decodeModel(b: Uint8Array): Model {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (!isModelBlob(buf)) throw new Error('not a model blob');
  const jsonLength = buf.readUInt32LE(8);
  const width = buf.readUInt8(12);
  if (width !== 4 && width !== 8) throw new Error(`model blob: bad value width ${width}`);
  const model = JSON.parse(buf.toString('utf8', 13, 13 + jsonLength)) as Model;
  const start = Math.ceil((13 + jsonLength) / 8) * 8;
  // A copy: the blob's bytes may not be aligned for a typed-array view.
  const raw = buf.buffer.slice(buf.byteOffset + start, buf.byteOffset + buf.byteLength);
  const values = width === 4 ? new Float32Array(raw) : new Float64Array(raw);
  let at = 0;
  let inputs = model.inputSize;
  for (const l of model.layers) {
    const w = inputs * l.units;
    l.weights = Array.from(values.subarray(at, at + w));
    at += w;
    l.bias = Array.from(values.subarray(at, at + l.units));
    at += l.units;
    inputs = l.units;
  }
  if (at !== values.length) throw new Error(`model blob: ${values.length} values, ${at} expected`);
  return model;
}
