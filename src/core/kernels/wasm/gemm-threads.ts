/*
 * Intra-job parallel matmul: helper threads (worker_threads) instantiate the same kernel module
 * on the same shared memory and each computes a band of C's rows. The main thread computes the
 * first band itself, then waits. Splitting by rows keeps every element's summation order, so the
 * results are bit-identical to one thread.
 *
 * Hand-off is a 64-byte control block per helper in wasm memory: the main thread writes the
 * arguments and bumps a sequence number; the helper spins briefly, then sleeps in Atomics.wait.
 */

/** Control block layout (int32 slots). */
const SEQ = 0;
const DONE = 1;
const ARGS = 2;
/** Set by a helper whose band threw (the main thread cannot see a worker's error event while it waits). */
const FAILED = 15;
const STOP = -1;

/** The helper's code, run with `eval: true` so it needs no file path (works under tsx and compiled). */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, ctrl, spin } = workerData;
const gemm = new WebAssembly.Instance(module, { env: { memory } }).exports.gemm;
const c = new Int32Array(memory.buffer, ctrl, 16);
let seen = 0;
for (;;) {
  let s = 0;
  while (Atomics.load(c, ${SEQ}) === seen) {
    if (++s > spin) { Atomics.wait(c, ${SEQ}, seen); s = 0; }
  }
  seen = Atomics.load(c, ${SEQ});
  if (seen === ${STOP}) break;
  try {
    gemm(c[${ARGS}], c[${ARGS + 1}], c[${ARGS + 2}], c[${ARGS + 3}], c[${ARGS + 4}], c[${ARGS + 5}], c[${ARGS + 6}],
         c[${ARGS + 7}], c[${ARGS + 8}], c[${ARGS + 9}], c[${ARGS + 10}], c[${ARGS + 11}], c[${ARGS + 12}]);
  } catch {
    Atomics.store(c, ${FAILED}, 1);
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

/** Spin iterations before a waiting thread sleeps: hand-offs come back within microseconds. */
const SPIN = 20_000;

export interface GemmPool {
  /** Helper threads (the main thread is one more). */
  readonly helpers: number;
  /** Hands band `h` (0-based helper) its 13 gemm arguments and wakes it. */
  start(h: number, args: ArrayLike<number>): void;
  /** Waits until every helper started since the last wait has finished. */
  wait(): void;
  /** Stops the helpers (they exit on their own; the process never waits for them). */
  stop(): void;
}

/**
 * Starts `helpers` threads on `memory`, with control blocks at `ctrl` (64 bytes each).
 * Returns null where worker_threads is missing.
 */
export function startGemmPool(module: object, memory: { buffer: ArrayBufferLike }, ctrl: number, helpers: number): GemmPool | null {
  const wt = workerThreads();
  if (!wt || helpers < 1) return null;
  const blocks: Int32Array[] = [];
  const workers: WorkerLike[] = [];
  const pending: number[] = new Array<number>(helpers).fill(0);
  let failed: unknown = null;
  for (let h = 0; h < helpers; h++) {
    const block = new Int32Array(memory.buffer, ctrl + 64 * h, 16);
    blocks.push(block);
    const w = new wt.Worker(WORKER_SOURCE, { eval: true, workerData: { module, memory, ctrl: ctrl + 64 * h, spin: SPIN } });
    w.on('error', (e) => (failed = e));
    w.unref();
    workers.push(w);
  }
  return {
    helpers,
    start(h, args) {
      const c = blocks[h];
      for (let i = 0; i < 13; i++) c[ARGS + i] = args[i];
      const seq = (Atomics.load(c, SEQ) % 0x3fffffff) + 1;
      pending[h] = seq;
      Atomics.store(c, SEQ, seq);
      Atomics.notify(c, SEQ);
    },
    wait() {
      for (let h = 0; h < helpers; h++) {
        const c = blocks[h];
        if (pending[h] === 0) continue;
        let s = 0;
        while (Atomics.load(c, DONE) !== pending[h]) {
          if (failed) throw failed;
          if (++s > SPIN) {
            Atomics.wait(c, DONE, Atomics.load(c, DONE), 50);
            s = 0;
          }
        }
        pending[h] = 0;
        if (Atomics.load(c, FAILED) !== 0) {
          Atomics.store(c, FAILED, 0);
          throw new Error('a gemm helper thread failed on its band of rows');
        }
      }
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
