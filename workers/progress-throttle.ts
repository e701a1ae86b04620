import type { Progress } from '../src/core/index.js';

/**
 * Decides which progress events reach the job's stream: at most one step event per `intervalMs`,
 * and epoch ends on a clock of their own, so frequent step events never starve the epoch events
 * (the only ones with the epoch's mean loss and validation metrics). The last epoch always goes.
 */
export class ProgressThrottle {
  private lastStep = -Infinity;
  private lastEpoch = -Infinity;

  constructor(private readonly intervalMs: number) {}

  /** Whether to send `p`, observed at time `now` (ms). */
  shouldSend(p: Pick<Progress, 'kind' | 'epoch' | 'epochs'>, now: number): boolean {
    if (p.kind === 'epoch') {
      if (now - this.lastEpoch < this.intervalMs && p.epoch !== p.epochs - 1) return false;
      this.lastEpoch = now;
      this.lastStep = now; // a step right after an epoch end would tell nothing new
      return true;
    }
    if (now - this.lastStep < this.intervalMs) return false;
    this.lastStep = now;
    return true;
  }
}
