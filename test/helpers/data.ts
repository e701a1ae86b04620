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
