import type { Activation } from '../../types.js';
import type { AdamCoefficients, Kernels } from '../types.js';
import { gemmNN as jsNN, gemmNT as jsNT, gemmTN as jsTN } from '../js.js';
import { GEMM_RELAXED_WASM, GEMM_SIMD_WASM } from './gemm-module.generated.js';
import { CHUNK_COLS, startGemmPool, type GemmExport, type GemmPool } from './gemm-threads.js';

/*
 * Float32 kernels on WebAssembly SIMD. Every buffer from `alloc` is a view into this instance's
 * own WebAssembly.Memory, so a matmul is one call with byte offsets: no copy in or out.
 *
 * The memory is `shared` on purpose: growing a non-shared memory detaches every view handed out
 * before, while views on a SharedArrayBuffer stay valid across `grow` (and the same memory can
 * later be handed to worker threads).
 */

/** The slice of the WebAssembly JS API used here (the project's TypeScript libs don't declare it). */
interface WasmMemory {
  readonly buffer: ArrayBufferLike;
  grow(pages: number): number;
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  Memory: new (d: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
}

interface OpsExports {
  bias_act(m: number, n: number, z: number, b: number, a: number, act: number): void;
  relu_mask(n: number, z: number, d: number): void;
  col_sums(m: number, n: number, d: number, db: number): void;
  sum_f64(n: number, x: number): number;
  sum_sq_f64(n: number, x: number): number;
  adam(n: number, w: number, g: number, m: number, v: number, b1: number, b2: number, eps: number, lr: number, c1: number, c2: number, l2: number, shrink: number): void;
  momentum(n: number, w: number, g: number, v: number, mu: number, gain: number, wd: number, lr: number, nesterov: number): void;
  gather_rows(m: number, f: number, src: number, idx: number, dst: number): void;
}

const PAGE = 65536;
/** 4 GiB of address space: reserved, not committed, until `grow`. */
const MAX_PAGES = 65536;
/** Reading B in place beats packing it while a whole B stays in L1 (measured: W2's layers). */
const DIRECT_MAX_BYTES = 32 * 1024;

const WA = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

const decode = (b64: string): Uint8Array => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));

let compiled: { simd: object | null; relaxed: object | null } | undefined;

/** Compiles the kernel modules once per process; null where the runtime lacks the feature. */
function modules(): { simd: object | null; relaxed: object | null } {
  if (compiled) return compiled;
  const load = (b64: string): object | null => {
    if (!WA || typeof SharedArrayBuffer === 'undefined') return null;
    const bytes = decode(b64);
    try {
      return WA.validate(bytes) ? new WA.Module(bytes) : null;
    } catch {
      return null;
    }
  };
  compiled = { simd: load(GEMM_SIMD_WASM), relaxed: load(GEMM_RELAXED_WASM) };
  return compiled;
}

/** True when WebAssembly SIMD and shared memory work in this runtime. */
export function wasmAvailable(): boolean {
  return modules().simd !== null;
}

/** True when relaxed SIMD (fused multiply-add) validates (Node 20: `--experimental-wasm-relaxed-simd`). */
export function relaxedSimdAvailable(): boolean {
  return modules().relaxed !== null;
}

export interface WasmKernelOptions {
  /** Use the relaxed-SIMD FMA module when the runtime supports it. Default true. */
  relaxed?: boolean;
  /** Initial memory in bytes (grown on demand). Default 1 MiB. */
  initialBytes?: number;
  /**
   * Threads per matmul (this one plus worker_threads helpers on the same shared memory) for
   * products of at least `parallelMinFlops`. Default 1: the service already runs one job per core.
   */
  threads?: number;
  /** Smallest 2·m·n·k worth splitting across threads. Default 4,000,000 (W1's second layer, 8.4 MFLOP, still gains; W2's products stay on one thread). */
  parallelMinFlops?: number;
}

/** Kernels on WebAssembly SIMD; `dispose` drops the memory when a training run ends. */
type FusedOps = 'biasActivation' | 'activationBackward' | 'columnSums' | 'sumSquares' | 'sum' | 'adamUpdate' | 'momentumUpdate' | 'allocIndex' | 'gatherRows';

export interface WasmKernels extends Omit<Kernels<Float32Array>, FusedOps>, Required<Pick<Kernels<Float32Array>, FusedOps>> {
  /** Whether this instance runs the fused multiply-add variant. */
  readonly relaxed: boolean;
  /** Threads a big matmul is split over (1 unless `threads` was asked for and worker_threads works). */
  readonly threads: number;
  /** Bytes of wasm memory in use (buffers plus scratch). */
  bytesUsed(): number;
  /** Matmuls run in wasm and those that fell back to the reference loops (operands outside this memory). */
  stats(): { wasm: number; fallback: number };
  /** Releases the memory: later calls fall back to the reference loops. Buffers from `alloc` stay readable. */
  dispose(): void;
}

