import { InvalidSpecError } from '../errors.js';

/** `value` (or `fallback` when absent) must be a finite number > 0. */
export function positive(path: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new InvalidSpecError(path, `${path} must be a finite number > 0, got ${String(v)}`);
  return v;
}

/** `value` (or `fallback`) must be finite and ≥ 0. */
export function nonNegative(path: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new InvalidSpecError(path, `${path} must be a finite number ≥ 0, got ${String(v)}`);
  return v;
}

/** An averaging coefficient: `value` (or `fallback`) in [0, 1). */
export function coefficient(path: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !(v >= 0 && v < 1)) throw new InvalidSpecError(path, `${path} must be in [0, 1), got ${String(v)}`);
  return v;
}

/** `value` (or `fallback`) must be a boolean. */
export function flag(path: string, value: boolean | undefined, fallback: boolean): boolean {
  const v = value ?? fallback;
  if (typeof v !== 'boolean') throw new InvalidSpecError(path, `${path} must be true or false, got ${String(v)}`);
  return v;
}
