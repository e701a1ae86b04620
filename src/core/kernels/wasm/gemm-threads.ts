/*
 * Intra-job parallel matmul: helper threads (worker_threads) instantiate the same kernel module
 * on the same shared memory. A product's columns are cut into chunks (whole 8-column panels)
 * that the main thread and the helpers claim from a shared counter, so a helper that the OS
 * does not schedule just claims fewer chunks instead of holding everyone up. Every element of
 * C is computed by the same micro-kernel sequence as with one thread: results are bit-identical.
 *
 * Hand-off: a 64-byte control block per helper in wasm memory (arguments, a sequence number
 * the main thread bumps, a done mark) plus one shared block holding the chunk counter.
 */

/** Control block layout (int32 slots). */
const SEQ = 0;
const DONE = 1;
const ARGS = 2; // 13 gemm arguments (n is the whole width), then the chunk width
const CHUNK = ARGS + 13;
const STOP = -1;
/** In the shared block: next chunk to claim; a failure mark. */
const NEXT = 0;
const FAILED = 1;

/** Columns per chunk: two panels, small enough to balance, big enough that claiming is free. */
export const CHUNK_COLS = 16;

/** The helper's code, run with `eval: true` so it needs no file path (works under tsx and compiled). */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, ctrl, job, spinMs } = workerData;
const gemm = new WebAssembly.Instance(module, { env: { memory } }).exports.gemm;
const c = new Int32Array(memory.buffer, ctrl, 16);
const j = new Int32Array(memory.buffer, job, 16);
let seen = 0;
for (;;) {
  // spin for up to spinMs (the next product of a training step usually comes sooner), then sleep
  let s = 0, t0 = 0;
  while (Atomics.load(c, ${SEQ}) === seen) {
    if ((++s & 1023) === 0) {
      const now = performance.now();
      if (t0 === 0) t0 = now;
      else if (now - t0 > spinMs) { Atomics.wait(c, ${SEQ}, seen); s = 0; t0 = 0; }
    }
  }
  seen = Atomics.load(c, ${SEQ});
  if (seen === ${STOP}) break;
  const m = c[${ARGS}], n = c[${ARGS + 1}], k = c[${ARGS + 2}], a = c[${ARGS + 3}], ars = c[${ARGS + 4}], aps = c[${ARGS + 5}];
  const b = c[${ARGS + 6}], bps = c[${ARGS + 7}], bjs = c[${ARGS + 8}], cc = c[${ARGS + 9}], acc = c[${ARGS + 10}];
  const scratch = c[${ARGS + 11}], direct = c[${ARGS + 12}], chunk = c[${CHUNK}];
  try {
    for (;;) {
      const j0 = Atomics.add(j, ${NEXT}, 1) * chunk;
      if (j0 >= n) break;
      gemm(m, Math.min(chunk, n - j0), k, a, ars, aps, b + j0 * bjs, bps, bjs, cc + j0 * 4, acc, scratch, direct, n * 4);
    }
  } catch {
    Atomics.store(j, ${FAILED}, 1);
  }
  Atomics.store(c, ${DONE}, seen);
  Atomics.notify(c, ${DONE});
}
`;

interface WorkerLike {
  unref(): void;
  terminate(): Promise<number>;
  on(event: 'error', listener: (e: unknown) => void): void;
}
interface WorkerThreadsModule {
  Worker: new (src: string, opts: { eval: true; workerData: unknown }) => WorkerLike;
}

/** worker_threads without a static `node:` import, so the core stays importable anywhere. */
function workerThreads(): WorkerThreadsModule | null {
  const p = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  try {
    return (p?.getBuiltinModule?.('node:worker_threads') as WorkerThreadsModule | undefined) ?? null;
  } catch {
    return null;
  }
}

/** Spin iterations before the waiting main thread sleeps: a chunk comes back within microseconds. */
const SPIN = 20_000;
/**
 * How long an idle helper spins before it sleeps. A wake-up from Atomics.wait costs tens of
 * microseconds here, and a training step's next large product follows within ~1 ms; threads
 * are only on when the job may have the other core, so spinning there costs nobody.
 */
const HELPER_SPIN_MS = 2;

/** The gemm export: 13 arguments as in gemm-wat.ts plus C's row stride in bytes. */
export type GemmExport = (
  m: number, n: number, k: number, a: number, ars: number, aps: number, b: number, bps: number, bjs: number,
  c: number, acc: number, scratch: number, direct: number, ldc: number,
) => void;

export interface GemmPool {
  /** Helper threads (the main thread is one more). */
  readonly helpers: number;
  /**
   * Computes one product with the helpers: `args` are the 13 gemm arguments for the whole of C,
   * `scratch(t)` the scratch area of thread t (0 = main). Returns when every chunk is done.
   */
  run(gemm: GemmExport, args: ArrayLike<number>, scratch: (t: number) => number): void;
  /** Stops the helpers (they exit on their own; the process never waits for them). */
  stop(): void;
}

/**
 * Starts `helpers` threads on `memory`, with control blocks at `ctrl` (64 bytes each, plus one
 * shared block after them). Returns null where worker_threads is missing.
 */
export function startGemmPool(module: object, memory: { buffer: ArrayBufferLike }, ctrl: number, helpers: number): GemmPool | null {
  const wt = workerThreads();
  if (!wt || helpers < 1) return null;
  const blocks: Int32Array[] = [];
  const workers: WorkerLike[] = [];
  const jobAt = ctrl + 64 * helpers;
  const job = new Int32Array(memory.buffer, jobAt, 16);
  const pending: number[] = new Array<number>(helpers).fill(0);
  let failed: unknown = null;
  for (let h = 0; h < helpers; h++) {
    const block = new Int32Array(memory.buffer, ctrl + 64 * h, 16);
    blocks.push(block);
    const w = new wt.Worker(WORKER_SOURCE, { eval: true, workerData: { module, memory, ctrl: ctrl + 64 * h, job: jobAt, spinMs: HELPER_SPIN_MS } });
    w.on('error', (e) => (failed = e));
    w.unref();
    workers.push(w);
  }

  const waitAll = (): void => {
    for (let h = 0; h < helpers; h++) {
      const c = blocks[h];
      let s = 0;
      while (Atomics.load(c, DONE) !== pending[h]) {
        if (failed) throw failed;
        if (++s > SPIN) {
          Atomics.wait(c, DONE, Atomics.load(c, DONE), 50);
          s = 0;
        }
      }
    }
  };

  return {
    helpers,
    run(gemm, args, scratch) {
      const n = args[1];
      Atomics.store(job, NEXT, 0);
      for (let h = 0; h < helpers; h++) {
        const c = blocks[h];
        for (let i = 0; i < 13; i++) c[ARGS + i] = args[i];
        c[ARGS + 11] = scratch(h + 1);
        c[CHUNK] = CHUNK_COLS;
        const seq = (Atomics.load(c, SEQ) % 0x3fffffff) + 1;
        pending[h] = seq;
        Atomics.store(c, SEQ, seq);
        Atomics.notify(c, SEQ);
      }
      let error: unknown = null;
      try {
        const s0 = scratch(0);
        for (;;) {
          const j0 = Atomics.add(job, NEXT, 1) * CHUNK_COLS;
          if (j0 >= n) break;
          gemm(args[0], Math.min(CHUNK_COLS, n - j0), args[2], args[3], args[4], args[5], args[6] + j0 * args[8], args[7], args[8],
            args[9] + j0 * 4, args[10], s0, args[12], n * 4);
        }
      } catch (e) {
        error = e; // still wait: helpers may be writing into C
      }
      waitAll();
      const helperFailed = Atomics.exchange(job, FAILED, 0) !== 0;
      if (error) throw error;
      if (helperFailed) throw new Error('a gemm helper thread failed on its chunk of columns');
    },
    stop() {
      for (const c of blocks) {
        Atomics.store(c, SEQ, STOP);
        Atomics.notify(c, SEQ);
      }
      for (const w of workers) void w.terminate();
    },
  };
}