export class WasmUnavailableError extends Error {
  override name = 'WasmUnavailableError';
}

/** A fresh kernels instance with its own memory (one per training run, so runs never share buffers). */
export function wasmKernels(options: WasmKernelOptions = {}): WasmKernels {
  const mods = modules();
  const useRelaxed = options.relaxed !== false && mods.relaxed !== null;
  const mod = useRelaxed ? mods.relaxed : mods.simd;
  if (!mod || !WA) throw new WasmUnavailableError('WebAssembly SIMD with shared memory is not available in this runtime');
  const initialPages = Math.max(1, Math.ceil((options.initialBytes ?? 1 << 20) / PAGE));
  let memory: WasmMemory | null = new WA.Memory({ initial: initialPages, maximum: MAX_PAGES, shared: true });
  const exports = new WA.Instance(mod, { env: { memory } }).exports;
  const gemm = exports.gemm as GemmExport;
  const ops = exports as unknown as OpsExports;
  // The SharedArrayBuffer objects behind the views handed out (one per grow, or more).
  const own = new Set<ArrayBufferLike>();
  let top = 64; // keep address 0 unused
  const threads = Math.max(1, Math.floor(options.threads ?? 1));
  const parallelMin = options.parallelMinFlops ?? 4_000_000;
  let scratch = 0;
  let scratchK = -1;

  /** Bump-allocates `bytes` (64-byte aligned), growing the memory; -1 when it cannot grow. */
  const reserve = (bytes: number): number => {
    if (!memory) return -1;
    const start = Math.ceil(top / 64) * 64; // not `& ~63`: offsets pass 2^31 in a memory over 2 GiB
    const end = start + bytes;
    const have = memory.buffer.byteLength;
    if (end > have) {
      try {
        memory.grow(Math.ceil((end - have) / PAGE));
      } catch {
        return -1;
      }
    }
    top = end;
    return start;
  };

  /** Scratch for the 4×8 edge tile and one k×8 panel of B, one area per thread (thread t at scratch + t·stride). */
  let scratchStride = 0;
  const scratchFor = (k: number): number => {
    if (k > scratchK) {
      const kk = Math.max(k, 1024);
      const stride = (128 + 32 * kk + 63) & ~63;
      const at = reserve(stride * threads);
      if (at < 0) return -1;
      scratch = at;
      scratchK = kk;
      scratchStride = stride;
    }
    return scratch;
  };

  let pool: GemmPool | null = null;
  if (threads > 1) {
    const ctrl = reserve(64 * threads); // one block per helper and a shared one
    pool = ctrl < 0 ? null : startGemmPool(mod, memory, ctrl, threads - 1);
  }
  const poolArgs = new Float64Array(13);
  let poolScratch = 0;
  const scratchOf = (t: number): number => poolScratch + t * scratchStride;

  /** One matmul; big ones are shared with the pool's threads, chunk by chunk of columns. */
  const run = (m: number, n: number, k: number, a: number, ars: number, aps: number, b: number, bps: number, bjs: number,
    c: number, acc: number, s: number, direct: number): void => {
    if (!pool || 2 * m * n * k < parallelMin || n < 2 * CHUNK_COLS) {
      gemm(m, n, k, a, ars, aps, b, bps, bjs, c, acc, s, direct, n * 4);
      return;
    }
    poolArgs[0] = m; poolArgs[1] = n; poolArgs[2] = k; poolArgs[3] = a; poolArgs[4] = ars; poolArgs[5] = aps;
    poolArgs[6] = b; poolArgs[7] = bps; poolArgs[8] = bjs; poolArgs[9] = c; poolArgs[10] = acc; poolArgs[11] = s; poolArgs[12] = direct;
    poolScratch = s;
    pool.run(gemm, poolArgs, scratchOf);
  };

  let wasmCalls = 0;
  let fallbackCalls = 0;
  // Identity scan of a short list: cheaper per call than hashing into the Set (a few grows → a few buffers).
  const ownList: ArrayBufferLike[] = [];
  const inMemory = (x: Float32Array | Uint32Array): boolean => {
    const b = x.buffer;
    for (let i = 0; i < ownList.length; i++) if (ownList[i] === b) return memory !== null;
    return false;
  };
  const remember = (b: ArrayBufferLike): void => {
    if (!own.has(b)) {
      own.add(b);
      ownList.push(b);
    }
  };

  return {
    name: useRelaxed ? 'wasm-simd-fma-f32' : 'wasm-simd-f32',
    relaxed: useRelaxed,
    alloc(n: number): Float32Array {
      const at = reserve(n * 4);
      // Out of wasm address space: a plain array still works, through the reference loops.
      if (at < 0 || !memory) return new Float32Array(n);
      const view = new Float32Array(memory.buffer, at, n);
      // V8 may hand out a fresh SharedArrayBuffer object for the same memory: remember this one.
      remember(view.buffer);
      return view;
    },
    gemmNN(m, n, k, A, B, C, acc) {
      const s = inMemory(A) && inMemory(B) && inMemory(C) ? scratchFor(k) : -1;
      if (s < 0) {
        fallbackCalls++;
        return jsNN(m, n, k, A, B, C, acc);
      }
      wasmCalls++;
      run(m, n, k, A.byteOffset, k * 4, 4, B.byteOffset, n * 4, 4, C.byteOffset, acc ? 1 : 0, s,
        k * n * 4 <= DIRECT_MAX_BYTES ? 1 : 0);
    },
    gemmTN(m, n, k, A, B, C, acc) {
      const s = inMemory(A) && inMemory(B) && inMemory(C) ? scratchFor(k) : -1;
      if (s < 0) {
        fallbackCalls++;
        return jsTN(m, n, k, A, B, C, acc);
      }
      wasmCalls++;
      run(m, n, k, A.byteOffset, 4, m * 4, B.byteOffset, n * 4, 4, C.byteOffset, acc ? 1 : 0, s,
        k * n * 4 <= DIRECT_MAX_BYTES ? 1 : 0);
    },
    gemmNT(m, n, k, A, B, C, acc) {
      const s = inMemory(A) && inMemory(B) && inMemory(C) ? scratchFor(k) : -1;
      if (s < 0) {
        fallbackCalls++;
        return jsNT(m, n, k, A, B, C, acc);
      }
      wasmCalls++;
      run(m, n, k, A.byteOffset, k * 4, 4, B.byteOffset, 4, k * 4, C.byteOffset, acc ? 1 : 0, s, 0);
    },
    biasActivation(act: Activation, m: number, n: number, Z: Float32Array, b: Float32Array, A: Float32Array): boolean {
      if ((act !== 'relu' && act !== 'linear') || !inMemory(Z) || !inMemory(b) || !inMemory(A)) return false;
      ops.bias_act(m, n, Z.byteOffset, b.byteOffset, A.byteOffset, act === 'relu' ? 1 : 0);
      return true;
    },
    activationBackward(act: Activation, n: number, Z: Float32Array, _A: Float32Array, D: Float32Array): boolean {
      if (act === 'linear') return true;
      if (act !== 'relu' || !inMemory(Z) || !inMemory(D)) return false;
      ops.relu_mask(n, Z.byteOffset, D.byteOffset);
      return true;
    },
    columnSums(m: number, n: number, D: Float32Array, db: Float32Array): void {
      if (inMemory(D) && inMemory(db)) return ops.col_sums(m, n, D.byteOffset, db.byteOffset);
      db.fill(0, 0, n);
      for (let r = 0; r < m; r++) for (let j = 0; j < n; j++) db[j] += D[r * n + j];
    },
    sumSquares(x: Float32Array): number {
      if (inMemory(x)) return ops.sum_sq_f64(x.length, x.byteOffset);
      let s = 0;
      for (let i = 0; i < x.length; i++) s += x[i] * x[i];
      return s;
    },
    sum(x: Float32Array): number {
      if (inMemory(x)) return ops.sum_f64(x.length, x.byteOffset);
      let s = 0;
      for (let i = 0; i < x.length; i++) s += x[i];
      return s;
    },
    adamUpdate(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, c: AdamCoefficients): boolean {
      if (!inMemory(w) || !inMemory(g) || !inMemory(m) || !inMemory(v)) return false;
      ops.adam(w.length, w.byteOffset, g.byteOffset, m.byteOffset, v.byteOffset, c.beta1, c.beta2, c.epsilon, c.lr, c.c1, c.c2, c.l2, c.shrink);
      return true;
    },
    momentumUpdate(w: Float32Array, g: Float32Array, v: Float32Array, mu: number, gain: number, wd: number, lr: number, nesterov: boolean): boolean {
      if (!inMemory(w) || !inMemory(g) || !inMemory(v)) return false;
      ops.momentum(w.length, w.byteOffset, g.byteOffset, v.byteOffset, mu, gain, wd, lr, nesterov ? 1 : 0);
      return true;
    },
    allocIndex(n: number): Uint32Array {
      const at = reserve(n * 4);
      if (at < 0 || !memory) return new Uint32Array(n);
      const view = new Uint32Array(memory.buffer, at, n);
      remember(view.buffer);
      return view;
    },
    gatherRows(m: number, f: number, src: Float32Array, idx: Uint32Array, from: number, dst: Float32Array): boolean {
      if (!inMemory(src) || !inMemory(idx) || !inMemory(dst)) return false;
      ops.gather_rows(m, f, src.byteOffset, idx.byteOffset + from * 4, dst.byteOffset);
      return true;
    },
    bytesUsed: () => top,
    stats: () => ({ wasm: wasmCalls, fallback: fallbackCalls }),
    threads: pool ? pool.helpers + 1 : 1,
    dispose() {
      pool?.stop();
      pool = null;
      memory = null;
      own.clear();
      ownList.length = 0;
    },
  };
}
