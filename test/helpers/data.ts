import { createRng } from '../../src/core/rng.js';
/** Two interleaved half-moons with label noise-free classes 0/1, from a seeded Park–Miller generator. */
export function moons(n: number, seed = 7): number[][] {
  let s = seed;
  const rnd = () => (s = (s * 16807) % 2147483647) / 2147483647;
  const rows: number[][] = [];
  for (let i = 0; i < n; i++) {
    const c = i % 2;
    const t = Math.PI * rnd();
    rows.push([c ? 1 - Math.cos(t) : Math.cos(t), (c ? 0.5 - Math.sin(t) : Math.sin(t)) + 0.1 * (rnd() - 0.5), c]);
  }
  return rows;
}

export const toCsv = (header: string[], rows: number[][], eol = '\r\n') => header.join(',') + eol + rows.map((r) => r.join(',')).join(eol) + eol;

/** A classifier spec for `moons` with `epochs` epochs. */
export const moonsSpec = (datasetId: string, epochs = 40) => ({
  datasetId,
  model: { layers: [{ units: 16, activation: 'tanh' as const }, { units: 2, activation: 'softmax' as const }], init: 'xavier_normal' as const },
  loss: 'softmax_cross_entropy' as const,
  optimizer: { type: 'adam' as const, learningRate: 0.01 },
  epochs,
  batchSize: 16,
  normalize: true,
  seed: 3,
});

/**
 * Friedman #1 regression (Friedman 1991, a standard benchmark): 10 features U(0, 1), of which 5
 * matter, y = 10 sin(π x1 x2) + 20 (x3 − 0.5)² + 10 x4 + 5 x5 + N(0, 1). Seeded.
 */
export function friedman1(n: number, seed = 1): { features: number[][]; targets: number[] } {
  const rng = createRng(seed);
  const features: number[][] = [];
  const targets: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = Array.from({ length: 10 }, () => rng.next());
    features.push(x);
    targets.push(10 * Math.sin(Math.PI * x[0] * x[1]) + 20 * (x[2] - 0.5) ** 2 + 10 * x[3] + 5 * x[4] + rng.normal());
  }
  return { features, targets };
}
