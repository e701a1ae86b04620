import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from './net.js';
import { waitFor } from './wait.js';

const root = resolve(import.meta.dirname, '..', '..');

/** The credentials s3rver accepts. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/**
 * A real S3-protocol server (s3rver, pure JS) on a free loopback port with its files in a temp
 * dir and one bucket. `stop()` / `start()` take it down and bring it back on the same port with
 * the same data (fault tests); `getObjectCount()` counts the GetObject requests it served.
 */
export class S3rver {
  readonly dir = mkdtempSync(join(tmpdir(), 'tsnn-s3rver-'));
  private child: ChildProcess | undefined;
  /** Everything the server printed (its request log) since this object was made. */
  log = '';
  private constructor(
    readonly port: number,
    readonly bucket: string,
  ) {}

  static async start(bucket = 'tsnn-test'): Promise<S3rver> {
    const s = new S3rver(await freePort(), bucket);
    await s.start();
    return s;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Environment that points the service (config + the SDK's default credential chain) at this server. */
  env(): Record<string, string> {
    return {
      BLOB_STORE: 's3',
      S3_BUCKET: this.bucket,
      S3_ENDPOINT: this.endpoint,
      S3_REGION: 'us-east-1',
      S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    };
  }

  /** Starts the server (again); nothing when it runs. */
  async start(): Promise<void> {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) return;
    if (this.child) this.dropTornObjects();
    const from = this.log.length;
    const bin = resolve(root, 'node_modules', 's3rver', 'bin', 's3rver.js');
    const child = spawn(process.execPath, [bin, '-d', this.dir, '-a', '127.0.0.1', '-p', String(this.port), '--configure-bucket', this.bucket], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout!.on('data', (c: Buffer) => (this.log += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (this.log += c.toString()));
    const listening = () => {
      if (child.exitCode !== null) throw new Error(`s3rver exited: ${this.log}`);
      return this.log.slice(from).includes(`listening on 127.0.0.1:${this.port}`);
    };
    await waitFor(`s3rver to listen on port ${this.port}`, listening, { timeoutMs: 15_000, context: () => this.log });
  }

  /**
   * After a kill: removes the objects whose metadata file s3rver was writing when it died (torn
   * JSON). s3rver then answers every ListObjects of their prefix with 500, forever; S3 itself never
   * shows a PUT that did not complete (its client got an error, not a 200), so neither does this.
   */
  private dropTornObjects(): void {
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.name.endsWith('._S3rver_metadata.json')) {
          try {
            JSON.parse(readFileSync(p, 'utf8'));
          } catch {
            const base = p.slice(0, -'metadata.json'.length);
            for (const f of [p, `${base}object`, `${base}object.md5`]) rmSync(f, { force: true });
          }
        }
      }
    };
    walk(this.dir);
  }

  /** Kills the server at once (connections in flight are cut). */
  async stop(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGKILL');
    await gone;
  }

  /** GetObject requests served since start (from its request log). */
  getObjectCount(): number {
    return (this.log.match(/x-id=GetObject/g) ?? []).length;
  }

  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
