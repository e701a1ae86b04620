/**
 * A one-line progress bar for a training job: epoch, bar, loss, val loss, ETA.
 * Redraws in place on a TTY; on a pipe it prints one line per epoch event instead (the caller
 * fills in epochs the server's throttle skipped, see {@link historyLine}).
 */
import type { EpochMetrics } from '../core/types.js';
import type { ProgressEvent } from './types.js';

export interface ProgressBarOptions {
  /** Where to draw. Default process.stderr (stdout stays clean for `--json`). */
  stream?: NodeJS.WriteStream;
  /** Bar width in characters. Default 24. */
  width?: number;
  /** Clock, for tests. Default Date.now. */
  now?: () => number;
}

/** `m:ss` or `h:mm:ss`; `--:--` when unknown. */
export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) return '--:--';
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** Four significant digits, exponent form for tiny or huge values. */
export function formatNumber(x: number | null | undefined): string {
  if (x === undefined || x === null) return '-';
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? x.toExponential(3) : x.toPrecision(4);
}

/**
 * ETA at constant speed: `elapsedMs` took the job from fraction `from` to `to` of all steps,
 * so the rest takes elapsed · (1 − to) / (to − from). Undefined until some progress was seen.
 */
export function estimateEta(elapsedMs: number, from: number, to: number): number | undefined {
  if (!(to > from) || elapsedMs <= 0) return undefined;
  return (elapsedMs * (1 - Math.min(to, 1))) / (to - from);
}

/** The pipe line of a finished epoch from the job's history (`/metrics`): no bar, no ETA. */
export function historyLine(m: EpochMetrics, epochs: number | undefined): string {
  const val = m.valLoss !== undefined ? ` val ${formatNumber(m.valLoss)}` : '';
  const acc = m.accuracy !== undefined ? ` acc ${(m.accuracy * 100).toFixed(1)}%` : '';
  return `epoch ${m.epoch + 1}/${epochs ?? '?'} loss ${formatNumber(m.loss)}${val}${acc}`;
}

export class ProgressBar {
  private readonly stream: NodeJS.WriteStream;
  private readonly width: number;
  private readonly now: () => number;
  private start: number | undefined;
  private startFraction = 0;
  /** Epochs (0-based) printed as lines on a pipe. */
  readonly loggedEpochs = new Set<number>();
  /** Total epochs, from the last event seen. */
  epochs: number | undefined;
  private drawn = false;

  constructor(opts: ProgressBarOptions = {}) {
    this.stream = opts.stream ?? process.stderr;
    this.width = opts.width ?? 24;
    this.now = opts.now ?? Date.now;
  }

  /** Fraction of all steps done after this event (epochs are 0-based, steps 1-based). */
  static fraction(p: ProgressEvent): number {
    const epochs = p.epochs ?? 0;
    if (!epochs) return 0;
    const spe = p.stepsPerEpoch ?? 0;
    const within = spe ? (p.step ?? 0) / spe : p.kind === 'epoch' ? 1 : 0;
    return Math.min(1, (p.epoch + within) / epochs);
  }

  /** The text of the line for a progress event (no control characters). */
  line(p: ProgressEvent): string {
    const f = ProgressBar.fraction(p);
    const t = this.now();
    // measure speed from the first event seen, so a resumed watch doesn't count old epochs as instant
    if (this.start === undefined) {
      this.start = t;
      this.startFraction = f;
    }
    const eta = estimateEta(t - this.start, this.startFraction, f);
    const filled = Math.round(f * this.width);
    const bar = '█'.repeat(filled) + '░'.repeat(this.width - filled);
    const epochs = p.epochs ?? '?';
    const at = `epoch ${Math.min(p.epoch + 1, Number(epochs) || p.epoch + 1)}/${epochs}`;
    const tail = `ETA ${formatDuration(f >= 1 ? 0 : eta)}`;
    // within an epoch the epoch-mean-so-far is noisy (one batch in, it is one batch's loss): show the smoothed loss
    if (p.kind === 'step' && p.stepsPerEpoch && (p.step ?? 0) < p.stepsPerEpoch) {
      const sm = p.smoothedLoss !== undefined ? ` smoothed loss ${formatNumber(p.smoothedLoss)}` : '';
      return `${at} step ${p.step}/${p.stepsPerEpoch} ${bar} ${(f * 100).toFixed(0).padStart(3)}%${sm} ${tail}`;
    }
    const val = p.valLoss !== undefined && p.valLoss !== null ? ` val ${formatNumber(p.valLoss)}` : '';
    const acc = p.accuracy !== undefined && p.accuracy !== null ? ` acc ${(p.accuracy * 100).toFixed(1)}%` : '';
    return `${at} ${bar} ${(f * 100).toFixed(0).padStart(3)}% loss ${formatNumber(p.loss)}${val}${acc} ${tail}`;
  }

