import { randomFillSync } from 'node:crypto';

let lastMs = 0;
let seq = 0;

// Random bytes drawn 4 KiB at a time: one getrandom call per 1,024 ids instead of one per id.
const pool = Buffer.alloc(4096);
let poolAt = pool.length;
function randomHex4(): string {
  if (poolAt + 4 > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  poolAt += 4;
  return pool.toString('hex', poolAt - 4, poolAt);
}

/**
 * A new id that sorts by creation time (base-36 milliseconds, a per-process sequence within the
 * millisecond, then random hex), so a sorted set with equal scores lists newest first by
 * `ZREVRANGEBYLEX` and the id itself is the cursor. Ids made by different processes in the same
 * millisecond sort in random order.
 */
export function newId(kind: 'ds' | 'job' | 'whk' | 'msg' | 'sw', now = Date.now()): string {
  if (now > lastMs) {
    lastMs = now;
    seq = 0;
  } else seq++;
  return `${kind}_${lastMs.toString(36).padStart(9, '0')}${seq.toString(36).padStart(3, '0')}${randomHex4()}`;
}

/** Ids accepted in paths and cursors; anything else is simply not found. */
export const ID_PATTERN = /^(ds|job|sw)_[0-9a-z]{12}[0-9a-f]{8}$/;
