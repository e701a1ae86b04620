import { createRng } from '../core/rng.js';
import type { ParameterSpec, SweepSubmission } from '../schemas/sweep.js';
import { SWEEP_LIMITS } from '../schemas/sweep.js';

/** One trial's parameter values, keyed by dotted path. */
export type TrialParams = Record<string, unknown>;

/** A search space that cannot be expanded; `path` names the offending field of the sweep body. */
export class SearchSpaceError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
    this.name = 'SearchSpaceError';
  }
}

function checkRange(name: string, p: ParameterSpec): void {
  if ('distribution' in p && !(p.min < p.max)) throw new SearchSpaceError(`parameters.${name}.max`, `must be greater than min (${p.min})`);
}

/**
 * The trials of a sweep, in the order they run. Grid: the product of every parameter's `values`
 * (the last parameter varies fastest), at most `maxTrials` (default and cap
 * {@link SWEEP_LIMITS}.maxTrials). Random: `maxTrials` draws from a generator seeded with `seed`,
 * so the same body gives the same trials.
 * @throws SearchSpaceError naming the field (a distribution in a grid, a grid over the cap, …).
 */
export function expandTrials(s: Pick<SweepSubmission, 'method' | 'parameters' | 'maxTrials' | 'seed'>): TrialParams[] {
  const names = Object.keys(s.parameters);
  for (const n of names) checkRange(n, s.parameters[n]);
  if (s.method === 'grid') {
    let size = 1;
    for (const n of names) {
      const p = s.parameters[n];
      if (!('values' in p)) throw new SearchSpaceError(`parameters.${n}`, `a grid takes only finite 'values'; use method 'random' for a ${p.distribution} distribution`);
      size *= p.values.length;
    }
    const cap = s.maxTrials ?? SWEEP_LIMITS.maxTrials;
    if (size > cap)
      throw new SearchSpaceError(s.maxTrials ? 'maxTrials' : 'parameters', `the grid has ${size} combinations, more than ${cap}${s.maxTrials ? ' (maxTrials)' : ` (at most ${SWEEP_LIMITS.maxTrials})`}; use fewer values or method 'random'`);
    let trials: TrialParams[] = [{}];
    for (const n of names) {
      const values = (s.parameters[n] as { values: unknown[] }).values;
      trials = trials.flatMap((t) => values.map((v) => ({ ...t, [n]: v })));
    }
    return trials;
  }
  if (s.maxTrials === undefined) throw new SearchSpaceError('maxTrials', "required for method 'random' (how many trials to sample)");
  const rng = createRng(s.seed ?? 1);
  return Array.from({ length: s.maxTrials }, () => {
    const t: TrialParams = {};
    for (const n of names) t[n] = sample(s.parameters[n], () => rng.next());
    return t;
  });
}

/** One draw of `p`; `u` returns uniform numbers in [0, 1). */
export function sample(p: ParameterSpec, u: () => number): unknown {
  if ('values' in p) return p.values[Math.min(p.values.length - 1, Math.floor(u() * p.values.length))];
  switch (p.distribution) {
    case 'uniform':
      return p.min + (p.max - p.min) * u();
    case 'log_uniform':
      return Math.exp(Math.log(p.min) + (Math.log(p.max) - Math.log(p.min)) * u());
    case 'int_uniform':
      return p.min + Math.min(p.max - p.min, Math.floor(u() * (p.max - p.min + 1)));
  }
}

/**
 * `base` with each dotted path of `params` set (array indices as numbers: `model.layers.0.units`).
 * A `null` value removes the field (e.g. `clip: null`: no clipping). Intermediate objects must
 * exist in `base`, except a missing object at the last-but-one level, which is created.
 * @throws SearchSpaceError when a path crosses a non-object or a missing array element.
 */
export function applyParams<T extends object>(base: T, params: TrialParams): T {
  const out = structuredClone(base) as Record<string, unknown>;
  for (const [path, value] of Object.entries(params)) {
    const parts = path.split('.');
    let node: Record<string, unknown> | unknown[] = out;
    for (let i = 0; i < parts.length - 1; i++) {
      const key = parts[i];
      if (Array.isArray(node) && !(Number(key) < node.length))
        throw new SearchSpaceError(`parameters.${path}`, `'${parts.slice(0, i).join('.')}' has ${node.length} elements in base; index ${key} does not exist`);
      let next = (node as Record<string, unknown>)[key];
      if (next === undefined && !Array.isArray(node)) next = (node as Record<string, unknown>)[key] = {};
      if (next === null || typeof next !== 'object')
        throw new SearchSpaceError(`parameters.${path}`, `'${parts.slice(0, i + 1).join('.')}' is not an object or array in base, so '${path}' cannot be set`);
      node = next as Record<string, unknown>;
    }
    const last = parts[parts.length - 1];
    if (Array.isArray(node) && !(Number(last) < node.length))
      throw new SearchSpaceError(`parameters.${path}`, `'${parts.slice(0, -1).join('.')}' has ${node.length} elements in base; index ${last} does not exist`);
    if (value === null && !Array.isArray(node)) delete (node as Record<string, unknown>)[last];
    else (node as Record<string, unknown>)[last] = structuredClone(value);
  }
  return out as T;
}

/**
 * Rung epochs of ASHA for trials of `epochs` epochs: minEpochs · eta^k for k = 0, 1, … below
 * `epochs` (a trial's last epoch is no rung: it simply ends).
 */
export function rungEpochs(minEpochs: number, eta: number, epochs: number): number[] {
  const rungs: number[] = [];
  for (let r = minEpochs; r < epochs; r *= eta) rungs.push(r);
  return rungs;
}
