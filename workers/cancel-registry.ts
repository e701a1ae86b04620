import type { RedisClient } from '../src/queue/connection.js';

/**
 * Turns cancel messages published on the cancel channel into AbortSignals, one per running job
 * in this process. One subscriber connection per key prefix.
 */
export class CancelRegistry {
  private readonly controllers = new Map<string, AbortController>();
  private ready: Promise<unknown>;

  constructor(
    private readonly subscriber: RedisClient,
    channel: string,
  ) {
    subscriber.on('message', (ch: string, jobId: string) => {
      if (ch === channel) this.controllers.get(jobId)?.abort(new Error('cancelled'));
    });
    this.ready = subscriber.subscribe(channel);
  }

  /** An AbortSignal for `jobId`; subscribed before it returns so no message is missed after. */
  async register(jobId: string): Promise<AbortController> {
    await this.ready;
    const c = new AbortController();
    this.controllers.set(jobId, c);
    return c;
  }

  release(jobId: string): void {
    this.controllers.delete(jobId);
  }

  async close(): Promise<void> {
    this.controllers.clear();
    this.subscriber.disconnect();
  }
}
