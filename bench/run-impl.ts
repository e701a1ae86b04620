/*
 * One implementation × one workload in its own process (so peak RSS is its own), started by
 * bench/core.ts. Prints one JSON line: per-epoch samples/s, losses, peak RSS, details.
 * argv: IMPL WORKLOAD_JSON DATA_FILE EPOCHS USE_ROWS
 */
import { readFileSync } from 'node:fs';
import { predict } from '../src/core/model.js';
import { train } from '../src/core/train.js';
import { nativeKernels, type NativeIsa } from '../src/native-kernels/index.js';
import type { TrainingSpec } from '../src/core/types.js';
import { readData, type Workload } from './workloads.js';

const [impl, wJson, file, epochsArg, rowsArg] = process.argv.slice(2);
// `warm`: load the modules and exit, so tsx's transform cache is filled before measured runs
// (the first process after a source change compiles them, which would count in its peak RSS).
if (impl === 'warm') process.exit(0);
const w = JSON.parse(wJson) as Workload;
const epochs = Number(epochsArg);
const useRows = Number(rowsArg);
const data = readData(file, w);

/** `cpuRates`: samples per second of this process's CPU time (user + system, all threads), robust to other load on the machine. */
type Result = { rates: number[]; losses: number[]; detail: string; testAccuracy?: number; cpuRates?: number[] };

const cpuSeconds = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

async function ours(kernels: 'wasm' | 'js' | 'native' | NativeIsa, threads = 1): Promise<Result> {
  const spec: TrainingSpec = {
    model: {
      layers: w.layers.map((units, l) => ({
        units,
        activation: l < w.layers.length - 1 ? 'relu' : w.task === 'classification' ? 'softmax' : 'linear',
      })),
      init: 'he_normal',
    },
    loss: w.task === 'classification' ? 'softmax_cross_entropy' : 'mse',
    optimizer: w.optimizer.type === 'adam'
      ? { type: 'adam', learningRate: w.optimizer.learningRate }
      : { type: 'momentum', variant: 'classic', learningRate: w.optimizer.learningRate, momentum: w.optimizer.momentum },
    epochs,
    batchSize: w.batch,
    normalize: false, // the data are already scaled (N(0,1), or pixels / 255), as for the peers
    seed: 1,
    gradientCheck: false,
  };
  let kernelName = '';
  const cpuRates: number[] = [];
  let cpuAt = cpuSeconds();
  const res = await train(spec, {
    features: data.x.subarray(0, useRows * w.features),
    targets: data.y.subarray(0, useRows),
    rows: useRows,
    featureCount: w.features,
    targetWidth: 1,
  }, {
    ...(kernels === 'wasm' || kernels === 'js' ? { kernels, threads } : { kernelFactory: () => nativeKernels({ isa: kernels === 'native' ? undefined : kernels, threads }) }),
    // the caller's arrays are views on the file it read: train on them in place (no second copy)
    consumeData: true,
    onProgress: (p) => {
      if (p.kind !== 'epoch') return;
      const now = cpuSeconds();
      cpuRates.push(useRows / (now - cpuAt));
      if (process.env.BENCH_MEM) { const m = process.memoryUsage(); console.error(JSON.stringify({ rss: m.rss >> 20, heapTotal: m.heapTotal >> 20, heapUsed: m.heapUsed >> 20, external: m.external >> 20, ab: m.arrayBuffers >> 20 })); }
      cpuAt = now;
    },
    progressEveryMs: 1e9,
  });
  kernelName = res.kernels;
  let testAccuracy: number | undefined;
  if (data.xt && data.yt) {
    const p = predict(res.model, data.xt).predictions as number[];
    testAccuracy = p.reduce((s, c, i) => s + (c === data.yt![i] ? 1 : 0), 0) / p.length;
  }
  return {
    cpuRates,
    testAccuracy,
    rates: res.history.map((h) => h.samplesPerSecond),
    losses: res.history.map((h) => h.loss),
    detail: `kernels ${kernelName}${threads > 1 ? `, ${threads} threads` : ''}`,
  };
}

let result: Result;
if (impl === 'ours-wasm') result = await ours('wasm');
else if (impl === 'ours-wasm-2t') result = await ours('wasm', 2);
else if (impl === 'ours-js') result = await ours('js');
else if (impl === 'ours-native') result = await ours('native');
else if (impl === 'ours-native-2t') result = await ours('native', 2);
else if (impl === 'ours-native-avx2') result = await ours('avx2');
else if (impl === 'tfjs-wasm' || impl === 'tfjs-cpu') {
  const { tfjsEpochs } = await import('./peers/tfjs.js');
  result = await tfjsEpochs(impl === 'tfjs-wasm' ? 'wasm' : 'cpu', w, data, epochs, useRows);
} else throw new Error(`unknown implementation ${impl}`);

/**
 * Peak RSS of this program: the kernel's VmHWM, which starts afresh at exec. Not
 * `resourceUsage().maxRSS` (getrusage's ru_maxrss): Linux keeps that across fork + execve, so a
 * child spawned while bench/core.ts held the freshly generated data set (≈ +100 MB for W1, +240 MB
 * for Fashion-MNIST) reported the parent's peak instead of its own.
 */
function peakRssKb(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]);
  } catch { /* not Linux */ }
  return process.resourceUsage().maxRSS;
}

console.log(JSON.stringify({ ...result, maxRssKb: peakRssKb() }));
