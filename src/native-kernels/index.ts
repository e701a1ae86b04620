import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { gemmNN as jsNN, gemmNT as jsNT, gemmTN as jsTN } from '../core/kernels/js.js';
import type { AdamCoefficients, Kernels } from '../core/kernels/types.js';
import type { Activation, Buf, DType } from '../core/types.js';

/*
 * Loader of the optional native kernels (native/*.cc, built by node-gyp at `npm ci` into
 * build/Release/tsnn_kernels.node). Outside src/core on purpose: the core stays pure TypeScript
 * and receives these kernels through its kernel interface (`TrainOptions.kernelFactory`).
 *
 * Every buffer from `alloc` lives in 64-byte aligned memory owned by the addon (external
 * ArrayBuffers: a chunk per 16 MiB of small buffers, one block per big one), so a call passes
 * byte addresses, never copies. Arguments go through a Float64Array shared with the addon and
 * the functions take none: a call costs tens of nanoseconds, which matters for small layers.
 */

/** Instruction sets the addon has kernels for, fastest first. */
export type NativeIsa = 'avx512' | 'avx2';

interface Addon {
  isas(): NativeIsa[];
  args(): Float64Array;
  alloc(bytes: number): ArrayBuffer | null;
  addressOf(buffer: ArrayBufferLike): void;
  setThreads(n: number, parallelMinFlops?: number): number;
  gemm(): void;
  biasAct(): void;
  reluMask(): void;
  colSums(): void;
  sumF64(): void;
  sumSqF64(): void;
  adam(): void;
  momentum(): void;
  gatherRows(): void;
}

const ISA_ID: Record<NativeIsa, number> = { avx512: 0, avx2: 1 };
const ISA_SLOT = 31;
const CHUNK_BYTES = 16 << 20;
/** Buffers of at least this size get a block of their own. */
const OWN_BLOCK_BYTES = 4 << 20;

let loaded: { addon: Addon | null; error?: string } | undefined;

