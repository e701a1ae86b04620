import type { Kernels } from './kernels/types.js';
import type { Network } from './network.js';
import type { Buf } from './types.js';

/** What a checkpoint keeps of early stopping (`CoreCheckpointState.early`). */
export interface EarlyStoppingState {
  best: number;
  wait: number;
  bestEpoch: number;
  bestWeights?: Buf[];
}

/**
 * Early stopping (docs/core.md, "Early stopping"): after each epoch the monitored loss (the
 * validation loss when there is a split, else the training loss) is compared with the best so
 * far. Below `best − minDelta` it becomes the new best (with `restoreBest`, its weights are
 * copied into buffers allocated once); otherwise the wait grows, and at `patience` training
 * stops, with `restoreBest` after loading the best epoch's weights back. As in Keras 2, the best
 * weights are restored only when training stops early.
 */
export class EarlyStopping {
  best = Infinity;
  wait = 0;
  /** Epoch of `best`; −1 before the first epoch. */
  bestEpoch = -1;
  private readonly bestWeights: Buf[] | undefined;

  constructor(
    private readonly rule: { patience: number; minDelta: number; restoreBest: boolean },
    net: Network,
    kernels: Kernels<Buf>,
  ) {
    this.bestWeights = rule.restoreBest ? net.params.map((p) => kernels.alloc(p.length)) : undefined;
  }

  /** Takes epoch `epoch`'s monitored loss; true when training stops now (`net` then holds the best weights, with `restoreBest`). */
  afterEpoch(monitored: number, epoch: number, net: Network): boolean {
    if (monitored < this.best - this.rule.minDelta) {
      this.best = monitored;
      this.wait = 0;
      this.bestEpoch = epoch;
      if (this.bestWeights) net.copyParamsTo(this.bestWeights);
    } else if (++this.wait >= this.rule.patience) {
      if (this.bestWeights && this.bestEpoch >= 0) net.loadParams(this.bestWeights);
      return true;
    }
    return false;
  }

  /** Whether a stop loads the best epoch's weights (so the result reports that epoch). */
  get restoresBest(): boolean {
    return this.bestWeights !== undefined && this.bestEpoch >= 0;
  }

  state(): EarlyStoppingState {
    return { best: this.best, wait: this.wait, bestEpoch: this.bestEpoch, bestWeights: this.bestWeights?.map((t) => t.slice()) };
  }

  load(s: EarlyStoppingState): void {
    ({ best: this.best, wait: this.wait, bestEpoch: this.bestEpoch } = s);
    if (this.bestWeights && s.bestWeights) this.bestWeights.forEach((b, i) => b.set(s.bestWeights![i]));
  }
}
