import { randomBytes } from 'node:crypto';

/**
 * A new id that sorts by creation time (base-36 milliseconds, then random hex), so a sorted set
 * with equal scores lists newest first by `ZREVRANGEBYLEX` and the id itself is the cursor.
 */
export function newId(kind: 'ds' | 'job', now = Date.now()): string {
  return `${kind}_${now.toString(36).padStart(9, '0')}${randomBytes(5).toString('hex')}`;
}

/** Ids accepted in paths and cursors; anything else is simply not found. */
export const ID_PATTERN = /^(ds|job)_[0-9a-z]{9}[0-9a-f]{10}$/;
