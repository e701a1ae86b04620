import { describe, expect, it } from 'vitest';
import { hashTensors } from '../../src/core/hash.js';

/** FNV-1a 64 with BigInt, straight from the definition. */
function reference(bytes: Uint8Array): string {
  let h = 0xcbf29ce484222325n;
  for (const b of bytes) h = ((h ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return h.toString(16).padStart(16, '0');
}

describe('hashTensors (FNV-1a 64)', () => {
  it('gives the published FNV-1a 64 test vectors', () => {
    // "a" → af63dc4c8601ec8c, "" → the offset basis (from the FNV reference test suite).
    const a = new Float32Array(new Uint8Array([0x61, 0, 0, 0]).buffer).subarray(0, 1);
    expect(reference(new Uint8Array([0x61]))).toBe('af63dc4c8601ec8c');
    expect(hashTensors([])).toBe('cbf29ce484222325');
    expect(hashTensors([a])).toBe(reference(new Uint8Array(a.buffer)));
  });
  it('matches a BigInt implementation over float32 and float64 tensors, in order', () => {
    const x = new Float32Array(257).map((_, i) => Math.sin(i) * 1e3);
    const y = new Float64Array(100).map((_, i) => Math.cos(i) / (i + 1));
    const bytes = new Uint8Array(x.byteLength + y.byteLength);
    bytes.set(new Uint8Array(x.buffer), 0);
    bytes.set(new Uint8Array(y.buffer), x.byteLength);
    expect(hashTensors([x, y])).toBe(reference(bytes));
    expect(hashTensors([y, x])).not.toBe(hashTensors([x, y]));
  });
  it('hashes a view (subarray) over its own bytes only', () => {
    const big = new Float64Array([1, 2, 3, 4]);
    expect(hashTensors([big.subarray(1, 3)])).toBe(hashTensors([new Float64Array([2, 3])]));
  });
  it('changes when one bit of one weight changes', () => {
    const w = new Float32Array([0.5, 0.25]);
    const h = hashTensors([w]);
    w[1] = Math.fround(0.25 + 2 ** -25);
    expect(hashTensors([w])).not.toBe(h);
  });
});
