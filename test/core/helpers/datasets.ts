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

/**
 * `n` points of two interleaved half-moons (class i % 2), seeded: angle t ~ U(0, π), class 0 on
 * (cos t, sin t), class 1 on (1 − cos t, 0.5 − sin t), each coordinate plus N(0, noise²).
 */
export function noisyMoons(n: number, noise: number, seed: number): { features: number[][]; targets: number[] } {
  const rng = createRng(seed);
  const features: number[][] = [];
  const targets: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % 2;
    const t = Math.PI * rng.next();
    const x = c ? 1 - Math.cos(t) : Math.cos(t);
    const y = c ? 0.5 - Math.sin(t) : Math.sin(t);
    features.push([x + noise * rng.normal(), y + noise * rng.normal()]);
    targets.push(c);
  }
  return { features, targets };
}