  /** Draw one progress event. */
  update(p: ProgressEvent): void {
    if (p.epochs) this.epochs = p.epochs;
    const text = this.line(p);
    if (this.stream.isTTY) {
      const cols = this.stream.columns || 120;
      this.stream.write(`\r\x1b[2K${text.slice(0, cols - 1)}`);
      this.drawn = true;
    } else if (p.kind === 'epoch' || (p.stepsPerEpoch && p.step === p.stepsPerEpoch)) {
      if (!this.loggedEpochs.has(p.epoch)) this.stream.write(text + '\n');
      this.loggedEpochs.add(p.epoch);
    }
  }

  /** Leave the bar's line (before printing anything else). */
  done(): void {
    if (this.drawn) this.stream.write('\n');
    this.drawn = false;
  }

  /** Print a message on its own line without losing the bar. */
  note(msg: string): void {
    if (this.drawn) this.stream.write('\r\x1b[2K');
    this.stream.write(msg + '\n');
    this.drawn = false;
  }
}

/** `12.3 MiB` (binary units; KiB below 1 MiB, GiB from 1 GiB). */
export function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  return `${(n / 1024).toFixed(1)} KiB`;
}

/**
 * A byte progress bar for an upload: bytes sent, bar, rate, ETA. Redraws in place on a TTY (at
 * most every 100 ms); on a pipe it prints a line per 25 % instead.
 */
export class ByteProgressBar {
  private readonly stream: NodeJS.WriteStream;
  private readonly width: number;
  private readonly now: () => number;
  private readonly start: number;
  private lastDraw = -Infinity;
  private lastQuarter = -1;
  private drawn = false;

  constructor(
    private readonly total: number,
    opts: ProgressBarOptions = {},
  ) {
    this.stream = opts.stream ?? process.stderr;
    this.width = opts.width ?? 24;
    this.now = opts.now ?? Date.now;
    this.start = this.now();
  }

  /** Bytes per second since the start. */
  rate(sent: number): number {
    const s = (this.now() - this.start) / 1000;
    return s > 0 ? sent / s : 0;
  }

  /** The line for `sent` bytes (no control characters). */
  line(sent: number): string {
    const f = this.total > 0 ? Math.min(1, sent / this.total) : 0;
    const filled = Math.round(f * this.width);
    const rate = this.rate(sent);
    const eta = rate > 0 ? ((this.total - sent) / rate) * 1000 : undefined;
    return `uploading ${formatBytes(sent)}/${formatBytes(this.total)} ${'█'.repeat(filled)}${'░'.repeat(this.width - filled)} ${(f * 100).toFixed(0).padStart(3)}% ${formatBytes(rate)}/s ETA ${formatDuration(f >= 1 ? 0 : eta)}`;
  }

  update(sent: number): void {
    const t = this.now();
    if (this.stream.isTTY) {
      if (t - this.lastDraw < 100 && sent < this.total) return;
      this.lastDraw = t;
      const cols = this.stream.columns || 120;
      this.stream.write(`\r\x1b[2K${this.line(sent).slice(0, cols - 1)}`);
      this.drawn = true;
    } else {
      const quarter = this.total > 0 ? Math.floor((4 * sent) / this.total) : 0;
      if (quarter > this.lastQuarter) {
        this.lastQuarter = quarter;
        this.stream.write(this.line(sent) + '\n');
      }
    }
  }

  /** Leave the bar's line. */
  done(): void {
    if (this.drawn) this.stream.write('\n');
    this.drawn = false;
  }
}
