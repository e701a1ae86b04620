/*
 * TensorFlow.js peer of bench/core.ts: the same MLP, loss, optimizer and data bytes, trained
 * with `model.fit` one epoch at a time (what a tfjs user writes) on the cpu or wasm backend.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import type { Workload } from '../workloads.js';

/** Samples/s of each epoch over the first `useRows` rows. */
export async function tfjsEpochs(
  backend: 'wasm' | 'cpu',
  w: Workload,
  data: { x: Float32Array; y: Float32Array; xt?: Float32Array; yt?: Float32Array },
  epochs: number,
  useRows: number,
): Promise<{ rates: number[]; losses: number[]; detail: string; testAccuracy?: number }> {
  await tf.setBackend(backend);
  await tf.ready();
  const n = useRows;
  const x = tf.tensor2d(data.x.subarray(0, n * w.features), [n, w.features]);
  const out = w.layers[w.layers.length - 1];
  const y = w.task === 'classification'
    ? tf.oneHot(tf.tensor1d(data.y.subarray(0, n), 'int32'), out).toFloat()
    : tf.tensor2d(data.y.subarray(0, n), [n, 1]);
  const model = tf.sequential();
  w.layers.forEach((units, l) => {
    const last = l === w.layers.length - 1;
    model.add(tf.layers.dense({
      units,
      activation: last ? (w.task === 'classification' ? 'softmax' : 'linear') : 'relu',
      kernelInitializer: 'heNormal',
      ...(l === 0 ? { inputShape: [w.features] } : {}),
    }));
  });
  const o = w.optimizer;
  model.compile({
    optimizer: o.type === 'adam' ? tf.train.adam(o.learningRate) : tf.train.momentum(o.learningRate, o.momentum),
    loss: w.task === 'classification' ? 'categoricalCrossentropy' : 'meanSquaredError',
  });
  const rates: number[] = [], losses: number[] = [];
  for (let e = 0; e < epochs; e++) {
    const t0 = performance.now();
    const h = await model.fit(x, y, { batchSize: w.batch, epochs: 1, shuffle: true, verbose: 0 });
    rates.push(n / ((performance.now() - t0) / 1000));
    losses.push(Number(h.history.loss[0]));
  }
  const simd = backend === 'wasm' ? String(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) : 'n/a';
  const threads = backend === 'wasm' ? String(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')) : 'n/a';
  let testAccuracy: number | undefined;
  if (data.xt && data.yt && w.testRows) {
    const xt = tf.tensor2d(data.xt, [w.testRows, w.features]);
    const pred = tf.tidy(() => (model.predict(xt) as tf.Tensor).argMax(1));
    const classes = Array.from(await pred.data());
    testAccuracy = classes.reduce((s, c, i) => s + (c === data.yt![i] ? 1 : 0), 0) / w.testRows;
    tf.dispose([xt, pred]);
  }
  tf.dispose([x, y]);
  model.dispose();
  return { testAccuracy, rates, losses, detail: `tfjs ${tf.version.tfjs}, backend ${tf.getBackend()}, simd ${simd}, threads ${threads}` };
}
