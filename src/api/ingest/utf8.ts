import { HttpProblem } from '../problem.js';

/** Index of the first byte of `b[s, e)` that does not start a valid UTF-8 sequence, or -1. */
export function firstBadUtf8Byte(b: Uint8Array, s = 0, e = b.length): number {
  let i = s;
  while (i < e) {
    const c = b[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    const need = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : 0;
    if (need === 0 || i + need >= e) return i;
    const c1 = b[i + 1];
    // no overlong forms, no surrogates, nothing above U+10FFFF
    if ((c === 0xe0 && c1 < 0xa0) || (c === 0xed && c1 >= 0xa0) || (c === 0xf0 && c1 < 0x90) || (c === 0xf4 && c1 >= 0x90)) return i;
    for (let k = 1; k <= need; k++) if ((b[i + k] & 0xc0) !== 0x80) return i;
    i += need + 1;
  }
  return -1;
}

/** The 400 for bytes that are not UTF-8, naming the byte offset in the (decompressed) body. */
export const invalidEncoding = (offset: number, what = 'CSV') =>
  new HttpProblem(400, 'invalid_encoding', `the body is not valid UTF-8 (first bad byte at offset ${offset}); save the ${what} as UTF-8`, [
    { path: 'body', message: 'not valid UTF-8', in: 'body' },
  ]);

const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decodes `b` strictly; bad bytes → {@link invalidEncoding} at `offset` + their index. */
export function decodeUtf8(b: Uint8Array, offset: number, what?: string): string {
  try {
    return strict.decode(b);
  } catch {
    throw invalidEncoding(offset + Math.max(0, firstBadUtf8Byte(b)), what);
  }
}
