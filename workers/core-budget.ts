import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The cores a training job may use for its big matrix products: the machine's cores divided by
 * the jobs that the trainer children of one worker process run right now (at most `max`). Each
 * child registers itself (a file named by its pid in a directory of the worker's) while it
 * trains; a running job asks again every few hundred ms, so it takes idle cores when it runs
 * alone and gives them back when another job starts. Files of dead children are ignored and
 * removed. Results do not depend on the count (the native kernels' split keeps every sum's order).
 */
export class CoreBudget {
  private readonly file: string;

  constructor(
    private readonly dir: string,
    private readonly cores = availableParallelism(),
    private readonly max = cores,
  ) {
    this.file = join(dir, String(process.pid));
  }

  /** The budget shared by the children of the worker process `workerPid` (default: this process's parent). */
  static forWorker(max?: number, workerPid = process.ppid): CoreBudget {
    const cores = availableParallelism();
    return new CoreBudget(join(tmpdir(), `tsnn-trainers-${workerPid}`), cores, max ?? cores);
  }

  /** This process trains a job from now on. */
  enter(): void {
    try {
      mkdirSync(this.dir, { recursive: true });
      writeFileSync(this.file, '');
    } catch {
      /* no budget directory: this job counts as alone */
    }
  }

  /** This process's job ended. */
  leave(): void {
    rmSync(this.file, { force: true });
  }

  /** Jobs running now under this worker (this one included when entered). */
  running(): number {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return 1;
    }
    let n = 0;
    for (const name of names) {
      const pid = Number(name);
      if (!Number.isInteger(pid) || pid <= 0) continue;
      if (pid !== process.pid && !alive(pid)) {
        rmSync(join(this.dir, name), { force: true });
        continue;
      }
      n++;
    }
    return Math.max(1, n);
  }

  /** Threads for this job now: ⌊cores / running jobs⌋, between 1 and `max`. */
  threads(): number {
    return Math.max(1, Math.min(this.max, Math.floor(this.cores / this.running())));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
