import { InvalidSpecError } from './errors.js';
import { positiveField, readField, type Fields } from './spec-fields.js';
import type { Buf, ClipResult, ClipSpec, ClipType } from './types.js';
import { CLIP_TYPES } from './types.js';

/**
 * The threshold of each clip type, declared once (required: no default): the core checks it
 * here; the API's schema, the OpenAPI document, `GET /v1/spec/options`, the CLI's `--clip
 * type:threshold` and the dashboard form are built from this table.
 */
export const CLIP_FIELDS = {
  value: { value: positiveField(undefined, 'value: every gradient element is clipped to [−value, value] (clipByValue)') },
  norm: { maxNorm: positiveField(undefined, 'norm: each tensor g ← g·maxNorm / max(‖g‖₂, maxNorm) (clipByNorm)') },
  global_norm: { maxNorm: positiveField(undefined, 'global_norm: every g ← g·maxNorm / max(G, maxNorm), G the norm of all gradients together (clipByGlobalNorm)') },
} as const satisfies Record<ClipType, Fields>;

/** The one parameter of clip type `type` (its threshold): `value` or `maxNorm`. */
export function clipThresholdName(type: ClipType): 'value' | 'maxNorm' {
  return Object.keys(CLIP_FIELDS[type])[0] as 'value' | 'maxNorm';
}

/** Σ x² in float64; Infinity on overflow or an infinite element, NaN on a NaN element. */
function sumOfSquares(buf: Buf): number {
  let s = 0;
  for (let i = 0; i < buf.length; i++) {
    const x = buf[i];
    s += x * x;
  }
  return s;
}

/** ‖buf‖₂ rescaled by the largest magnitude: only used when Σ x² overflowed. */
function scaledNorm(buf: Buf): number {
  let max = 0;
  for (let i = 0; i < buf.length; i++) {
    const a = Math.abs(buf[i]);
    if (a > max || a !== a) max = a;
  }
  if (max === 0 || !Number.isFinite(max)) return max;
  let s = 0;
  for (let i = 0; i < buf.length; i++) {
    const y = buf[i] / max;
    s += y * y;
  }
  return max * Math.sqrt(s);
}

/** L2 norm of one tensor, in float64 (finite float64 values beyond 1e154 don't overflow). */
export function l2Norm(buf: Buf): number {
  const s = sumOfSquares(buf);
  return s === Infinity ? scaledNorm(buf) : Math.sqrt(s);
}

/**
 * Writes `‖grads[i]‖₂` into `out[i]` (no allocation) and returns the global norm
 * `sqrt(Σ ‖g_i‖²)`. NaN if any element is NaN, Infinity if one is infinite.
 */
export function tensorNorms(grads: Buf[], out: Float64Array): number {
  if (out.length < grads.length) throw new RangeError(`tensorNorms: out has ${out.length} slots for ${grads.length} tensors`);
  let total = 0;
  for (let i = 0; i < grads.length; i++) {
    const s = sumOfSquares(grads[i]);
    out[i] = Math.sqrt(s);
    total += s;
  }
  if (total !== Infinity) return Math.sqrt(total);
  // overflow (or a true infinity): redo with scaling
  let max = 0;
  for (let i = 0; i < grads.length; i++) {
    out[i] = scaledNorm(grads[i]);
    if (out[i] > max || out[i] !== out[i]) max = out[i];
  }
  if (!Number.isFinite(max)) return max;
  let s = 0;
  for (let i = 0; i < grads.length; i++) s += (out[i] / max) ** 2;
  return max * Math.sqrt(s);
}

/** Global L2 norm over all tensors, `sqrt(Σ_i ‖g_i‖²)`, in float64. */
export function globalNorm(grads: Buf[]): number {
  let total = 0;
  for (let i = 0; i < grads.length; i++) total += sumOfSquares(grads[i]);
  if (total !== Infinity) return Math.sqrt(total);
  let max = 0;
  let s = 0;
  // overflow path: combine per-tensor norms with running rescaling (like LAPACK's dnrm2)
  for (let i = 0; i < grads.length; i++) {
    const n = scaledNorm(grads[i]);
    if (!Number.isFinite(n)) return n;
    if (n > max) {
      s = s * (max / n) ** 2 + 1;
      max = n;
    } else if (n > 0) {
      s += (n / max) ** 2;
    }
  }
  return max * Math.sqrt(s);
}

