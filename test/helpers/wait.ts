/*
 * Waiting in tests. Every wait has a deadline and says, when it runs out, what it waited for and
 * what it saw last, so a stalled job fails the test with a message instead of hanging until
 * vitest's timeout. A fixed sleep is never a readiness check: wait for the condition instead.
 */

/** Options of {@link waitFor} and {@link waitForState}. */
export interface WaitOptions {
  /** Deadline (default 30 s). */
  timeoutMs?: number;
  /** Pause between two probes (default 50 ms). */
  intervalMs?: number;
  /** Extra context for the failure message (worker output, a job record…), read once when the wait fails. */
  context?: () => unknown;
  /** Treat a throwing probe as "not yet" (a server that is not listening yet) and report its last error. */
  retryErrors?: boolean;
}

/**
 * Sleeps `ms`. Only for a wait that is itself the point of the test ("nothing happens within N ms",
 * "a few more retries while the store is down") or to pace a loop; say so where it is used. Never
 * as a readiness check: use {@link waitFor}.
 */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const show = (v: unknown): string => {
  if (v instanceof Error) return `${v.name}: ${v.message}`;
  if (typeof v === 'string') return v.length > 2000 ? `…${v.slice(-2000)}` : v;
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 2000 ? `${s.slice(0, 2000)}…` : s;
};

/** Thrown by a wait that ran out of time. */
export class WaitTimeout extends Error {
  constructor(what: string, timeoutMs: number, last: unknown, context?: () => unknown) {
    let extra = '';
    if (context) {
      try {
        extra = `\n${show(context())}`;
      } catch (e) {
        extra = `\n(context failed: ${show(e)})`;
      }
    }
    super(`timed out after ${timeoutMs} ms waiting for ${what}; last observed: ${show(last)}${extra}`);
    this.name = 'WaitTimeout';
  }
}

/**
 * Polls `read` until `done(state)` holds and returns that state. When the deadline passes it throws
 * a {@link WaitTimeout} naming `what` and the last state read.
 */
export async function waitForState<S>(what: string, read: () => S | Promise<S>, done: (state: S) => boolean, opts: WaitOptions = {}): Promise<S> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const end = Date.now() + timeoutMs;
  let last: unknown = '(nothing read yet)';
  for (;;) {
    try {
      const state = await read();
      if (done(state)) return state;
      last = state;
    } catch (e) {
      if (!opts.retryErrors) throw e;
      last = e;
    }
    if (Date.now() > end) throw new WaitTimeout(what, timeoutMs, last, opts.context);
    await sleep(opts.intervalMs ?? 50);
  }
}

/**
 * Polls `probe` until it returns something truthy and returns that. When the deadline passes it
 * throws a {@link WaitTimeout} naming `what` and the last value `probe` returned (use
 * {@link waitForState} when the state to show is not what the probe returns, or `context`).
 */
export async function waitFor<T>(what: string, probe: () => T | undefined | null | false | Promise<T | undefined | null | false>, opts: WaitOptions = {}): Promise<T> {
  return (await waitForState(what, probe, (v) => Boolean(v), opts)) as T;
}

/** `p`, or a {@link WaitTimeout} naming `what` (and `context()`) when it has not settled within `timeoutMs`. */
export function withDeadline<T>(what: string, p: Promise<T>, timeoutMs: number, context?: () => unknown): Promise<T> {
  let timer: NodeJS.Timeout;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new WaitTimeout(what, timeoutMs, '(the promise had not settled)', context)), timeoutMs);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}
