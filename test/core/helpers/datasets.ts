import { createRng } from '../../../src/core/rng.js';

/**
 * Two interleaved spirals (classes 0 and 1), `perClass` points each, seeded.
 * Point i of class c: radius r = t, angle θ = 3π·t + c·π with t ∈ (0.05, 1], plus N(0, noise²).
 */
export function twoSpirals(perClass: number, seed: number, noise = 0.01): { features: number[][]; targets: number[] } {
  const rng = createRng(seed);
  const features: number[][] = [];
  const targets: number[] = [];
  for (let c = 0; c < 2; c++) {
    for (let i = 0; i < perClass; i++) {
      const t = 0.05 + (0.95 * (i + 1)) / perClass;
      const a = 3 * Math.PI * t + c * Math.PI;
      features.push([t * Math.cos(a) + noise * rng.normal(), t * Math.sin(a) + noise * rng.normal()]);
      targets.push(c);
    }
  }
  return { features, targets };
}

/** n rows of `cols` standard-normal features, seeded. */
export function gaussianRows(n: number, cols: number, seed: number): number[][] {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => Array.from({ length: cols }, () => rng.normal()));
}