/** Checks a clip spec's parameters against {@link CLIP_FIELDS}. @throws InvalidSpecError (`clip.type`, `clip.value`, `clip.maxNorm`). */
export function validateClip(clip: ClipSpec): void {
  if (!CLIP_TYPES.includes(clip.type)) throw new InvalidSpecError('clip.type', `clip.type must be one of ${CLIP_TYPES.join(', ')}, got ${String((clip as ClipSpec).type)}`);
  const fields: Fields = CLIP_FIELDS[clip.type];
  for (const [name, f] of Object.entries(fields)) readField(`clip.${name}`, f, (clip as Record<string, unknown>)[name]);
}

function scale(buf: Buf, factor: number): void {
  for (let i = 0; i < buf.length; i++) buf[i] = buf[i] * factor;
}

/**
 * Clips gradients in place, after back-propagation and before the optimizer, with TensorFlow's
 * semantics:
 * - `value`: every element to [−c, c] (`tf.clip_by_value`), c = `clip.value`
 * - `norm`: each tensor `g ← g·c / max(‖g‖₂, c)` (`tf.clip_by_norm`), c = `clip.maxNorm`
 * - `global_norm`: `G = sqrt(Σ‖g_i‖²)`, every `g_i ← g_i·c / max(G, c)` (`tf.clip_by_global_norm`),
 *   which keeps the direction of the whole update
 *
 * Always returns the pre-clip global norm (float64), also with no `clip`, and whether clipping
 * changed anything. A non-finite gradient (global norm NaN or Infinity) is left untouched
 * whatever the clip type: TF's clip_by_global_norm would turn every gradient into NaN, and
 * clipping an Inf to ±c would hide it; the caller sees the non-finite norm and stops training
 * as diverged instead of stepping with a corrupted gradient.
 *
 * @param out - optional result object to fill and return (avoids an allocation per step).
 */
export function clipGradients(grads: Buf[], clip: ClipSpec | undefined, out: ClipResult = { globalNorm: 0, clipped: false }): ClipResult {
  if (clip !== undefined) validateClip(clip);
  const G = globalNorm(grads);
  out.globalNorm = G;
  out.clipped = false;
  if (clip === undefined || !Number.isFinite(G)) return out;
  const c = clip[clipThresholdName(clip.type)]!;
  out.clipped = clip.type === 'value' ? clipByValue(grads, c) : clip.type === 'norm' ? clipByNorm(grads, c) : clipByGlobalNorm(grads, c, G);
  return out;
}

/** Clipping by value (`tf.clip_by_value`): every element to [−c, c], in place. Returns whether any element changed. */
export function clipByValue(grads: Buf[], c: number): boolean {
  let clipped = false;
  for (let i = 0; i < grads.length; i++) {
    const g = grads[i];
    for (let j = 0; j < g.length; j++) {
      const x = g[j];
      if (x > c) {
        g[j] = c;
        clipped = true;
      } else if (x < -c) {
        g[j] = -c;
        clipped = true;
      }
    }
  }
  return clipped;
}

/** Clipping by norm, per tensor (`tf.clip_by_norm`): `g ← g·c / max(‖g‖₂, c)`, in place. Returns whether any tensor changed. */
export function clipByNorm(grads: Buf[], c: number): boolean {
  let clipped = false;
  for (let i = 0; i < grads.length; i++) {
    const n = l2Norm(grads[i]);
    if (n > c) {
      scale(grads[i], c / n);
      clipped = true;
    }
  }
  return clipped;
}

/**
 * Clipping by global norm (`tf.clip_by_global_norm`): `G = sqrt(Σ‖g_i‖²)`, every `g_i ← g_i·c / max(G, c)`,
 * in place; keeps the direction of the whole update. `G` may be passed when already computed.
 * Returns whether the gradients changed.
 */
export function clipByGlobalNorm(grads: Buf[], c: number, G: number = globalNorm(grads)): boolean {
  if (!(G > c)) return false;
  const factor = c / G;
  for (let i = 0; i < grads.length; i++) scale(grads[i], factor);
  return true;
}
