/**
 * Public types of the training core. The field names are the same ones the HTTP API uses:
 * a `TrainingSpec` here is the body of `POST /v1/jobs` minus `datasetId`.
 * This file imports only types (the optimizers' field tables, the kernel interface); `src/core`
 * imports nothing outside `src/core`.
 */
import type { Kernels } from './kernels/types.js';
import type { OPTIMIZER_FIELDS } from './optimizers/registry.js';
import type { CLIP_FIELDS } from './clip.js';
import type { SCHEDULE_FIELDS } from './schedules.js';
import type { FieldValues } from './spec-fields.js';

// Every enumeration of the spec is declared once, here, as an `as const` array; its type is
// derived from the array. The API's zod schemas, `GET /v1/spec/options`, the CLI and the
// dashboard all read these arrays.

/** Element types the core trains in. */
export const DTYPES = ['float32', 'float64'] as const;
/** Element type of every buffer the core trains on. */
export type DType = (typeof DTYPES)[number];
/** A buffer of the chosen dtype. */
export type Buf = Float32Array | Float64Array;

export const ACTIVATIONS = ['relu', 'leaky_relu', 'tanh', 'sigmoid', 'linear', 'softmax'] as const;
export type Activation = (typeof ACTIVATIONS)[number];

export const LOSSES = ['mse', 'binary_cross_entropy', 'softmax_cross_entropy'] as const;
export type LossName = (typeof LOSSES)[number];

export const INITS = ['lecun_normal', 'lecun_uniform', 'he_normal', 'he_uniform', 'xavier_normal', 'xavier_uniform'] as const;
export type InitName = (typeof INITS)[number];

export interface LayerSpec {
  /** Number of units (outputs) of this dense layer. */
  units: number;
  /** Activation applied after `x·W + b`. `softmax` is allowed on the output layer only. */
  activation: Activation;
}

export interface ModelSpec {
  /** Dense layers, input to output. The input width comes from the data. */
  layers: LayerSpec[];
  /** Weight initialization; biases always start at 0. Default `he_normal` when the first layer is ReLU-like, else `xavier_normal`. */
  init?: InitName;
}

export const OPTIMIZERS = ['sgd', 'momentum', 'rmsprop', 'adam', 'adamw'] as const;
export type OptimizerType = (typeof OPTIMIZERS)[number];

/** `momentum` optimizer variants. */
export const MOMENTUM_VARIANTS = ['classic', 'ema'] as const;
export type MomentumVariant = (typeof MOMENTUM_VARIANTS)[number];

/** The fields of every optimizer's own table (`src/core/optimizers/<name>.ts`), merged. */
type AnyOptimizerFields = UnionToIntersection<{ [T in OptimizerType]: FieldValues<(typeof OPTIMIZER_FIELDS)[T]> }[OptimizerType]>;
type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;

/**
 * An optimizer: its `type` and the parameters of that type. The parameters are declared once,
 * with their defaults and ranges, in each optimizer's file (`ADAM_FIELDS`, …; see
 * `OPTIMIZER_FIELDS`); this type is derived from them.
 */
export type OptimizerSpec = { type: OptimizerType } & { [K in keyof AnyOptimizerFields]?: AnyOptimizerFields[K] };

export const SCHEDULES = ['constant', 'inverse_time', 'inverse_sqrt', 'exponential', 'step'] as const;
export type ScheduleType = (typeof SCHEDULES)[number];

/**
 * Learning-rate schedule (`epoch` starts at 0): its `type` and the parameters of that type,
 * declared with their ranges in `SCHEDULE_FIELDS` (src/core/schedules.ts); this type is derived from them.
 */
export type ScheduleSpec = { type: ScheduleType } & { [K in keyof AnyScheduleFields]?: AnyScheduleFields[K] };
type AnyScheduleFields = UnionToIntersection<{ [T in ScheduleType]: FieldValues<(typeof SCHEDULE_FIELDS)[T]> }[ScheduleType]>;

export const CLIP_TYPES = ['value', 'norm', 'global_norm'] as const;
export type ClipType = (typeof CLIP_TYPES)[number];
/** Gradient clipping: its `type` and that type's threshold, declared in `CLIP_FIELDS` (src/core/clip.ts). */
export type ClipSpec = { type: ClipType } & { [K in keyof AnyClipFields]?: AnyClipFields[K] };
type AnyClipFields = UnionToIntersection<{ [T in ClipType]: FieldValues<(typeof CLIP_FIELDS)[T]> }[ClipType]>;

export interface EarlyStoppingSpec {
  /** Epochs without an improvement of the monitored loss (validation loss if any, else training loss) before stopping. */
  patience: number;
  /** Smallest decrease that counts as an improvement. Default 0. */
  minDelta?: number;
  /** Restore the weights of the best epoch when stopping. Default true. */
  restoreBest?: boolean;
}

