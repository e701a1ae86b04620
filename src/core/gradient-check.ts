import { readDataSet } from './data.js';
import { getKernels } from './kernels/index.js';
import type { Network } from './network.js';
import { prepare } from './prepare.js';
import { createRng } from './rng.js';
import { resolveGradientCheck, resolveSpec, validationRows } from './spec.js';
import type { DataSet, GradientCheckResult, GradientCheckSpec, LossName, TrainingSpec } from './types.js';

/** A backward pass: fills `net.dW` / `net.db` from the output delta `net.loss(…, true)` left. */
export type BackwardPass = (net: Network, m: number) => void;

/** Options of {@link gradientCheck}: the spec's `gradientCheck` fields, overridable here. */
export interface GradientCheckOptions extends GradientCheckSpec {
  /**
   * Replaces the network's backward pass. A test hook: feeding a deliberately wrong backward
   * proves the checker can fail. Default: `net.backward(m)`.
   */
  backward?: BackwardPass;
  /** Kernel backend for the float64 network. Default 'auto'. */
  kernels?: 'auto' | 'wasm' | 'js';
}

/** Floor on the relative error's denominator so two ~0 gradients do not give 0/0. */
const DENOMINATOR_FLOOR = 1e-12;

/**
 * Relative error |n − a| / max(|n|, |a|) (techniques.md §5), 0 when both are 0, with a tiny
 * floor on the denominator.
 */
export function relativeError(numeric: number, analytic: number): number {
  const d = Math.max(Math.abs(numeric), Math.abs(analytic));
  if (d === 0) return 0;
  return Math.abs(numeric - analytic) / Math.max(d, DENOMINATOR_FLOOR);
}

/**
 * Compares the analytic gradient of the mean batch loss with central differences
 * (J(θ+ε) − J(θ−ε)) / 2ε, in float64, for the network `spec` describes, initialized exactly as
 * `train` would with the same seed (the float64 draws), on the first `batchSize` rows of the
 * training split, normalized as in training. Checks every parameter when there are at most
 * `maxParams`, else a seeded sample of `maxParams` of them.
 */
export function gradientCheck(spec: TrainingSpec, data: DataSet, options: GradientCheckOptions = {}): GradientCheckResult {
  const table = readDataSet(data);
  const rs = resolveSpec({ ...spec, dtype: 'float64', gradientCheck: undefined }, table);
  const fromSpec = typeof spec.gradientCheck === 'object' && spec.gradientCheck !== null ? spec.gradientCheck : {};
  const { backward, kernels: pref, ...fields } = options;
  const gc = resolveGradientCheck({ ...fromSpec, ...dropUndefined(fields) }, 'gradientCheck');
  const nVal = validationRows(table.rows, rs.validationSplit);
  const m = Math.min(gc.batchSize, table.rows - nVal);
  const prep = prepare(rs, table, getKernels('float64', pref), m);
  const { net } = prep;
  const F = table.featureCount, TW = table.targetWidth;
  for (let i = 0; i < m * F; i++) net.X[i] = prep.X[i];
  for (let i = 0; i < m * TW; i++) net.T[i] = prep.T[i];
  return checkNetwork(net, m, rs.loss, gc, backward ?? ((n, rows) => n.backward(rows)), rs.seed);
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The check itself on a prepared float64 network whose first `m` rows of X/T hold the batch. */
export function checkNetwork(
  net: Network,
  m: number,
  loss: LossName,
  gc: Required<GradientCheckSpec>,
  backward: BackwardPass,
  seed: number,
): GradientCheckResult {
  net.forward(m);
  net.loss(loss, m, true);
  backward(net, m);
  const analytic = net.grads.map((g) => Float64Array.from(g));
  const J = (): number => {
    net.forward(m);
    return net.loss(loss, m, false) / m;
  };

  const sizes = net.params.map((p) => p.length);
  const total = sizes.reduce((a, b) => a + b, 0);
  let chosen: Uint32Array;
  if (total <= gc.maxParams) {
    chosen = new Uint32Array(total).map((_, i) => i);
  } else {
    // Seeded partial Fisher–Yates: the first maxParams of a random permutation.
    const all = new Uint32Array(total).map((_, i) => i);
    const rng = createRng(seed + 0x9e3779b9);
    for (let i = 0; i < gc.maxParams; i++) {
      const j = i + rng.int(total - i);
      const t = all[i];
      all[i] = all[j];
      all[j] = t;
    }
    chosen = all.slice(0, gc.maxParams).sort();
  }

  const layers = net.W.map((_, layer) => ({ layer, weights: 0, bias: 0 }));
  let maxErr = 0;
  let tensor = 0, base = 0;
  for (const flat of chosen) {
    while (flat >= base + sizes[tensor]) base += sizes[tensor++];
    const i = flat - base;
    const p = net.params[tensor];
    const orig = p[i];
    p[i] = orig + gc.epsilon;
    const plus = J();
    p[i] = orig - gc.epsilon;
    const minus = J();
    p[i] = orig;
    const err = relativeError((plus - minus) / (2 * gc.epsilon), analytic[tensor][i]);
    const entry = layers[tensor >> 1];
    if (tensor % 2 === 0) entry.weights = Math.max(entry.weights, err);
    else entry.bias = Math.max(entry.bias, err);
    if (!(err <= maxErr)) maxErr = err;
  }
  return {
    passed: maxErr < gc.tolerance,
    maxRelativeError: maxErr,
    tolerance: gc.tolerance,
    layers,
    checked: chosen.length,
    totalParams: total,
  };
}
