import { copyRow, type Table } from './data.js';
import { initialize } from './init.js';
import type { Kernels } from './kernels/types.js';
import { Network } from './network.js';
import { columnStats, normalizeRow, type ColumnStats } from './normalize.js';
import { createRng } from './rng.js';
import { validationRows, type ResolvedSpec } from './spec.js';
import type { Buf, Rng } from './types.js';

/** Everything a run needs before its loop: the seeded network, the split and the data, once. */
export interface Prepared {
  rng: Rng;
  net: Network;
  /** All rows, normalized, training rows first (`nTrain`), then validation rows (`nVal`). */
  X: Buf;
  T: Buf;
  nTrain: number;
  nVal: number;
  /** Original row indices of the validation split, ascending. */
  valIndices: Uint32Array;
  featureStats?: ColumnStats;
  targetStats?: ColumnStats;
}

/**
 * Seeds the generator, initializes the weights (layer by layer, in that order), draws the
 * validation split, computes normalization statistics on the training split only and copies the
 * normalized dataset into one buffer of the run's dtype. The order of random draws is fixed
 * (init, then split, then one shuffle per epoch) so a run is reproducible from its seed.
 * With `consume` (TrainOptions.consumeData) and flat arrays of the run's dtype that the kernels
 * can address, the caller's arrays are reordered and normalized in place instead: same values,
 * no second copy of the dataset.
 */
export function prepare(rs: ResolvedSpec, table: Table, kernels: Kernels<Buf>, maxBatch: number, consume = false): Prepared {
  const rng = createRng(rs.seed);
  const { rows: n, featureCount: F, targetWidth: TW } = table;
  const net = new Network(kernels, F, rs.layers, maxBatch, TW);
  for (let l = 0; l < net.layerCount; l++) initialize(rs.init, net.sizes[l], net.sizes[l + 1], rng, net.W[l]);

  const nVal = validationRows(n, rs.validationSplit);
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  if (nVal > 0) rng.shuffle(order);
  const valIndices = order.slice(0, nVal).sort();
  const trainIndices = order.slice(nVal).sort();
  const nTrain = n - nVal;

  const featureStats = rs.normalizeFeatures ? columnStats(table.features, F, trainIndices) : undefined;
  const targetStats = rs.normalizeTargets ? columnStats(table.targets, TW, trainIndices) : undefined;

  const flat = rs.dtype === 'float32' ? Float32Array : Float64Array;
  const { features, targets } = table;
  if (consume && features instanceof flat && targets instanceof flat && kernels.adopt?.(features) && kernels.adopt(targets)) {
    const srcOf = new Uint32Array(n);
    for (let i = 0; i < n; i++) srcOf[i] = i < nTrain ? trainIndices[i] : valIndices[i - nTrain];
    permuteRows(features, F, srcOf, featureStats);
    permuteRows(targets, TW, srcOf, targetStats);
    return { rng, net, X: features, T: targets, nTrain, nVal, valIndices, featureStats, targetStats };
  }

  const X = kernels.alloc(n * F);
  const T = kernels.alloc(n * TW);
  const row = new Float64Array(Math.max(F, TW));
  for (let i = 0; i < n; i++) {
    const src = i < nTrain ? trainIndices[i] : valIndices[i - nTrain];
    copyRow(table.features, src, F, row, 0);
    if (featureStats) normalizeRow(row, 0, featureStats);
    for (let j = 0; j < F; j++) X[i * F + j] = row[j];
    copyRow(table.targets, src, TW, row, 0);
    if (targetStats) normalizeRow(row, 0, targetStats);
    for (let j = 0; j < TW; j++) T[i * TW + j] = row[j];
  }
  return { rng, net, X, T, nTrain, nVal, valIndices, featureStats, targetStats };
}

/**
 * In place: row i of `a` (width w) becomes the old row srcOf[i], normalized with `stats` when
 * given (through a float64 row, as the copying path does: same values bit for bit). Follows the
 * permutation's cycles with one spare row.
 */
function permuteRows(a: Buf, w: number, srcOf: Uint32Array, stats: ColumnStats | undefined): void {
  const n = srcOf.length;
  const done = new Uint8Array(n);
  const spare = a.slice(0, w);
  for (let start = 0; start < n; start++) {
    if (done[start] || srcOf[start] === start) continue;
    spare.set(a.subarray(start * w, start * w + w));
    let j = start;
    for (;;) {
      done[j] = 1;
      const k = srcOf[j];
      if (k === start) {
        a.set(spare, j * w);
        break;
      }
      a.copyWithin(j * w, k * w, k * w + w);
      j = k;
    }
  }
  if (!stats) return;
  const row = new Float64Array(w);
  for (let i = 0; i < n; i++) {
    const o = i * w;
    for (let j = 0; j < w; j++) row[j] = a[o + j];
    normalizeRow(row, 0, stats);
    for (let j = 0; j < w; j++) a[o + j] = row[j];
  }
}