export interface GradientCheckSpec {
  /** Finite-difference step. Default 1e-5. */
  epsilon?: number;
  /** Rows used for the check. Default 8. */
  batchSize?: number;
  /** Parameters checked at most (a seeded sample when the net is bigger). Default 2000. */
  maxParams?: number;
  /** Max relative error that passes. Default 1e-4 (ReLU kinks); 1e-7 is "exact". */
  tolerance?: number;
}

export interface TrainingSpec {
  model: ModelSpec;
  loss: LossName;
  optimizer: OptimizerSpec;
  schedule?: ScheduleSpec;
  clip?: ClipSpec;
  epochs: number;
  /** Mini-batch size, 1 ≤ batchSize; a value ≥ rows is full-batch gradient descent. */
  batchSize: number;
  /** z-score the features (train split stats) and, for `mse`, optionally the targets. Default true. */
  normalize?: boolean | { features?: boolean; targets?: boolean };
  /** Fraction of rows held out for validation (seeded), 0 ≤ v < 1. Default 0. */
  validationSplit?: number;
  /** Seed of every random choice (init, split, shuffles). Default 0. */
  seed?: number;
  earlyStopping?: EarlyStoppingSpec;
  /**
   * The run diverges (`DivergenceError`, `what: 'loss'`) when an epoch's mean training loss
   * exceeds `maxLossGrowth × max(L0, 1)`, L0 being the mean training loss at init. Default 100, > 1.
   */
  maxLossGrowth?: number;
  /** Run a gradient check before training (true for the defaults). */
  gradientCheck?: boolean | GradientCheckSpec;
  /** Default `float32`. */
  dtype?: DType;
}

/**
 * Training data, row-major. For classification with `softmax_cross_entropy`, `targets` holds
 * one class index per row (`targetWidth` 1) that the core one-hot encodes; for
 * `binary_cross_entropy` 0/1 per output; for `mse` `targetWidth` real values per row.
 */
export interface DataSet {
  features: Buf | number[][];
  targets: Buf | number[] | number[][];
  /** Required when `features` is a flat buffer. */
  rows?: number;
  featureCount?: number;
  targetWidth?: number;
  /** Names of the feature columns, in order (e.g. a CSV header without the target); kept in the model. */
  featureNames?: string[];
}

/** Per-epoch record; also one row of `/metrics`. */
export interface EpochMetrics {
  epoch: number;
  loss: number;
  smoothedLoss: number;
  valLoss?: number;
  accuracy?: number;
  valAccuracy?: number;
  lr: number;
  /** Mean over the epoch's steps of the pre-clip global gradient L2 norm (progress events carry the last step's, `gradNorm`). */
  gradNormMean: number;
  /** Steps so far, this epoch's included (a running total over the run), in which clipping changed the gradient. */
  clippedSteps: number;
  durationMs: number;
  samplesPerSecond: number;
}

/** What `onProgress` receives. `kind: 'epoch'` at the end of each epoch, `'step'` within. */
export interface Progress {
  kind: 'step' | 'epoch';
  /** Epoch index, starting at 0. */
  epoch: number;
  epochs: number;
  /** Step within the epoch, 1-based (after the step ran). */
  step: number;
  stepsPerEpoch: number;
  /** Optimizer steps since the start of training. */
  globalStep: number;
  samplesSeen: number;
  /** Mean loss of the batches of this epoch so far (sample-weighted). */
  loss: number;
  /** Bias-corrected EWMA of the batch loss. */
  smoothedLoss: number;
  valLoss?: number;
  accuracy?: number;
  valAccuracy?: number;
  lr: number;
  /** Pre-clip global gradient L2 norm of the last step. */
  gradNorm: number;
  /** Pre-clip gradient L2 norm per layer (weights and bias together) of the last step. */
  layerGradNorms: number[];
  /** Steps so far (a running total over the run) in which clipping changed the gradient. */
  clippedSteps: number;
  samplesPerSecond: number;
}

export interface GradientCheckResult {
  passed: boolean;
  maxRelativeError: number;
  tolerance: number;
  /** Max relative error per layer: weights and biases. */
  layers: { layer: number; weights: number; bias: number }[];
  checked: number;
  totalParams: number;
}

export interface NormalizationStats {
  featureMean: number[];
  featureStd: number[];
  targetMean?: number[];
  targetStd?: number[];
}

export type Task = 'classification' | 'binary' | 'regression';

/** The portable, versioned JSON form of a trained network. */
export interface Model {
  format: 'tsnn-model';
  version: 1;
  task: Task;
  inputSize: number;
  /** Number of classes (`classification`) ; absent otherwise. */
  classes?: number;
  loss: LossName;
  dtype: DType;
  layers: { units: number; activation: Activation; weights: number[]; bias: number[] }[];
  /** `weights` is row-major `[fanIn][units]`. */
  normalization?: NormalizationStats;
  /** Hex hash of the final weights, same as `TrainResult.weightsHash`. */
  weightsHash: string;
  /**
   * Names of the input columns in order (from `DataSet.featureNames`), so a client can pick them
   * out of a CSV by name. Absent in models trained without names (and in models stored before).
   */
  featureNames?: string[];
}

