import { activate, backpropActivation } from './activations.js';
import type { Kernels } from './kernels/types.js';
import { lossAndGradient } from './losses.js';
import type { Activation, Buf, LossName } from './types.js';

/** One dense layer's shape. */
export interface DenseLayer {
  units: number;
  activation: Activation;
}

/**
 * A stack of dense layers with every buffer of a forward/backward pass allocated once, for
 * batches of at most `maxBatch` rows. Layout: W is fanIn×units row-major and Z = X·W + b, so
 * dW = Xᵀ·dZ (gemmTN) and dX = dZ·Wᵀ (gemmNT). Row-major batches mean a smaller batch simply
 * uses the first rows of each buffer.
 */
export class Network {
  /** Layer widths: `sizes[0]` is the input width, `sizes[l + 1]` the units of layer l. */
  readonly sizes: number[];
  readonly activations: Activation[];
  readonly W: Buf[] = [];
  readonly b: Buf[] = [];
  readonly dW: Buf[] = [];
  readonly db: Buf[] = [];
  /** Pre-activations, activations and deltas (dL/dZ) per layer, maxBatch×units each. */
  readonly Z: Buf[] = [];
  readonly A: Buf[] = [];
  readonly D: Buf[] = [];
  /** The input batch (maxBatch×inputSize) and target batch (maxBatch×targetWidth). */
  readonly X: Buf;
  readonly T: Buf;
  /** [W0, b0, W1, b1, …] and the matching gradients: what the optimizer and clipping see. */
  readonly params: Buf[] = [];
  readonly grads: Buf[] = [];

  constructor(
    readonly kernels: Kernels<Buf>,
    inputSize: number,
    layers: DenseLayer[],
    readonly maxBatch: number,
    readonly targetWidth: number,
  ) {
    this.sizes = [inputSize, ...layers.map((l) => l.units)];
    this.activations = layers.map((l) => l.activation);
    this.X = kernels.alloc(maxBatch * inputSize);
    this.T = kernels.alloc(maxBatch * targetWidth);
    for (let l = 0; l < layers.length; l++) {
      const fanIn = this.sizes[l], units = this.sizes[l + 1];
      this.W.push(kernels.alloc(fanIn * units));
      this.b.push(kernels.alloc(units));
      this.dW.push(kernels.alloc(fanIn * units));
      this.db.push(kernels.alloc(units));
      this.Z.push(kernels.alloc(maxBatch * units));
      this.A.push(kernels.alloc(maxBatch * units));
      this.D.push(kernels.alloc(maxBatch * units));
      this.params.push(this.W[l], this.b[l]);
      this.grads.push(this.dW[l], this.db[l]);
    }
  }

  get layerCount(): number {
    return this.W.length;
  }

  get outputSize(): number {
    return this.sizes[this.sizes.length - 1];
  }

  /** Output activations of the last forward pass. */
  get output(): Buf {
    return this.A[this.A.length - 1];
  }

  /** Total number of trainable parameters. */
  get paramCount(): number {
    let n = 0;
    for (const p of this.params) n += p.length;
    return n;
  }

  /** Forward pass over the first `m` rows of `X`. */
  forward(m: number): void {
    const k = this.kernels;
    let input = this.X;
    for (let l = 0; l < this.W.length; l++) {
      const fanIn = this.sizes[l], units = this.sizes[l + 1];
      const Z = this.Z[l], b = this.b[l];
      k.gemmNN(m, units, fanIn, input, this.W[l], Z, false);
      // A backend's fused bias+activation when it has one for this activation, else ours.
      if (k.biasActivation === undefined || !k.biasActivation(this.activations[l], m, units, Z, b, this.A[l])) {
        for (let r = 0; r < m; r++) {
          const o = r * units;
          for (let j = 0; j < units; j++) Z[o + j] += b[j];
        }
        activate(this.activations[l], Z, this.A[l], m, units);
      }
      input = this.A[l];
    }
  }

  /**
   * Loss of the last forward pass over `m` rows (sum of row losses; divide by m for the batch
   * mean) against the first m rows of `T`. With `withGradient`, also writes dL/dZ of the output
   * layer into its delta buffer, ready for `backward`.
   */
  loss(loss: LossName, m: number, withGradient: boolean): number {
    const L = this.W.length - 1;
    return lossAndGradient(
      loss,
      this.activations[L],
      this.Z[L],
      this.A[L],
      this.T,
      m,
      this.sizes[L + 1],
      withGradient ? this.D[L] : null,
    );
  }

  /** Back-propagates the output delta (from `loss(…, true)`) into dW and db of every layer. */
  backward(m: number): void {
    const k = this.kernels;
    for (let l = this.W.length - 1; l >= 0; l--) {
      const fanIn = this.sizes[l], units = this.sizes[l + 1];
      const D = this.D[l], db = this.db[l];
      const input = l === 0 ? this.X : this.A[l - 1];
      k.gemmTN(fanIn, units, m, input, D, this.dW[l], false);
      if (k.columnSums !== undefined) k.columnSums(m, units, D, db);
      else {
        db.fill(0);
        for (let r = 0; r < m; r++) {
          const o = r * units;
          for (let j = 0; j < units; j++) db[j] += D[o + j];
        }
      }
      if (l > 0) {
        const act = this.activations[l - 1], Zp = this.Z[l - 1], Ap = this.A[l - 1], Dp = this.D[l - 1];
        k.gemmNT(m, fanIn, units, D, this.W[l], Dp, false);
        if (k.activationBackward === undefined || !k.activationBackward(act, m * fanIn, Zp, Ap, Dp)) backpropActivation(act, Zp, Ap, Dp, m, fanIn);
      }
    }
  }

  /** Copies every parameter into `into` (same shapes), e.g. to keep the best weights. */
  copyParamsTo(into: Buf[]): void {
    for (let i = 0; i < this.params.length; i++) into[i].set(this.params[i]);
  }

  /** Loads every parameter from `from` (same shapes). */
  loadParams(from: ArrayLike<number>[]): void {
    for (let i = 0; i < this.params.length; i++) this.params[i].set(from[i]);
  }
}
