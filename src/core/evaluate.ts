import { predict } from './model.js';
import type { Buf, Model, Prediction } from './types.js';

/** Precision, recall and F1 of one class (0 where the denominator is 0, as scikit-learn's zero_division=0). */
export interface ClassMetrics {
  class: number;
  precision: number;
  recall: number;
  f1: number;
  /** Rows whose true class this is. */
  support: number;
}

/** Classification (and binary) metrics. */
export interface ClassificationEvaluation {
  rows: number;
  /** Mean cross-entropy, as training reports it (softmax CE, or BCE averaged over outputs). */
  loss: number;
  /** Share of rows (binary: of outputs) predicted right. */
  accuracy: number;
  perClass: ClassMetrics[];
  /** `confusionMatrix[true][predicted]` counts (binary: classes 0 and 1, all outputs together). */
  confusionMatrix: number[][];
}

/** Regression metrics, averaged over outputs. */
export interface RegressionEvaluation {
  rows: number;
  /** Mean squared error as training reports it: on normalized targets when the model normalized them, else equal to `mse`. */
  loss: number;
  mse: number;
  mae: number;
  /** 1 − SS_res / SS_tot per output, averaged; an output with constant targets counts 1 if predicted exactly, else 0. */
  r2: number;
}

export type Evaluation = ClassificationEvaluation | RegressionEvaluation;

/** −log p, with p floored at the smallest double so a confident miss stays finite. */
const nll = (p: number) => -Math.log(Math.max(p, Number.MIN_VALUE));

/**
 * Accumulates the metrics of a model over batches of predictions and their true targets
 * (`targetWidth` values per row: the class index for classification). Feed it with
 * {@link Evaluator.add}; read {@link Evaluator.result} at the end.
 */
export class Evaluator {
  private rows = 0;
  private lossSum = 0;
  private correct = 0;
  private counted = 0;
  private readonly confusion: number[][] = [];
  // regression, per output: Welford mean/M2 of the targets, squared and absolute errors
  private readonly mean: number[] = [];
  private readonly m2: number[] = [];
  private readonly sse: number[] = [];
  private readonly sae: number[] = [];
  private readonly outputs: number;

  constructor(private readonly model: Model) {
    this.outputs = model.layers[model.layers.length - 1].units;
    const k = model.task === 'classification' ? model.classes! : model.task === 'binary' ? 2 : 0;
    for (let i = 0; i < k; i++) this.confusion.push(new Array<number>(k).fill(0));
    if (model.task === 'regression') for (let j = 0; j < this.outputs; j++) this.mean.push(0), this.m2.push(0), this.sse.push(0), this.sae.push(0);
  }

  /** Adds `rows` predictions (from the core's `predict`) and their targets, row-major. */
  add(pred: Prediction, targets: ArrayLike<number>, rows: number): void {
    const { task } = this.model;
    const out = this.outputs;
    if (task === 'classification') {
      const classes = pred.predictions as number[];
      for (let r = 0; r < rows; r++) {
        const y = targets[r];
        this.lossSum += nll(pred.probabilities![r][y]);
        this.confusion[y][classes[r]]++;
        if (classes[r] === y) this.correct++;
      }
      this.counted += rows;
    } else if (task === 'binary') {
      for (let r = 0; r < rows; r++) {
        const p = pred.probabilities![r];
        let rowLoss = 0;
        for (let j = 0; j < out; j++) {
          const y = targets[r * out + j];
          const hat = p[j] >= 0.5 ? 1 : 0;
          rowLoss += y === 1 ? nll(p[j]) : nll(1 - p[j]);
          this.confusion[y][hat]++;
          if (hat === y) this.correct++;
        }
        this.lossSum += rowLoss / out;
      }
      this.counted += rows * out;
    } else {
      const values = pred.predictions;
      const std = this.model.normalization?.targetStd;
      for (let r = 0; r < rows; r++) {
        const row = values[r];
        let rowLoss = 0;
        const n = this.rows + r + 1;
        for (let j = 0; j < out; j++) {
          const y = targets[r * out + j];
          const hat = typeof row === 'number' ? row : row[j];
          const e = hat - y;
          this.sse[j] += e * e;
          this.sae[j] += Math.abs(e);
          const scaled = std ? e / std[j] : e;
          rowLoss += scaled * scaled;
          const d = y - this.mean[j];
          this.mean[j] += d / n;
          this.m2[j] += d * (y - this.mean[j]);
        }
        this.lossSum += rowLoss / out;
      }
    }
    this.rows += rows;
  }

  result(): Evaluation {
    const n = this.rows;
    if (this.model.task !== 'regression') {
      const k = this.confusion.length;
      const perClass: ClassMetrics[] = [];
      for (let c = 0; c < k; c++) {
        const tp = this.confusion[c][c];
        let predicted = 0;
        let support = 0;
        for (let i = 0; i < k; i++) {
          predicted += this.confusion[i][c];
          support += this.confusion[c][i];
        }
        const precision = predicted ? tp / predicted : 0;
        const recall = support ? tp / support : 0;
        const sum = precision + recall;
        perClass.push({ class: c, precision, recall, f1: sum ? (2 * precision * recall) / sum : 0, support });
      }
      return { rows: n, loss: n ? this.lossSum / n : 0, accuracy: this.counted ? this.correct / this.counted : 0, perClass, confusionMatrix: this.confusion.map((r) => [...r]) };
    }
    const out = this.outputs;
    let mse = 0;
    let mae = 0;
    let r2 = 0;
    for (let j = 0; j < out; j++) {
      mse += this.sse[j] / n / out;
      mae += this.sae[j] / n / out;
      r2 += (this.m2[j] > 0 ? 1 - this.sse[j] / this.m2[j] : this.sse[j] === 0 ? 1 : 0) / out;
    }
    return { rows: n, loss: n ? this.lossSum / n : 0, mse, mae, r2 };
  }
}

/**
 * The metrics of `model` on rows of `features` (row-major, `inputSize` columns) against
 * `targets` (class indices for classification, `outputs` values per row otherwise), predicting
 * `batchRows` rows at a time.
 */
export function evaluate(model: Model, features: Buf, targets: Buf, batchRows = 1024): Evaluation {
  const ev = new Evaluator(model);
  const F = model.inputSize;
  const rows = features.length / F;
  const width = model.task === 'classification' ? 1 : model.layers[model.layers.length - 1].units;
  for (let s = 0; s < rows; s += batchRows) {
    const m = Math.min(batchRows, rows - s);
    ev.add(predict(model, features.subarray(s * F, (s + m) * F)), targets.subarray(s * width, (s + m) * width), m);
  }
  return ev.result();
}
