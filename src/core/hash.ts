import type { Buf } from './types.js';

/**
 * FNV-1a 64-bit over the bytes of the tensors, in order, as 16 hex digits. Pure (no node:
 * modules); the 64-bit state is kept as four 16-bit limbs so the multiply stays exact in doubles.
 * The bytes are the tensors' in-memory (little-endian) representation, so Float32 and Float64
 * weights of the same values hash differently.
 */
export function hashTensors(tensors: readonly Buf[]): string {
  // Offset basis 0xcbf29ce484222325, low limb first.
  let h0 = 0x2325, h1 = 0x8422, h2 = 0x9ce4, h3 = 0xcbf2;
  for (const t of tensors) {
    const bytes = new Uint8Array(t.buffer, t.byteOffset, t.byteLength);
    for (let i = 0; i < bytes.length; i++) {
      h0 ^= bytes[i];
      // h *= 0x100000001b3 = h·0x1b3 + (h << 40), mod 2^64.
      const t0 = h0 * 0x1b3;
      const t1 = h1 * 0x1b3 + (t0 >>> 16);
      const t2 = h2 * 0x1b3 + (h0 << 8) + (t1 >>> 16);
      const t3 = h3 * 0x1b3 + (h1 << 8) + (t2 >>> 16);
      h0 = t0 & 0xffff;
      h1 = t1 & 0xffff;
      h2 = t2 & 0xffff;
      h3 = t3 & 0xffff;
    }
  }
  return hex4(h3) + hex4(h2) + hex4(h1) + hex4(h0);
}

function hex4(x: number): string {
  return x.toString(16).padStart(4, '0');
}