export interface Prediction {
  /** Class index (classification), 0/1 per output (binary), or the values (regression). */
  predictions: number[] | number[][];
  /** Class probabilities (classification), or sigmoid outputs (binary). */
  probabilities?: number[][];
}

/**
 * Everything needed to continue training exactly where it stopped. Plain data with typed
 * arrays: serialize with `v8.serialize` (or any structured-clone codec).
 */
export interface Checkpoint {
  version: 1;
  /** Epoch to run next (0-based) and, for a mid-epoch checkpoint, the step already done within it. */
  epoch: number;
  step: number;
  globalStep: number;
  /** Opaque core state (weights, optimizer state with step count, RNG state, EWMA, early stopping, history...). */
  state: unknown;
  history: EpochMetrics[];
}

export interface TrainResult {
  model: Model;
  history: EpochMetrics[];
  loss: number;
  valLoss?: number;
  accuracy?: number;
  valAccuracy?: number;
  epochsRun: number;
  stoppedEarly: boolean;
  gradientCheck?: GradientCheckResult;
  weightsHash: string;
  durationMs: number;
  samplesPerSecond: number;
  /** Steps of the whole run in which clipping changed the gradient. */
  clippedSteps: number;
  /** The kernel backend that ran (`Kernels.name`, e.g. `native-avx512-f32`, `wasm-simd-fma-f32`, `js-f64`). */
  kernels: string;
}

export interface TrainOptions {
  /** Called at every epoch end and at most every `progressEverySteps` steps / `progressEveryMs` ms within an epoch. Awaited when it returns a promise. */
  onProgress?: (p: Progress) => void | Promise<void>;
  progressEverySteps?: number;
  progressEveryMs?: number;
  /** Stops training between batches; `train` rejects with `TrainingAbortedError` carrying the last checkpoint. */
  signal?: AbortSignal;
  /** Resume from this checkpoint. */
  resumeFrom?: Checkpoint;
  /** Called with a checkpoint at every epoch boundary (and within epochs every `checkpointEveryMs`, if set). Awaited. */
  onCheckpoint?: (c: Checkpoint) => void | Promise<void>;
  checkpointEveryMs?: number;
  /** Yield to the event loop at least this often (ms) so timers/sockets/AbortSignal get a turn. Default 50. */
  yieldEveryMs?: number;
  /** Kernel implementation: 'auto' (fast when available), 'wasm', 'js'. Default 'auto'. */
  kernels?: 'auto' | 'wasm' | 'js';
  /**
   * Threads per big matrix product with the wasm kernels (worker_threads on shared memory;
   * results are bit-identical to 1). Default 1: turn it up only when the job has idle cores of
   * its own (not in a service that already runs one job per core).
   */
  threads?: number;
  /**
   * Kernels from outside the core (e.g. the native addon, src/native-kernels): called once per
   * run with its dtype; its result is used instead of `kernels`/`threads` unless it returns null.
   * `dispose()` is called when the run ends.
   */
  kernelFactory?: (dtype: DType) => Kernels<Buf> | null;
  /**
   * The caller does not need `data` back: when features and targets are flat typed arrays of the
   * run's dtype that the kernels can address (`Kernels.adopt`), the core normalizes and reorders
   * them in place and trains on them without a copy (the dataset is held once, not twice). The
   * arrays' contents are unspecified afterwards. Default false.
   */
  consumeData?: boolean;
}

/** A seeded pseudo-random generator; its whole state can be saved and restored. */
export interface Rng {
  /** Uniform on [0, 1). */
  next(): number;
  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number;
  /** Integer uniform on [0, n). */
  int(n: number): number;
  /** Standard normal N(0, 1). */
  normal(): number;
  /** Fisher–Yates shuffle in place. */
  shuffle(a: Uint32Array | Int32Array | number[]): void;
  /** A plain, structured-clone-able copy of the state. */
  state(): unknown;
  load(state: unknown): void;
}

/** An optimizer updates parameter tensors in place from their gradients. */
export interface Optimizer {
  readonly type: OptimizerType;
  /** The base learning rate from the spec (after defaults). */
  readonly learningRate: number;
  /** Steps taken so far (t in Adam's bias correction); the next step uses t = steps + 1. */
  readonly steps: number;
  /**
   * One update of every `params[i]` from `grads[i]` (same shapes, same dtype). `lr` overrides
   * the base learning rate for this step (schedules pass the decayed rate).
   */
  step(params: Buf[], grads: Buf[], lr?: number): void;
  /** Structured-clone-able state: slot tensors (copies) and the step count. */
  state(): unknown;
  load(state: unknown): void;
}

export interface ClipResult {
  /** Pre-clip global L2 norm over all tensors (NaN/Infinity when a gradient is non-finite). */
  globalNorm: number;
  /** Whether clipping changed any gradient in this step (the runs count these steps as `clippedSteps`). */
  clipped: boolean;
}
