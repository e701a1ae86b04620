import { describe, expect, it } from 'vitest';
import { predict, train } from '../../src/core/index.js';

const XOR = { features: [[0, 0], [0, 1], [1, 0], [1, 1]], targets: [0, 1, 1, 0] };

describe('train: XOR', () => {
  it('solves XOR with a tanh hidden layer and a sigmoid output (binary cross-entropy)', async () => {
    const r = await train(
      {
        model: { layers: [{ units: 8, activation: 'tanh' }, { units: 1, activation: 'sigmoid' }] },
        loss: 'binary_cross_entropy',
        optimizer: { type: 'adam', learningRate: 0.05 },
        epochs: 300,
        batchSize: 4,
        seed: 1,
      },
      XOR,
    );
    expect(r.accuracy).toBe(1);
    expect(r.loss).toBeLessThan(0.01);
    const p = predict(r.model, XOR.features);
    expect(p.predictions).toEqual([0, 1, 1, 0]);
  });

  it('solves XOR as 2-class softmax classification with SGD + momentum', async () => {
    const r = await train(
      {
        model: { layers: [{ units: 8, activation: 'relu' }, { units: 2, activation: 'softmax' }] },
        loss: 'softmax_cross_entropy',
        optimizer: { type: 'momentum', learningRate: 0.1, momentum: 0.9 },
        epochs: 300,
        batchSize: 2,
        seed: 3,
      },
      XOR,
    );
    expect(predict(r.model, XOR.features).predictions).toEqual([0, 1, 1, 0]);
    expect(r.model.classes).toBe(2);
  });
});
