import type { Rng } from './types.js';

/** The plain, structured-clone-able state of {@link createRng}'s generator. */
export interface RngState {
  kind: 'sfc32';
  /** The four 32-bit words of sfc32 (as unsigned integers). */
  a: number;
  b: number;
  c: number;
  d: number;
  /** Box–Muller produces normals in pairs; the second one waits here. */
  hasSpare: boolean;
  spare: number;
}

const TWO_32 = 4294967296;
const TWO_53 = 9007199254740992;

/** One splitmix32 output from a 32-bit counter: spreads a seed's bits over the sfc32 words. */
function splitmix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  return (z ^ (z >>> 15)) >>> 0;
}

/**
 * sfc32 (Chris Doty-Humphrey's Small Fast Counter, PractRand-clean, period ≥ 2³²), seeded
 * through splitmix32. Normals by Box–Muller with the spare normal kept in the state, so
 * `state()` / `load()` round-trip bit-exactly anywhere in the stream.
 */
class Sfc32 implements Rng {
  private a = 0;
  private b = 0;
  private c = 0;
  private d = 0;
  private hasSpare = false;
  private spare = 0;

  constructor(seed: number) {
    // Low and high 32 bits both reach the state, so seeds ≥ 2³² and negative seeds stay distinct.
    const lo = seed >>> 0;
    const hi = Math.floor(seed / TWO_32) >>> 0;
    this.a = splitmix32(lo);
    this.b = splitmix32(lo ^ 0x6a09e667);
    this.c = splitmix32(hi ^ 0xbb67ae85);
    this.d = splitmix32(hi + lo) | 1;
    // Discard the first outputs: sfc32's recommended warm-up mixes the seed words.
    for (let i = 0; i < 15; i++) this.nextUint32();
  }

  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform on [0, 1) with 53 random bits (two 32-bit outputs). */
  next(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / TWO_53;
  }

  /** Unbiased integer on [0, n) by rejection; `n` a positive integer. */
  int(n: number): number {
    if (!(n >= 1) || !Number.isInteger(n)) throw new RangeError(`rng.int(n): n must be a positive integer, got ${n}`);
    if (n > TWO_32) return Math.floor(this.next() * n);
    const limit = TWO_32 - (TWO_32 % n);
    for (;;) {
      const r = this.nextUint32();
      if (r < limit) return r % n;
    }
  }

  /** Standard normal by Box–Muller; the second value of each pair is cached in the state. */
  normal(): number {
    if (this.hasSpare) {
      this.hasSpare = false;
      return this.spare;
    }
    const u1 = 1 - this.next(); // (0, 1]: log never sees 0
    const u2 = this.next();
    const r = Math.sqrt(-2 * Math.log(u1));
    const theta = 2 * Math.PI * u2;
    this.spare = r * Math.sin(theta);
    this.hasSpare = true;
    return r * Math.cos(theta);
  }

  shuffle(a: Uint32Array | Int32Array | number[]): void {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
  }

  state(): RngState {
    return { kind: 'sfc32', a: this.a >>> 0, b: this.b >>> 0, c: this.c >>> 0, d: this.d >>> 0, hasSpare: this.hasSpare, spare: this.spare };
  }

  load(state: unknown): void {
    const s = state as Partial<RngState> | null;
    const ok =
      s !== null &&
      typeof s === 'object' &&
      s.kind === 'sfc32' &&
      [s.a, s.b, s.c, s.d].every((w) => Number.isInteger(w) && (w as number) >= 0 && (w as number) < TWO_32) &&
      typeof s.hasSpare === 'boolean' &&
      typeof s.spare === 'number';
    if (!ok) throw new TypeError('rng.load: not an sfc32 state from rng.state()');
    this.a = s.a! | 0;
    this.b = s.b! | 0;
    this.c = s.c! | 0;
    this.d = s.d! | 0;
    this.hasSpare = s.hasSpare!;
    this.spare = s.spare!;
  }
}

/**
 * A seeded generator (sfc32 seeded through splitmix32). The same seed gives the same stream on
 * every platform for `nextUint32`/`next`/`int`/`shuffle`; `normal` uses `Math.log`/`sin`/`cos`,
 * identical on one machine and engine. `seed` is any finite number; its integer part (up to
 * 2⁵³, sign included) selects the stream.
 */
export function createRng(seed: number): Rng {
  if (!Number.isFinite(seed)) throw new RangeError(`createRng: seed must be a finite number, got ${seed}`);
  return new Sfc32(Math.trunc(seed));
}
