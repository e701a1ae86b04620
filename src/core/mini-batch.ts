import type { Rng } from './types.js';

/**
 * Mini-batching (the notes' technique): each epoch visits the training rows in a new seeded
 * order, in batches of `batchSize` rows; the last batch of an epoch may be smaller and is used.
 */

/** The row order of one epoch: 0…n−1 shuffled in place by `rng` (Fisher–Yates), n = `order.length`. */
export function shuffleRows(rng: Rng, order: Uint32Array | Int32Array | number[]): void {
  for (let i = 0; i < order.length; i++) order[i] = i;
  rng.shuffle(order);
}

/** Optimizer steps of an epoch over `rows` rows in batches of `batchSize`: ⌈rows / batchSize⌉. */
export function stepsPerEpoch(rows: number, batchSize: number): number {
  return Math.ceil(rows / batchSize);
}

/** Rows of step `step` (0-based) of an epoch: positions `from` … `from + size − 1` of the shuffled order. */
export function batchAt(step: number, batchSize: number, rows: number): { from: number; size: number } {
  const from = step * batchSize;
  return { from, size: Math.min(batchSize, rows - from) };
}
