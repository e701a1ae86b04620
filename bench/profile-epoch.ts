/*
 * A few epochs of W1 or W2 on our core, for `node --cpu-prof --import tsx bench/profile-epoch.ts W2 [wasm|js] [epochs]`.
 */
import { train } from '../src/core/train.js';
import { makeData, W1, W2 } from './workloads.js';

const w = process.argv[2] === 'W1' ? W1 : W2;
const kernels = (process.argv[3] ?? 'wasm') as 'wasm' | 'js';
const epochs = Number(process.argv[4] ?? 5);
const d = makeData(w);
const res = await train({
  model: { layers: w.layers.map((units, l) => ({ units, activation: l < w.layers.length - 1 ? 'relu' : w.task === 'classification' ? 'softmax' : 'linear' })), init: 'he_normal' },
  loss: w.task === 'classification' ? 'softmax_cross_entropy' : 'mse',
  optimizer: w.optimizer.type === 'adam' ? { type: 'adam', learningRate: 1e-3 } : { type: 'momentum', variant: 'classic', learningRate: 0.01, momentum: 0.9 },
  epochs, batchSize: Number(process.env.BATCH ?? w.batch), normalize: false, seed: 1, gradientCheck: false,
}, { features: d.x, targets: d.y, rows: w.rows, featureCount: w.features, targetWidth: 1 }, { kernels });
console.log(res.history.map((h) => Math.round(h.samplesPerSecond)).join(' '), 'samples/s per epoch');