/** Where node-gyp puts the addon: the repository's build/, from src/ (tsx) or dist/src/ (compiled). */
function addonPath(): string | null {
  for (const rel of ['../../build/Release/tsnn_kernels.node', '../../../build/Release/tsnn_kernels.node']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  return null;
}

function load(): { addon: Addon | null; error?: string } {
  if (loaded) return loaded;
  const path = addonPath();
  if (!path) return (loaded = { addon: null, error: 'not built (build/Release/tsnn_kernels.node is missing: `npm run build:native`)' });
  try {
    const addon = createRequire(import.meta.url)(path) as Addon;
    if (addon.isas().length === 0) return (loaded = { addon: null, error: 'this CPU has neither AVX-512 nor AVX2 with FMA' });
    return (loaded = { addon });
  } catch (err) {
    return (loaded = { addon: null, error: `failed to load: ${err instanceof Error ? err.message : String(err)}` });
  }
}

/** ISAs the native kernels can run here (empty when the addon is not built or the CPU lacks them). */
export function nativeIsas(): NativeIsa[] {
  return load().addon?.isas() ?? [];
}

/** Why the native kernels are unavailable (undefined when they are). */
export function nativeUnavailableReason(): string | undefined {
  return load().error;
}

export class NativeUnavailableError extends Error {
  override name = 'NativeUnavailableError';
}

export interface NativeKernelOptions {
  /** Instruction set; default the fastest this CPU has. */
  isa?: NativeIsa;
  /** Threads per big product from the start (see {@link NativeKernels.setThreads}). Default 1. */
  threads?: number;
}

type FusedOps = 'biasActivation' | 'activationBackward' | 'columnSums' | 'sumSquares' | 'sum' | 'adamUpdate' | 'momentumUpdate' | 'allocIndex' | 'gatherRows' | 'adopt';

export interface NativeKernels extends Omit<Kernels<Float32Array>, FusedOps>, Required<Pick<Kernels<Float32Array>, FusedOps>> {
  readonly isa: NativeIsa;
  /**
   * Threads per big product (≥ 4 MFLOP) from the next product on: this one plus helpers of the
   * addon's pool, which spin briefly between products and sleep otherwise. The pool is the
   * process's (all instances share it). Results are bit-identical for any count.
   */
  setThreads(n: number): number;
  /** Products computed natively, and those that fell back to the reference loops (operands not addressable). */
  stats(): { native: number; fallback: number };
  /** Later calls fall back to the reference loops; buffers from `alloc` stay readable. */
  dispose(): void;
}

/** A fresh native kernels instance (one per training run). */
export function nativeKernels(options: NativeKernelOptions = {}): NativeKernels {
  const { addon, error } = load();
  if (!addon) throw new NativeUnavailableError(`native kernels unavailable: ${error}`);
  const isas = addon.isas();
  const isa = options.isa ?? isas[0];
  if (!isas.includes(isa)) throw new NativeUnavailableError(`native kernels: this CPU cannot run ${isa} (has: ${isas.join(', ') || 'none'})`);
  const a = addon.args();
  const id = ISA_ID[isa];
  if (options.threads !== undefined) addon.setThreads(options.threads);

  // Known buffers and their base addresses (identity scan: few entries, cheaper than a Map per call).
  const bufs: ArrayBufferLike[] = [];
  const bases: number[] = [];
  let disposed = false;
  let chunk: ArrayBuffer | null = null;
  let chunkBase = 0;
  let chunkTop = 0;

  const register = (buf: ArrayBufferLike, base: number): void => {
    bufs.push(buf);
    bases.push(base);
  };
  /** Byte address of x's first element, or -1 when the addon cannot address it. */
  const addr = (x: Float32Array | Uint32Array): number => {
    if (disposed) return -1;
    const b = x.buffer;
    for (let i = 0; i < bufs.length; i++) if (bufs[i] === b) return bases[i] + x.byteOffset;
    return -1;
  };
  const block = (bytes: number): { buf: ArrayBuffer; base: number } | null => {
    const buf = addon.alloc(bytes);
    if (!buf) return null;
    const base = a[0];
    register(buf, base);
    return { buf, base };
  };
  /** Byte range for n elements of 4 bytes: [buffer, offset]; null when out of memory. */
  const reserve = (n: number): [ArrayBuffer, number] | null => {
    const bytes = Math.max(4, n * 4);
    if (bytes >= OWN_BLOCK_BYTES) {
      const b = block(bytes);
      return b ? [b.buf, 0] : null;
    }
    let at = Math.ceil(chunkTop / 64) * 64;
    if (!chunk || at + bytes > CHUNK_BYTES) {
      const b = block(CHUNK_BYTES);
      if (!b) return null;
      chunk = b.buf;
      chunkBase = b.base;
      at = 0;
    }
    chunkTop = at + bytes;
    void chunkBase;
    return [chunk, at];
  };

  let nativeCalls = 0;
  let fallbackCalls = 0;
  const gemm = (m: number, n: number, k: number, A: Float32Array, ars: number, aps: number, B: Float32Array, bps: number, bjs: number, C: Float32Array, acc: boolean): boolean => {
    const pa = addr(A), pb = addr(B), pc = addr(C);
    if (pa < 0 || pb < 0 || pc < 0) {
      fallbackCalls++;
      return false;
    }
    nativeCalls++;
    a[0] = m; a[1] = n; a[2] = k; a[3] = pa; a[4] = ars; a[5] = aps; a[6] = pb; a[7] = bps; a[8] = bjs; a[9] = pc; a[10] = acc ? 1 : 0;
    a[ISA_SLOT] = id;
    addon.gemm();
    return true;
  };

  return {
    name: `native-${isa}-f32`,
    isa,
    alloc(n: number): Float32Array {
      const r = reserve(n);
      return r ? new Float32Array(r[0], r[1], n) : new Float32Array(n);
    },
    allocIndex(n: number): Uint32Array {
      const r = reserve(n);
      return r ? new Uint32Array(r[0], r[1], n) : new Uint32Array(n);
    },
    adopt(x: Buf | Uint32Array): boolean {
      if (!(x instanceof Float32Array) && !(x instanceof Uint32Array)) return false;
      if (addr(x) >= 0) return true;
      if (disposed || x.buffer instanceof SharedArrayBuffer) return false;
      a[0] = 0;
      addon.addressOf(x.buffer);
      if (!a[0]) return false;
      register(x.buffer, a[0]);
      return true;
    },
    gemmNN(m, n, k, A, B, C, acc) {
      if (!gemm(m, n, k, A, k, 1, B, n, 1, C, acc)) jsNN(m, n, k, A, B, C, acc);
    },
    gemmTN(m, n, k, A, B, C, acc) {
      if (!gemm(m, n, k, A, 1, m, B, n, 1, C, acc)) jsTN(m, n, k, A, B, C, acc);
    },
    gemmNT(m, n, k, A, B, C, acc) {
      if (!gemm(m, n, k, A, k, 1, B, 1, k, C, acc)) jsNT(m, n, k, A, B, C, acc);
    },
    biasActivation(act: Activation, m: number, n: number, Z: Float32Array, b: Float32Array, A: Float32Array): boolean {
      if (act !== 'relu' && act !== 'linear') return false;
      const z = addr(Z), bb = addr(b), aa = addr(A);
      if (z < 0 || bb < 0 || aa < 0) return false;
      a[0] = m; a[1] = n; a[2] = z; a[3] = bb; a[4] = aa; a[5] = act === 'relu' ? 1 : 0; a[ISA_SLOT] = id;
      addon.biasAct();
      return true;
    },
    activationBackward(act: Activation, n: number, Z: Float32Array, _A: Float32Array, D: Float32Array): boolean {
      if (act === 'linear') return true;
      if (act !== 'relu') return false;
      const z = addr(Z), d = addr(D);
      if (z < 0 || d < 0) return false;
      a[0] = n; a[1] = z; a[2] = d; a[ISA_SLOT] = id;
      addon.reluMask();
      return true;
    },
    columnSums(m: number, n: number, D: Float32Array, db: Float32Array): void {
      const d = addr(D), s = addr(db);
      if (d >= 0 && s >= 0) {
        a[0] = m; a[1] = n; a[2] = d; a[3] = s; a[ISA_SLOT] = id;
        addon.colSums();
        return;
      }
      db.fill(0, 0, n);
      for (let r = 0; r < m; r++) for (let j = 0; j < n; j++) db[j] += D[r * n + j];
    },
    sumSquares(x: Float32Array): number {
      const p = addr(x);
      if (p >= 0) {
        a[0] = x.length; a[1] = p; a[ISA_SLOT] = id;
        addon.sumSqF64();
        return a[0];
      }
      let s = 0;
      for (let i = 0; i < x.length; i++) s += x[i] * x[i];
      return s;
    },
    sum(x: Float32Array): number {
      const p = addr(x);
      if (p >= 0) {
        a[0] = x.length; a[1] = p; a[ISA_SLOT] = id;
        addon.sumF64();
        return a[0];
      }
      let s = 0;
      for (let i = 0; i < x.length; i++) s += x[i];
      return s;
    },
    adamUpdate(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, c: AdamCoefficients): boolean {
      const pw = addr(w), pg = addr(g), pm = addr(m), pv = addr(v);
      if (pw < 0 || pg < 0 || pm < 0 || pv < 0) return false;
      a[0] = w.length; a[1] = pw; a[2] = pg; a[3] = pm; a[4] = pv;
      a[5] = c.beta1; a[6] = c.beta2; a[7] = c.epsilon; a[8] = c.lr; a[9] = c.c1; a[10] = c.c2; a[11] = c.l2; a[12] = c.shrink;
      a[ISA_SLOT] = id;
      addon.adam();
      return true;
    },
    momentumUpdate(w: Float32Array, g: Float32Array, v: Float32Array, mu: number, gain: number, wd: number, lr: number, nesterov: boolean): boolean {
      const pw = addr(w), pg = addr(g), pv = addr(v);
      if (pw < 0 || pg < 0 || pv < 0) return false;
      a[0] = w.length; a[1] = pw; a[2] = pg; a[3] = pv; a[4] = mu; a[5] = gain; a[6] = wd; a[7] = lr; a[8] = nesterov ? 1 : 0;
      a[ISA_SLOT] = id;
      addon.momentum();
      return true;
    },
    gatherRows(m: number, f: number, src: Float32Array, idx: Uint32Array, from: number, dst: Float32Array): boolean {
      const ps = addr(src), pi = addr(idx), pd = addr(dst);
      if (ps < 0 || pi < 0 || pd < 0) return false;
      a[0] = m; a[1] = f; a[2] = ps; a[3] = pi + from * 4; a[4] = pd; a[ISA_SLOT] = id;
      addon.gatherRows();
      return true;
    },
    setThreads: (n: number) => addon.setThreads(Math.max(1, Math.floor(n))),
    stats: () => ({ native: nativeCalls, fallback: fallbackCalls }),
    dispose() {
      disposed = true;
      bufs.length = 0;
      bases.length = 0;
      chunk = null;
    },
  };
}

/** Which kernels the service trains with: `auto` = native when available, else the core's choice (wasm). */
export type KernelChoice = 'auto' | 'native' | 'wasm' | 'js';

/**
 * The kernel options of a training run for a choice (TRAINING_KERNELS): a `kernelFactory` that
 * builds native kernels for float32 (`auto`: when the addon loads; `native`: insists, and the
 * factory throws where it cannot), or the core's own `kernels` preference. `onKernels` sees the
 * instance a run got (the worker hands its thread budget to it).
 */
export function kernelOptions(
  choice: KernelChoice = 'auto',
  onKernels?: (k: NativeKernels) => void,
): { kernels?: 'auto' | 'wasm' | 'js'; kernelFactory?: (dtype: DType) => Kernels<Buf> | null } {
  if (choice === 'wasm' || choice === 'js') return { kernels: choice };
  if (choice === 'auto' && nativeIsas().length === 0) return { kernels: 'auto' };
  return {
    kernelFactory: (dtype: DType) => {
      if (dtype !== 'float32') return null;
      const k = nativeKernels();
      onKernels?.(k);
      return k as unknown as Kernels<Buf>;
    },
  };
}
