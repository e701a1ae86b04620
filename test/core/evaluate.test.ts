import { describe, expect, it } from 'vitest';
import { evaluate, type ClassificationEvaluation, type Model, type RegressionEvaluation } from '../../src/core/index.js';

/** A one-layer model with the given weights (fanIn × units, row-major) and biases. */
function model(over: Partial<Model> & Pick<Model, 'task' | 'loss' | 'inputSize'>, units: number, activation: Model['layers'][0]['activation'], weights: number[], bias: number[]): Model {
  return { format: 'tsnn-model', version: 1, dtype: 'float64', weightsHash: '', layers: [{ units, activation, weights, bias }], ...over };
}

describe('evaluate: metrics against hand-computed values', () => {
  it('classification: loss, accuracy, per-class precision/recall/F1/support, confusion matrix', () => {
    // identity weights: the logits are the inputs, so p(true class) = e^2/(e^2+2) when right, 1/(e^2+2) when wrong
    const m = model({ task: 'classification', loss: 'softmax_cross_entropy', inputSize: 3, classes: 3 }, 3, 'softmax', [1, 0, 0, 0, 1, 0, 0, 0, 1], [0, 0, 0]);
    const X = Float64Array.of(2, 0, 0, 0, 2, 0, 0, 2, 0, 0, 0, 2, 2, 0, 0);
    const Y = Float64Array.of(0, 1, 0, 2, 2); // predicted 0, 1, 1, 2, 0: rows 3 and 5 wrong
    const r = evaluate(m, X, Y, 2) as ClassificationEvaluation;
    const a = Math.log(Math.exp(2) + 2); // −log p = a − 2 when right, a when wrong: mean (3(a−2) + 2a)/5 = a − 1.2
    expect(r.rows).toBe(5);
    expect(r.loss).toBeCloseTo(a - 1.2, 12);
    expect(r.accuracy).toBe(0.6);
    expect(r.confusionMatrix).toEqual([
      [1, 1, 0],
      [0, 1, 0],
      [1, 0, 1],
    ]);
    // class 0: TP 1, predicted 2, support 2; class 1: TP 1, predicted 2, support 1; class 2: TP 1, predicted 1, support 2
    expect(r.perClass[0]).toEqual({ class: 0, precision: 0.5, recall: 0.5, f1: 0.5, support: 2 });
    expect(r.perClass[1]).toMatchObject({ class: 1, precision: 0.5, recall: 1, support: 1 });
    expect(r.perClass[1].f1).toBeCloseTo(2 / 3, 12);
    expect(r.perClass[2]).toMatchObject({ class: 2, precision: 1, recall: 0.5, support: 2 });
    expect(r.perClass[2].f1).toBeCloseTo(2 / 3, 12);
  });

  it('binary: BCE loss, accuracy, 2×2 confusion', () => {
    const m = model({ task: 'binary', loss: 'binary_cross_entropy', inputSize: 1 }, 1, 'sigmoid', [1], [0]);
    const s = (z: number) => 1 / (1 + Math.exp(-z));
    const r = evaluate(m, Float64Array.of(2, -2, 0.5), Float64Array.of(1, 1, 0)) as ClassificationEvaluation;
    expect(r.accuracy).toBeCloseTo(1 / 3, 12);
    expect(r.loss).toBeCloseTo((-Math.log(s(2)) - Math.log(s(-2)) - Math.log(1 - s(0.5))) / 3, 12);
    expect(r.confusionMatrix).toEqual([
      [0, 1],
      [1, 1],
    ]);
    expect(r.perClass[1]).toMatchObject({ precision: 0.5, recall: 0.5, support: 2 });
  });

  it('regression: mse, mae, r2; loss on normalized targets when the model normalized them', () => {
    // prediction 2x + 1 for x = 0..3, targets 1, 3, 4, 8: errors 0, 0, 1, −1
    const plain = model({ task: 'regression', loss: 'mse', inputSize: 1 }, 1, 'linear', [2], [1]);
    const X = Float64Array.of(0, 1, 2, 3);
    const Y = Float64Array.of(1, 3, 4, 8);
    const r = evaluate(plain, X, Y, 3) as RegressionEvaluation;
    expect(r).toMatchObject({ rows: 4, mse: 0.5, mae: 0.5, loss: 0.5 });
    expect(r.r2).toBeCloseTo(1 - 2 / 26, 12); // mean 4: SS_tot = 9 + 1 + 0 + 16
    // the same predictions from a model that learned normalized targets (mean 1, std 2): loss = mean((e/2)²)
    const normalized = model({ task: 'regression', loss: 'mse', inputSize: 1, normalization: { featureMean: [0], featureStd: [1], targetMean: [1], targetStd: [2] } }, 1, 'linear', [1], [0]);
    const n = evaluate(normalized, X, Y) as RegressionEvaluation;
    expect(n).toMatchObject({ mse: 0.5, mae: 0.5, loss: 0.125 });
  });
});
