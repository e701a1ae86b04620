import { clipGradients } from './clip.js';
import type { Kernels } from './kernels/types.js';
import { countCorrect } from './losses.js';
import type { Network } from './network.js';
import type { Ewma } from './ewma.js';
import type { Buf, ClipResult, ClipSpec, LossName, Optimizer, Task } from './types.js';

/** Slots of {@link TrainStep.sums}: the running sums of the current epoch. */
export const LOSS_SUM = 0, SAMPLES = 1, CORRECT = 2, GRAD_NORM_SUM = 3, LAST_GRAD_NORM = 4;

/** What {@link TrainStep.run} returns: a step result, or what went non-finite. */
export const STEP_OK = 0, STEP_CLIPPED = 1, STEP_BAD_LOSS = -1, STEP_BAD_GRADIENT = -2, STEP_BAD_WEIGHTS = -3;

/**
 * One optimizer step on one mini-batch, kept out of the async training loop and free of
 * allocation: results go to typed arrays (a double returned or held across an `await` would be
 * boxed by the engine on every step).
 */
export class TrainStep {
  /** Running sums of the epoch (see the slot constants); float64. */
  readonly sums = new Float64Array(5);
  /** Pre-clip gradient L2 norm per layer (weights and bias together) of the last step. */
  readonly layerNorms: Float64Array;
  private readonly clipOut: ClipResult = { globalNorm: 0, clipped: false };

  constructor(
    private readonly net: Network,
    private readonly kernels: Kernels<Buf>,
    /** All rows of the dataset (features, targets), training rows first. */
    private readonly X: Buf,
    private readonly T: Buf,
    /** The epoch's shuffled order of training rows. */
    private readonly perm: Uint32Array,
    private readonly loss: LossName,
    private readonly task: Task,
    private readonly clip: ClipSpec | undefined,
    private readonly optimizer: Optimizer,
    private readonly ewma: Ewma,
  ) {
    this.layerNorms = new Float64Array(net.layerCount);
  }

  /** Trains on rows perm[from … from+m) at learning rate `lr`. */
  run(from: number, m: number, lr: number): number {
    const { net, kernels, X, T, perm } = this;
    const F = net.sizes[0], TW = net.targetWidth;
    const nx = net.X, nt = net.T;
    if (kernels.gatherRows === undefined || !kernels.gatherRows(m, F, X, perm, from, nx) || !kernels.gatherRows(m, TW, T, perm, from, nt)) {
      for (let r = 0; r < m; r++) {
        const src = perm[from + r];
        const xo = src * F, xd = r * F;
        for (let j = 0; j < F; j++) nx[xd + j] = X[xo + j];
        const to = src * TW, td = r * TW;
        for (let j = 0; j < TW; j++) nt[td + j] = T[to + j];
      }
    }
    net.forward(m);
    const batchLoss = net.loss(this.loss, m, true) / m;
    if (!Number.isFinite(batchLoss)) return STEP_BAD_LOSS;
    const sums = this.sums;
    if (this.task !== 'regression') sums[CORRECT] += countCorrect(this.task, net.output, nt, m, net.outputSize);
    net.backward(m);

    let total = 0;
    for (let l = 0; l < net.layerCount; l++) {
      const ss = sumSquares(kernels, net.dW[l]) + sumSquares(kernels, net.db[l]);
      this.layerNorms[l] = Math.sqrt(ss);
      total += ss;
    }
    const gradNorm = Math.sqrt(total);
    sums[LAST_GRAD_NORM] = gradNorm;
    if (!Number.isFinite(gradNorm)) return STEP_BAD_GRADIENT;
    const clipped = this.clip !== undefined && clipGradients(net.grads, this.clip, this.clipOut).clipped;
    this.optimizer.step(net.params, net.grads, lr);
    if (!allFinite(kernels, net.params)) return STEP_BAD_WEIGHTS;

    this.ewma.push(batchLoss);
    sums[LOSS_SUM] += batchLoss * m;
    sums[SAMPLES] += m;
    sums[GRAD_NORM_SUM] += gradNorm;
    return clipped ? STEP_CLIPPED : STEP_OK;
  }
}

function sumSquares(kernels: Kernels<Buf>, a: Buf): number {
  if (kernels.sumSquares !== undefined) return kernels.sumSquares(a);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return s;
}

/** Cheap finiteness test: a sum of finite numbers can only be non-finite by overflow, which is divergence too. */
export function allFinite(kernels: Kernels<Buf>, tensors: Buf[]): boolean {
  let s = 0;
  for (let k = 0; k < tensors.length; k++) {
    const t = tensors[k];
    if (kernels.sum !== undefined) s += kernels.sum(t);
    else for (let i = 0; i < t.length; i++) s += t[i];
  }
  return Number.isFinite(s);
}
