/**
 * The process supervisor behind `npm start`: keeps each child (API, workers) running, restarting
 * one that exits unexpectedly with backoff, never touching the survivors; stops all in order.
 */
import { spawn, type ChildProcess } from 'node:child_process';

/** Restart delays: `initialMs` doubling to `maxMs`; a child that stayed up `healthyAfterMs` starts over at `initialMs`. */
export interface BackoffOptions {
  /** First restart delay. Default 1000. */
  initialMs?: number;
  /** Longest restart delay. Default 30000. */
  maxMs?: number;
  /** Uptime after which a child counts as healthy and its next crash waits `initialMs` again. Default 60000. */
  healthyAfterMs?: number;
}

/** The delay before restarting a child that exited after `uptimeMs`, given its earlier crashes. */
export class RestartBackoff {
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly healthyAfterMs: number;
  private next: number;

  constructor(o: BackoffOptions = {}) {
    this.initialMs = o.initialMs ?? 1000;
    this.maxMs = o.maxMs ?? 30_000;
    this.healthyAfterMs = o.healthyAfterMs ?? 60_000;
    this.next = this.initialMs;
  }

  /** Delay for this crash; doubles the following one unless the child had been healthy. */
  delayAfter(uptimeMs: number): number {
    if (uptimeMs >= this.healthyAfterMs) this.next = this.initialMs;
    const d = this.next;
    this.next = Math.min(this.maxMs, this.next * 2);
    return d;
  }
}

/** How to start one supervised child. */
export interface ChildSpec {
  /** Name in logs, unique (`api`, `worker-1` …). */
  name: string;
  /** Executable and arguments. */
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Children stop in ascending order of this value (API before workers: no new jobs, then hand-backs). Default 0. */
  stopOrder?: number;
}

type Log = (fields: Record<string, unknown>, msg: string) => void;

interface Slot {
  spec: ChildSpec;
  proc: ChildProcess | null;
  startedAt: number;
  backoff: RestartBackoff;
  restartTimer: NodeJS.Timeout | null;
  restarts: number;
}

/**
 * Runs children and restarts the ones that die. `stop()` (for SIGINT/SIGTERM) sends SIGTERM in
 * `stopOrder` groups, each group waited for (SIGKILL after `killAfterMs`), and resolves when all are gone.
 */
export class Supervisor {
  private readonly slots = new Map<string, Slot>();
  private stopping = false;

  constructor(
    private readonly log: Log,
    private readonly backoff: BackoffOptions = {},
    private readonly killAfterMs = 15_000,
  ) {}

  /** Starts `spec` now and keeps it running until {@link stop}. */
  add(spec: ChildSpec): void {
    const slot: Slot = { spec, proc: null, startedAt: 0, backoff: new RestartBackoff(this.backoff), restartTimer: null, restarts: 0 };
    this.slots.set(spec.name, slot);
    this.launch(slot);
  }

  /** Pid of a running child, for logs and tests. */
  pid(name: string): number | undefined {
    return this.slots.get(name)?.proc?.pid;
  }

  private launch(slot: Slot): void {
    const { spec } = slot;
    const proc = spawn(spec.command, spec.args, { stdio: 'inherit', env: spec.env, cwd: spec.cwd });
    slot.proc = proc;
    slot.startedAt = Date.now();
    this.log({ child: spec.name, pid: proc.pid, restarts: slot.restarts }, `${spec.name} started (pid ${proc.pid})`);
    proc.once('error', (err) => this.log({ child: spec.name, err: err.message }, `${spec.name} could not be started`));
    proc.once('exit', (code, signal) => this.onExit(slot, proc, code, signal));
  }

  private onExit(slot: Slot, proc: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (slot.proc !== proc) return;
    slot.proc = null;
    if (this.stopping) return;
    const uptimeMs = Date.now() - slot.startedAt;
    const delayMs = slot.backoff.delayAfter(uptimeMs);
    slot.restarts++;
    this.log(
      { child: slot.spec.name, code, signal, uptimeMs, delayMs, restarts: slot.restarts },
      `${slot.spec.name} exited unexpectedly (code ${code}, signal ${signal}); restarting in ${delayMs} ms`,
    );
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = null;
      if (!this.stopping) this.launch(slot);
    }, delayMs);
  }

  /** Stops every child in `stopOrder` groups; no restart happens after this is called. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const s of this.slots.values()) if (s.restartTimer) clearTimeout(s.restartTimer);
    const orders = [...new Set([...this.slots.values()].map((s) => s.spec.stopOrder ?? 0))].sort((a, b) => a - b);
    for (const order of orders) {
      const group = [...this.slots.values()].filter((s) => (s.spec.stopOrder ?? 0) === order && s.proc);
      await Promise.all(group.map((s) => this.stopOne(s)));
    }
  }

  private stopOne(slot: Slot): Promise<void> {
    const proc = slot.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => proc.kill('SIGKILL'), this.killAfterMs);
      proc.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      proc.kill('SIGTERM');
    });
  }
}
